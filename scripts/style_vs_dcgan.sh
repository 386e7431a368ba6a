#!/bin/bash
# The StyleGAN-style generator against the DCGAN under one budget (issue 9, item 2): MNIST,
# lcg-5101 (its 5,101-image codebook builds in seconds), width 32, batch 128, 3 epochs each, then
# the exact image search of the 10,000 test digits and Inception FID on 2,000 a side.
#   SEEDEMBED_DATA=/path/to/data bash scripts/style_vs_dcgan.sh OUT
# On the 2-core CPU: 242 s (DCGAN, one thread) and 490 s (style, two threads) of training.
set -euo pipefail
OUT=${1:?usage: style_vs_dcgan.sh OUT}
mkdir -p "$OUT"
for g in dcgan style; do
  extra=""; [ $g = style ] && extra="--minibatch-std"
  seedembed train-gan --dataset mnist --prf lcg-5101 --generator $g $extra --width 32 \
    --batch-size 128 --epochs 3 --out "$OUT/$g" --no-progress --no-tensorboard --log-every 500
  seedembed evaluate --model "$OUT/$g" --search image --fid --fid-n 2000 --json "$OUT/$g.json"
done
