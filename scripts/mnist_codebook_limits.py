"""What a 19-bit MNIST codebook can reach, and how much the judge matters (issues 4 and 9).

Three measurements on the 10,000 MNIST test digits, printed as a table and written as JSON:

* ``--oracle``: codebooks made of real training digits and the fine-tuning's warped copies of
  them (``seedembed.train.codebook.warp``, the ``--augment`` targets), searched exactly (1-nearest
  neighbour in pixels, what the codec's image search does in a generator's codebook). It bounds
  what fine-tuning the generator towards warped copies can give: a generator that reproduced
  every target exactly would be this codebook.
* ``--models``: the given models' reconstructions (exact image search) read by the shipped
  judge and by other classifiers (``--judges``, folders from ``seedembed train-classifier``), so
  that a weak judge is not mistaken for a weak codebook.
* ``--mask-net DIR --thresholds T...``: the same search restricted to the codebook entries that a
  second digit CNN (never the judge) reads with confidence at least T, i.e. how much of the
  classifier's misreadings come from entries that sit between two classes; the JSON also counts
  the entries the CNN reads as each digit. A diagnostic, not a search strategy: the codec's
  ``image`` search is the argmin over all m seeds. It runs on the CPU whatever ``--device``
  says (the codebook is the cached, memory-mapped one).
* ``--mask-net DIR --gaps G...``: how near a miss is. For the test digits whose pixel-nearest
  entry the mask net reads as another digit, the relative gap ``(d+ - d) / d`` between that
  entry's squared distance d and the nearest entry the net reads as the right digit (d+, among
  the ``GAP_K`` nearest), as quantiles and by rank; then what the judges would read if every
  such digit within a gap of G took that entry instead. Label-aware, so a diagnostic, never a
  search: it says how far the generator must move entries for the codec's own argmin to pick
  the right digit.

    python scripts/mnist_codebook_limits.py --oracle --models mnist-524287 \
        --judges runs/judge-w32-aug --json docs/results/mnist-codebook-limits.json

On one niced thread of the 2-core CPU, beside a fine-tuning run: 125 to 998 s per oracle
codebook (four searches of up to 524,287 digits, 29 minutes in all), 48 to 462 s per model.
On both cores, the mask net reads a 524,287-entry codebook in about 3 minutes, and each
restricted search takes 1 to 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import seedembed
from seedembed.baselines.codebook import assign
from seedembed.data import load_uint8, open_dataset, to_float
from seedembed.errors import SeedembedError
from seedembed.metrics import ssim
from seedembed.search.codebook import load_codebook
from seedembed.search.kernels import smallest_k
from seedembed.train.classifier import evaluate, load_classifier
from seedembed.train.codebook import warp
from seedembed.zoo import load_classifier as shipped_judge

M = 524_287
COPIES = 8  # warped copies of each training digit: 480,000, enough to fill the seed space
GAP_K = 64  # --gaps looks for an entry of the right digit among this many nearest


def nearest(query: torch.Tensor, book: torch.Tensor) -> torch.Tensor:
    """Index of each query's pixel-nearest codebook entry (exact: the nearest-training-image
    baseline's blocked GEMM)."""
    return assign(query.flatten(1), book.flatten(1))[0]


