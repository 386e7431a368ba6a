"""Write the example digits: the first MNIST test image of each class, as 28x28 PNGs.

    python examples/make_examples.py [--data-root DIR] [--out examples]

MNIST is read from --data-root or SEEDEMBED_DATA (downloaded as usual when absent).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from seedembed.data.mnist import Mnist


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent))
    args = ap.parse_args()
    test = Mnist(args.data_root, train=False)
    images = test.as_uint8()
    seen: dict[int, int] = {}
    for index in range(len(test)):
        label = int(test.targets[index])
        if label not in seen:
            seen[label] = index
        if len(seen) == 10:
            break
    for label, index in sorted(seen.items()):
        image = images[index, 0].numpy()
        path = Path(args.out) / f"digit-{label}-test{index:05d}.png"
        Image.fromarray(image, "L").save(path)
        print(path)


if __name__ == "__main__":
    main()
