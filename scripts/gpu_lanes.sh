#!/bin/bash
# One lent-GPU call: anime GANs + inverses (issue 7), anime autoencoders, MNIST codebook
# fine-tuning with warped copies (issues 4/9). Lanes run side by side: a step of these small
# networks is bound by Python's per-op overhead, so one GPU serves several processes.
# Prepare .gpu/ with scripts/pack_for_device.py, carry it, and run from the repository root:
#   COMMIT=$(git rev-parse HEAD) bash scripts/gpu_lanes.sh     (writes split tars into $OUT)
# The results of the run of 2026-11-26 are in docs/training.md; the machine lacked the
# `cryptography` package (only the keyed PRF needs it), hence the stub below.
set -u
T0=$(date +%s)
# QUICK=1 DEV=cpu: the same pipeline in a few steps each, to check it on a CPU first
DEV=${DEV:-cuda} QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  GX="--max-steps 4 --limit 512" INV="--steps 4 --holdout 100" FT="--rounds 1 --limit 256 --eval-images 64" FTM=mnist-5101 AE="ae7"
else
  GX="" INV="--steps 3000" FT="--rounds 5 --eval-images 10000" FTM=mnist-524287 AE="anime-ae7 anime-ae14 anime-ae28"
fi
export PYTHONUNBUFFERED=1 SEEDEMBED_COMMIT=${COMMIT:?} SEEDEMBED_CACHE=/tmp/cache
mkdir -p /tmp/stub/cryptography/hazmat/primitives/ciphers
touch /tmp/stub/cryptography/__init__.py /tmp/stub/cryptography/hazmat/__init__.py /tmp/stub/cryptography/hazmat/primitives/__init__.py
echo "Cipher = algorithms = modes = None" > /tmp/stub/cryptography/hazmat/primitives/ciphers/__init__.py
python3 -c "import cryptography" 2>/dev/null && X="" || X=":/tmp/stub"
export PYTHONPATH=$PWD$X
D=/tmp/sdata R=/tmp/runs L=/tmp/logs
mkdir -p $D/MNIST/raw $D/anime-faces/images $R $L
cp .gpu/mnist/*.gz $D/MNIST/raw/ && gunzip -f $D/MNIST/raw/*.gz
python3 - <<'PY'
import io, json, os
import numpy as np
from concurrent.futures import ProcessPoolExecutor
from PIL import Image
src, dst = '.gpu/anime', '/tmp/sdata/anime-faces'
idx = json.load(open(src + '/index.json')); off = np.load(src + '/offsets.npy')
blob = open(src + '/blob.bin', 'rb').read()
def dec(i):
    stem = os.path.splitext(idx['names'][i])[0]
    Image.open(io.BytesIO(blob[off[i]:off[i + 1]])).convert('RGB').save(f'{dst}/images/{stem}.png')
with ProcessPoolExecutor(16) as ex:
    list(ex.map(dec, range(len(idx['names'])), chunksize=512))
open(dst + '/test.txt', 'w').write(''.join(os.path.splitext(n)[0] + '.png\n' for n in idx['test']))
print('faces', len(idx['names']))
PY
nvidia-smi -L || true
python3 -c "
import torch; from seedembed.data import open_dataset, load_uint8
for t in (True, False): print(load_uint8(open_dataset('anime-faces', '$D', train=t)).shape)
print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())" || exit 1
echo "setup $(( $(date +%s) - T0 )) s"
S="python3 -m seedembed"
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
( while sleep 20; do echo "$(( $(date +%s) - T0 )) s: $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader)"; done ) > $L/gpu.log 2>&1 &
MON=$!
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