@torch.no_grad()
def confidences(
    net: torch.nn.Module, book: torch.Tensor, chunk: int = 8192
) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's top softmax probability and class for every codebook entry (rows in
    [-1, 1]; the classifiers read [0, 1]): an entry read below a high probability sits between
    two digits, and the classes say whether the codebook draws every digit as often."""
    conf, label = torch.empty(len(book)), torch.empty(len(book), dtype=torch.long)
    for i in range(0, len(book), chunk):
        x = (book[i : i + chunk].float().view(-1, 1, 28, 28) + 1) / 2
        conf[i : i + len(x)], label[i : i + len(x)] = net(x).softmax(1).max(1)
    return conf, label


def gaps(
    x: torch.Tensor,
    y: torch.Tensor,
    book: torch.Tensor,
    sqnorms: torch.Tensor,
    label: torch.Tensor,
    k: int = GAP_K,
) -> tuple[dict, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Near misses (see the module doc): a summary, and per digit the nearest entry, the
    nearest entry read as its own digit (the nearest itself where it is read right, or where
    none of the k is), the relative gap between them (0 where read right, inf where none) and
    whether it is a near miss (misread, with an entry of its digit among the k)."""
    dist, idx = smallest_k(x.flatten(1).float(), book, sqnorms, k)
    right = label[idx] == torch.as_tensor(y)[:, None]
    missed = ~right[:, 0]
    found = right.any(1)
    first = right.float().argmax(1)
    best = torch.where(found, idx.gather(1, first[:, None])[:, 0], idx[:, 0])
    gap = (dist.gather(1, first[:, None])[:, 0] - dist[:, 0]) / dist[:, 0].clamp_min(1e-12)
    gap = torch.where(found, gap.clamp_min(0), torch.full_like(gap, float("inf")))
    near = missed & found
    q = (0.1, 0.25, 0.5, 0.75, 0.9)
    summary = {
        "misread by the mask net": int(missed.sum()),
        "with a right entry among the nearest": int(near.sum()),
        "nearest": k,
        "gap quantiles": dict(
            zip(map(str, q), torch.quantile(gap[near], torch.tensor(q)).tolist(), strict=True)
        )
        if near.any()
        else {},
        "rank of the right entry (1 = second nearest)": torch.bincount(first[near], minlength=k)[
            1:
        ].tolist(),
    }
    return summary, idx[:, 0], best, gap, near


