#!/bin/bash
# The anime faces travel to a lent GPU in parts, one per call (the repository alone is about
# 51 MiB of the 64 MiB a call carries): `scripts/pack_for_device.py --anime-parts 3` writes
# .gpu-anime-0/ ... .gpu-anime-2/ and checks each fits. Each call copies the part it carried to
# $ANIME_STASH (/tmp/anime-stash), outside the repository, where a later call on the same warm
# machine finds it, and prints what the stash holds. Run it alone in the first call(s); scripts/gpu_setup.sh sources it.
ANIME_STASH=${ANIME_STASH:-/tmp/anime-stash}
mkdir -p "$ANIME_STASH"
for part in .gpu-anime-*/; do
  [ -d "$part" ] && cp "$part"* "$ANIME_STASH"/
done
echo "anime stash: $(ls "$ANIME_STASH" | tr '\n' ' ')($(du -sm "$ANIME_STASH" | cut -f1) MB)"
