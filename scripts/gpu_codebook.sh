#!/bin/bash
# One lent-GPU call for the MNIST codebook (issues 4 and 9): stronger judging classifiers, codebook
# fine-tuning variants of the shipped mnist-524287, and two new 19-bit GANs (smaller batches than
# the shipped one's 1024) each fine-tuned after. Lanes run side by side (small networks: a step
# is bound by Python's per-op overhead, so one GPU serves several processes); every fine-tuning
# gets a wall-time budget (--max-seconds) so that the lanes end near END seconds (a budget lets
# the first round of a call run whatever it costs, so a lane may overrun by one round: on the
# H100 30-90 s; leave that margin in the call's timeout); a fine-tuning with under a minute left
# is skipped, and the judges get a timeout (the first run, at commit 1ad7cc4, had neither: its
# judges' lane ran long, and the call timed out waiting for it).
# Prepare .gpu/ with `scripts/pack_for_device.py --no-anime --perceptual-net DIR` (the repository
# and the carried files must stay under 64 MiB), then
#   COMMIT=$(git rev-parse HEAD) bash scripts/gpu_codebook.sh   (writes a tar of the models into $OUT)
# QUICK=1 DEV=cpu runs the same pipeline in a few steps each, to check it here first.
QUICK=${QUICK:-0}
END=${END:-440}
if [ "$QUICK" = 1 ]; then
  GX="--max-steps 4 --limit 512" FT="--rounds 2 --limit 256 --eval-images 64" FTM=mnist-5101
  GAN_S=60 CE="--epochs 1" INV="--steps 4 --holdout 100" GPRF=lcg-5101
else
  GX="" FT="--rounds 8 --eval-images 10000" FTM=mnist-524287
  GAN_S=200 CE="--epochs 20" INV="--steps 3000" GPRF=lcg-524287
fi
source scripts/gpu_setup.sh
PN=.gpu/percept-net
left() {  # seconds to END, less $1, at least 1
  local s=$(( END - ($(date +%s) - T0) - ${1:-0} )); echo $(( s > 1 ? s : 1 ))
}
ft() {  # out, source model, inverse init ("-": none), then finetune-codebook flags
  local out=$1 src=$2 init=$3; shift 3
  if [ $(left 70) -lt 60 ]; then echo "no time left for $out" >> $L/$out.log; return; fi
  $S finetune-codebook --model $src --out $R/$out $FT --epochs-per-round 1 --batch-size 512 \
    --lr 2e-4 --adv-weight 0.02 --perceptual-net $PN --max-seconds $(left 70) \
    --device $DEV --data-root $D --no-progress "$@" > $L/$out.log 2>&1
  echo "finetune exit $? at $(( $(date +%s) - T0 )) s" >> $L/$out.log
  rm -rf $R/$out/codebook-cache
  [ "$init" = - ] && init="" || init="--init $init"
  timeout $(left 5) $S train-inverse --model $R/$out $init $INV --batch-size 256 \
    --device $DEV --data-root $D --no-progress >> $L/$out.log 2>&1
  echo "train-inverse exit $? at $(( $(date +%s) - T0 )) s" >> $L/$out.log
}
gan() {  # name, then train-gan flags; then fine-tune the GAN
  local n=$1; shift
  timeout -s TERM $GAN_S $S train-gan --dataset mnist --prf $GPRF --schedule 2steps \
    --data-root $D --device $DEV --out $R/$n --no-progress --no-tensorboard --log-every 2000 \
    $GX "$@" > $L/$n.log 2>&1
  echo "train-gan exit $? at $(( $(date +%s) - T0 )) s" >> $L/$n.log
  rm -f $R/$n/checkpoint.safetensors
  ft $n-ft $R/$n - --augment 7 --perceptual-weight 0.05 --class-weight 0.3
}
PIDS=()
( for j in "w64-aug --width 64 --augment --batch-size 256" "w32-aug --width 32 --augment" \
           "w32-e20 --width 32"; do
    set -- $j; n=$1; shift
    timeout $(left 200) $S train-classifier --out $R/judge-$n $CE --device $DEV --data-root $D \
      "$@" >> $L/judges.log 2>&1
  done
  echo "judges done at $(( $(date +%s) - T0 )) s" >> $L/judges.log
  ft ftD $FTM $FTM --augment 7 --perceptual-weight 0.05 --class-weight 1.0 ) & PIDS+=($!)
ft ftA $FTM $FTM --augment 7 --perceptual-weight 0.05 --class-weight 0.3 & PIDS+=($!)
ft ftB $FTM $FTM --augment 15 --perceptual-weight 0.05 --class-weight 0.3 & PIDS+=($!)
gan ganC --batch-size 128 --epochs 60 & PIDS+=($!)
gan ganE --batch-size 64 --epochs 60 & PIDS+=($!)
gpu_monitor
wait "${PIDS[@]}"
kill $MON
echo "lanes done at $(( $(date +%s) - T0 )) s"
rm -rf $R/*/tb $R/*/codebook-cache $R/*/samples $R/*/checkpoint.safetensors $R/*/finetune-checkpoint.safetensors
du -sh $R/*; tail -n 3 $L/*.log
tar czf $OUT/logs.tar.gz -C /tmp logs
tar cf /tmp/runs.tar -C /tmp runs && split -b 15M -d /tmp/runs.tar $OUT/runs.tar.part-
ls -la $OUT
echo "total $(( $(date +%s) - T0 )) s"
