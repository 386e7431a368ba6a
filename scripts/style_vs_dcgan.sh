#!/bin/bash
# The StyleGAN-style generator against the DCGAN under one budget (issue 9, item 2): the same
# data, PRF (lcg-5101: its 5,101-image codebook builds in seconds), width, batch and epochs for
# both, then the exact image search of the test set and Inception FID.
#   SEEDEMBED_DATA=/path/to/data bash scripts/style_vs_dcgan.sh OUT            # MNIST
#   DATASET=anime-faces SEEDEMBED_DATA=... bash scripts/style_vs_dcgan.sh OUT  # 64x64 faces
# Defaults: MNIST batch 128, 3 epochs, FID on 2,000 a side; anime batch 64, 2 epochs, FID on
# 500 a side (all 2,296 test faces searched). EPOCHS, BATCH, FID_N and THREADS override them.
# Measured on the 2-core CPU: docs/training.md, section "A StyleGAN-style generator".
set -euo pipefail
OUT=${1:?usage: [DATASET=mnist|anime-faces] style_vs_dcgan.sh OUT}
DATASET=${DATASET:-mnist}
case $DATASET in
  mnist) EPOCHS=${EPOCHS:-3} BATCH=${BATCH:-128} FID_N=${FID_N:-2000} ;;
  anime-faces) EPOCHS=${EPOCHS:-2} BATCH=${BATCH:-64} FID_N=${FID_N:-500} ;;
  *) echo "style_vs_dcgan.sh: DATASET must be mnist or anime-faces, got '$DATASET'" >&2; exit 2 ;;
esac
[ -n "${THREADS:-}" ] && export OMP_NUM_THREADS=$THREADS
mkdir -p "$OUT"
for g in dcgan style; do
  extra=""; [ $g = style ] && extra="--minibatch-std"
  start=$(date +%s)
  seedembed train-gan --dataset "$DATASET" --prf lcg-5101 --generator $g $extra --width 32 \
    --batch-size "$BATCH" --epochs "$EPOCHS" --out "$OUT/$g" --no-progress --no-tensorboard \
    --log-every 500
  echo "$g: trained in $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt"
  seedembed evaluate --model "$OUT/$g" --dataset "$DATASET" --search image --fid \
    --fid-n "$FID_N" --json "$OUT/$g.json"
done