def scores(recon: torch.Tensor, x: torch.Tensor, y: torch.Tensor, judges: dict) -> dict:
    """MSE on [-1, 1], SSIM, and each judge's accuracy and cross-entropy; images in [-1, 1]."""
    r01, x01 = (recon + 1) / 2, (x + 1) / 2
    out = {"mse": float((recon - x).pow(2).mean()), "ssim": float(ssim(r01, x01).mean())}
    for name, net in judges.items():
        m = evaluate(net, r01, y)
        out[f"acc {name}"], out[f"ce {name}"] = m["accuracy"], m["cross_entropy"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--oracle", action="store_true", help="measure the warped-digit codebooks")
    p.add_argument("--models", nargs="*", default=[], help="models whose reconstructions to judge")
    p.add_argument("--judges", nargs="*", default=[], help="extra classifier folders")
    p.add_argument("--data-root", help="data root (default $SEEDEMBED_DATA)")
    p.add_argument(
        "--mask-net",
        help="classifier folder whose confidence restricts the search (a diagnostic; on the CPU)",
    )
    p.add_argument(
        "--thresholds", nargs="+", type=float, default=[0.5, 0.8, 0.9, 0.97],
        help="confidences of --mask-net below which entries are left out (0.5 0.8 0.9 0.97)",
    )  # fmt: skip
    p.add_argument(
        "--gaps", nargs="*", type=float, metavar="G",
        help="with --mask-net: the near misses, and the judges' reading if every misread digit "
        "within a relative gap G took the nearest entry of its digit (e.g. 0.02 0.05 0.1 0.2)",
    )  # fmt: skip
    p.add_argument("--json", type=Path, help="write the rows here")
    p.add_argument("--device", default="cpu", help="device of the models' image search (cpu)")
    args = p.parse_args()
    if args.mask_net and not args.models:
        p.error("--mask-net needs --models")
    if any(not 0 <= t < 1 for t in args.thresholds):
        p.error("--thresholds: each in [0, 1)")
    if args.gaps is not None and not args.mask_net:
        p.error("--gaps needs --mask-net (the net that reads the entries)")
    if any(not g > 0 for g in args.gaps or []):
        p.error("--gaps: each > 0")
    try:
        mask_net = load_classifier(args.mask_net).eval() if args.mask_net else None
    except SeedembedError as exc:
        p.error(str(exc))
    judges = {"shipped": shipped_judge()}
    try:
        torch.empty(0, device=args.device)  # a bad or absent device, before any work
    except (RuntimeError, ValueError) as exc:
        p.error(f"--device {args.device}: {str(exc).splitlines()[0]}")
    try:
        test = open_dataset("mnist", args.data_root, train=False)
        judges.update({Path(j).name: load_classifier(j) for j in args.judges})
        # a bad name is refused before any work
        codecs = {m: seedembed.load(m, device=args.device) for m in args.models}
    except SeedembedError as exc:
        p.error(str(exc))
    if len(judges) != 1 + len(args.judges):
        p.error("--judges: two folders of the same name")
    x, y = to_float(load_uint8(test)), test.targets
    rows = [{"row": "clean test digits", **scores(x, x, y, judges)}]
    if args.oracle:
        train = to_float(load_uint8(open_dataset("mnist", args.data_root, train=True)))
        copies = warp(train.repeat(COPIES, 1, 1, 1), torch.Generator().manual_seed(0))
        fill = M - len(train)  # as many copies as fill the 19-bit seed space
        books = {
            "training digits (60,000)": train,
            "training digits + 7 warped copies (480,000)": torch.cat([train, copies[:420_000]]),
            f"training digits + warped copies (m = {M:,})": torch.cat([train, copies[:fill]]),
            "8 warped copies alone (480,000)": copies[:480_000],
        }
        for name, book in books.items():
            t0 = time.perf_counter()
            recon = book[nearest(x, book)]
            rows.append({"row": f"oracle: {name}", **scores(recon, x, y, judges)})
            rows[-1]["seconds"] = round(time.perf_counter() - t0, 1)
            print(json.dumps(rows[-1]), flush=True)
    classes: dict[str, list[int]] = {}  # per model: entries the mask net reads as 0 ... 9
    near_misses: dict[str, dict] = {}
    for model in args.models:
        t0 = time.perf_counter()
        codec = codecs[model]
        enc = codec.encode((x + 1) / 2, search="image", progress=False)
        recon = codec.decode(enc).cpu() * 2 - 1
        rows.append({"row": f"{model}, image search", **scores(recon, x, y, judges)})
        rows[-1]["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(rows[-1]), flush=True)
        if mask_net is None:
            continue
        codebook = load_codebook(codec.generator, codec.prf, codec.fingerprint)
        book = codebook.images
        conf, label = confidences(mask_net, book)
        classes[model] = torch.bincount(label, minlength=10).tolist()
        print(f"{model}: entries read as each digit 0-9: {classes[model]}", flush=True)
        for t in args.thresholds:
            t0 = time.perf_counter()
            sub = book[(conf >= t).nonzero().squeeze(1)].float()
            if not len(sub):
                print(f"{model}: no entry is read at >= {t}; no row", flush=True)
                continue
            recon = sub[nearest(x, sub)].view_as(x)
            name = f"{model}, image search over the {len(sub):,} entries read at >= {t}"
            rows.append({"row": name, **scores(recon, x, y, judges)})
            rows[-1].update(threshold=t, entries=len(sub))
            rows[-1]["seconds"] = round(time.perf_counter() - t0, 1)
            print(json.dumps(rows[-1]), flush=True)
        if args.gaps is None:
            continue
        near_misses[model], nearest_, right, gap, near = gaps(
            x, y, book, codebook.image_sqnorms, label
        )
        print(f"{model}: near misses {json.dumps(near_misses[model])}", flush=True)
        for g in args.gaps:
            pick = torch.where(gap < g, right, nearest_)
            recon = book[pick].float().view_as(x)
            name = f"{model}, a misread digit within a gap of {g} takes the entry of its digit"
            rows.append({"row": name, **scores(recon, x, y, judges), "gap": g})
            rows[-1]["digits moved"] = int((near & (gap < g)).sum())
            print(json.dumps(rows[-1]), flush=True)
    keys = [k for k in rows[0] if k != "row"]  # the clean row: the measures every row has
    print("| codebook | " + " | ".join(keys) + " |")
    print("| --- " * (len(keys) + 1) + "|")
    for r in rows:
        print(f"| {r['row']} | " + " | ".join(f"{r[k]:.4f}" for k in keys) + " |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        sources = ["mnist-classifier (shipped)", *args.judges]
        meta = {"judges": dict(zip(judges, sources, strict=True)), "copies": COPIES}
        if mask_net is not None:
            meta.update(mask_net=args.mask_net, entries_per_class=classes)
        if near_misses:
            meta["near_misses"] = near_misses
        args.json.write_text(json.dumps({"rows": rows, **meta}, indent=2) + "\n")


if __name__ == "__main__":
    main()
