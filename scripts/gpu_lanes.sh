#!/bin/bash
# One lent-GPU call: anime GANs + inverses (issue 7), anime autoencoders, MNIST codebook
# fine-tuning with warped copies (issues 4/9). Lanes run side by side: a step of these small
# networks is bound by Python's per-op overhead, so one GPU serves several processes.
# Historical (run 2026-11-26, when the repository was small enough to carry the faces in one
# call; it no longer is: see scripts/gpu_anime.sh for the anime flow in parts).
# Prepare .gpu/ with scripts/pack_for_device.py, carry it, and run from the repository root:
#   COMMIT=$(git rev-parse HEAD) bash scripts/gpu_lanes.sh     (writes split tars into $OUT)
# The results of the run of 2026-11-26 are in docs/training.md; the machine lacked the
# `cryptography` package (only the keyed PRF needs it): scripts/gpu_setup.sh stubs it.
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  GX="--max-steps 4 --limit 512" INV="--steps 4 --holdout 100" FT="--rounds 1 --limit 256 --eval-images 64" FTM=mnist-5101 AE="ae7"
else
  GX="" INV="--steps 3000" FT="--rounds 5 --eval-images 10000" FTM=mnist-524287 AE="anime-ae7 anime-ae14 anime-ae28"
fi
source scripts/gpu_setup.sh
case " $HAVE " in *" mnist "*) ;; *) echo "no MNIST: carry .gpu (pack_for_device.py)" >&2; exit 1 ;; esac
gan() {  # name, GAN seconds, then train-gan flags
  local n=$1 t=$2; shift 2
  timeout -s TERM $t $S train-gan --dataset anime-faces --data-root $D --device $DEV --out $R/$n \
    --no-progress --no-tensorboard --log-every 1000 $GX "$@" > $L/$n.log 2>&1
  echo "train-gan exit $? at $(( $(date +%s) - T0 )) s" >> $L/$n.log
  timeout 75 $S train-inverse --model $R/$n $INV --batch-size 256 --width 32 \
    --device $DEV --data-root $D --no-progress >> $L/$n.log 2>&1
  echo "train-inverse exit $? at $(( $(date +%s) - T0 )) s" >> $L/$n.log
  rm -f $R/$n/checkpoint.safetensors
}
PIDS=()
gan anime-5101 225 --prf lcg-5101 --schedule 2steps --width 32 --batch-size 128 --epochs 40 & PIDS+=($!)
gan anime-29282 225 --prf lcg-29282 --schedule 2steps --width 32 --batch-size 128 --epochs 40 & PIDS+=($!)
gan anime-uniform 225 --prf lcg-524287 --schedule uniform --width 32 --batch-size 128 --epochs 80 & PIDS+=($!)
gan anime-524287-w64 225 --prf lcg-524287 --schedule 2steps --width 64 --batch-size 256 --epochs 100 & PIDS+=($!)
( timeout 240 $S train-baseline $AE --device $DEV --force -v \
    --data-root $D --cache-dir $R/baselines > $L/baselines.log 2>&1
  echo "baselines exit $? at $(( $(date +%s) - T0 )) s" >> $L/baselines.log ) & PIDS+=($!)
( timeout 270 $S finetune-codebook --model $FTM --out $R/mnist-ft $FT \
    --epochs-per-round 1 --batch-size 512 --lr 2e-4 --augment 7 --adv-weight 0.02 \
    --perceptual-weight 0.05 --class-weight 0.1 --perceptual-net .gpu/percept-net \
    --device $DEV --data-root $D --no-progress > $L/mnist-ft.log 2>&1
  echo "finetune exit $? at $(( $(date +%s) - T0 )) s" >> $L/mnist-ft.log
  rm -rf $R/mnist-ft/codebook-cache
  timeout 60 $S train-inverse --model $R/mnist-ft --init $FTM $INV \
    --batch-size 256 --device $DEV --data-root $D --no-progress >> $L/mnist-ft.log 2>&1
  echo "train-inverse exit $? at $(( $(date +%s) - T0 )) s" >> $L/mnist-ft.log ) & PIDS+=($!)
gpu_monitor
wait "${PIDS[@]}"
kill $MON
echo "lanes done at $(( $(date +%s) - T0 )) s"
rm -rf $R/*/tb $R/*/codebook-cache
du -sh $R/*; tail -n 4 $L/*.log
tar czf $OUT/logs.tar.gz -C /tmp logs
tar cf /tmp/runs.tar -C /tmp runs
split -b 15M -d /tmp/runs.tar $OUT/runs.tar.part-
ls -la $OUT
echo "total $(( $(date +%s) - T0 )) s"
