# Sourced by the lent-GPU scripts (gpu_lanes.sh, gpu_codebook.sh, gpu_anime.sh): unpack the data
# carried in .gpu/ (made by scripts/pack_for_device.py) under /tmp/sdata, the faces from
# .gpu/anime or, when they came in parts over several calls, from the stash (gpu_stash.sh);
# stub the `cryptography` package where the machine lacks it (only the keyed PRF needs it);
# set the shared variables, HAVE the data sets unpacked.
#   DEV (cuda; cpu for a check here), QUICK (1: a few steps per job), COMMIT (required)
set -u
T0=$(date +%s)
DEV=${DEV:-cuda} QUICK=${QUICK:-0}
export PYTHONUNBUFFERED=1 SEEDEMBED_COMMIT=${COMMIT:?} SEEDEMBED_CACHE=/tmp/cache
mkdir -p /tmp/stub/cryptography/hazmat/primitives/ciphers
touch /tmp/stub/cryptography/__init__.py /tmp/stub/cryptography/hazmat/__init__.py /tmp/stub/cryptography/hazmat/primitives/__init__.py
echo "Cipher = algorithms = modes = None" > /tmp/stub/cryptography/hazmat/primitives/ciphers/__init__.py
python3 -c "import cryptography" 2>/dev/null && X="" || X=":/tmp/stub"
export PYTHONPATH=$PWD$X
D=/tmp/sdata R=/tmp/runs L=/tmp/logs
S="python3 -m seedembed"
mkdir -p $D/MNIST/raw $R $L
rm -rf $R/.keep-* $R/*.done  # what a call that timed out left on a warm machine
HAVE="mnist"
python3 - $D/MNIST/raw <<'UNPACK' || HAVE=""  # .xz since the repository grew; .gz from older packs
import gzip, lzma, pathlib, sys
files = sorted(pathlib.Path(".gpu/mnist").glob("*-ubyte.*z"))
if not files:
    sys.exit(1)
for f in files:
    unpack = lzma.open if f.suffix == ".xz" else gzip.open
    (pathlib.Path(sys.argv[1]) / f.stem).write_bytes(unpack(f).read())
UNPACK
source scripts/gpu_stash.sh
FACES=""
if [ -d .gpu/anime ]; then
  FACES=.gpu/anime
elif [ -f $ANIME_STASH/index.json ]; then
  PARTS=$(python3 -c "import json; print(json.load(open('$ANIME_STASH/index.json'))['parts'])")
  if ls $(seq -f "$ANIME_STASH/blob.bin.%g" 0 $(( PARTS - 1 ))) > /dev/null 2>&1; then
    cat $(seq -f "$ANIME_STASH/blob.bin.%g" 0 $(( PARTS - 1 ))) > $ANIME_STASH/blob.bin
    FACES=$ANIME_STASH
  else
    echo "anime: the stash lacks some of the $PARTS parts; carry the others first" >&2
  fi
fi
if [ -n "$FACES" ]; then
  HAVE="$HAVE anime-faces"
  mkdir -p $D/anime-faces/images
  FACES=$FACES python3 - <<'PY'
import io, json, os
import numpy as np
from concurrent.futures import ProcessPoolExecutor
from PIL import Image
src, dst = os.environ['FACES'], '/tmp/sdata/anime-faces'
idx = json.load(open(src + '/index.json')); off = np.load(src + '/offsets.npy')
blob = open(src + '/blob.bin', 'rb').read()
assert len(blob) == off[-1], f'faces: {len(blob)} bytes, the index says {off[-1]}'
def dec(i):
    stem = os.path.splitext(idx['names'][i])[0]
    Image.open(io.BytesIO(blob[off[i]:off[i + 1]])).convert('RGB').save(f'{dst}/images/{stem}.png')
with ProcessPoolExecutor(16) as ex:
    list(ex.map(dec, range(len(idx['names'])), chunksize=512))
open(dst + '/test.txt', 'w').write(''.join(os.path.splitext(n)[0] + '.png\n' for n in idx['test']))
print('faces', len(idx['names']))
PY
fi
nvidia-smi -L || true
[ -n "$HAVE" ] || { echo "no data carried: neither .gpu/mnist nor the faces" >&2; exit 1; }
python3 -c "
import torch; from seedembed.data import open_dataset, load_uint8
for name in '$HAVE'.split():
    print(name, load_uint8(open_dataset(name, '$D', train=True)).shape)
print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())" || exit 1
echo "setup $(( $(date +%s) - T0 )) s"
gpu_monitor() {  # utilisation and memory every 20 s into $L/gpu.log, until killed
  ( while sleep 20; do echo "$(( $(date +%s) - T0 )) s: $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>&1)"; done ) > $L/gpu.log 2>&1 &
  MON=$!
}
left() {  # seconds to END (the lanes' end, from the call's start), less $1, at least 1
  local s=$(( END - ($(date +%s) - T0) - ${1:-0} )); echo $(( s > 1 ? s : 1 ))
}
keep() {  # run folders into $OUT now, so that a lane done is fetched even if the call times out;
  # a call returns at most 8 files of 16 MiB, so the folders share bundles $OUT/keep-N.tar (the
  # first with room for the folder; appended in a copy in $OUT renamed over it, so that a call
  # cut off mid-append returns the bundle whole, under a lock, since lanes end at once), a
  # folder over 15 MiB goes alone in parts. Unpack: for f in keep-*.tar; do tar xf $f; done;
  # and for each folder in parts: cat NAME.tar.part-* | tar xf -
  local n tmp size b cap=$(( 15 * 1048576 ))
  for n in "$@"; do
    rm -rf $R/$n/tb $R/$n/codebook-cache $R/$n/samples $R/$n/*checkpoint.safetensors
    tmp=$R/.keep-$n.tar
    tar cf $tmp -C $R $n
    size=$(stat -c %s $tmp)
    if [ $size -gt $cap ]; then
      split -b 15M -d $tmp $OUT/$n.tar.part-
    else
      until mkdir $R/.keep-lock 2> /dev/null; do sleep 0.2; done
      b=0
      while [ -f $OUT/keep-$b.tar ] && [ $(( $(stat -c %s $OUT/keep-$b.tar) + size )) -gt $cap ]; do
        b=$(( b + 1 ))
      done
      if [ -f $OUT/keep-$b.tar ]; then
        cp $OUT/keep-$b.tar $OUT/.keep-next.tar && tar -Af $OUT/.keep-next.tar $tmp &&
          mv $OUT/.keep-next.tar $OUT/keep-$b.tar || echo "keep $n: appending failed" >&2
      else
        cp $tmp $OUT/.keep-next.tar && mv $OUT/.keep-next.tar $OUT/keep-$b.tar ||
          echo "keep $n: copying failed" >&2
      fi
      rm -f $OUT/.keep-next.tar
      rmdir $R/.keep-lock
    fi
    rm -f $tmp
  done
}
wait_lanes() {  # the lanes' PIDS, under the GPU monitor; then the logs into $OUT
  gpu_monitor
  wait "${PIDS[@]}"
  kill $MON
  echo "lanes done at $(( $(date +%s) - T0 )) s"
  tail -n 4 $L/*.log
  tar czf $OUT/logs.tar.gz -C /tmp logs
  ls -la $OUT
  echo "total $(( $(date +%s) - T0 )) s"
}
