#!/usr/bin/env bash
# Retrain the shipped MNIST models as they were made (docs/training.md, each card.md):
# both GANs at once on one GPU (about 4 minutes on an H200), then their inverse generators on
# the CPU (about 20 minutes each), then export them as zoo folders under OUT.
#   SEEDEMBED_DATA=/path/to/data bash scripts/train_shipped_mnist.sh OUT
set -euo pipefail
OUT=${1:?usage: train_shipped_mnist.sh OUT}
mkdir -p "$OUT"
for M in 524287 5101; do
  seedembed train-gan --dataset mnist --prf lcg-$M --schedule 2steps --epochs 200 \
    --device cuda --batch-size 1024 --out "$OUT/runs/mnist-$M" --no-progress --log-every 1000 &
done
wait
for M in 524287 5101; do
  python -c "from seedembed.zoo import export_run; export_run('$OUT/runs/mnist-$M', 'mnist-$M', dest_root='$OUT/zoo')"
  seedembed train-inverse --model "$OUT/zoo/mnist-$M" --steps 14000 --batch-size 256 --lr 1e-3 \
    --width 32 --reuse 4 --threads 1 --checkpoint-every 250 --no-progress &
done
wait
