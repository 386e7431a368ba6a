"""The rate-distortion-perception trade-off of codebook fine-tuning (issue 9, item 3).

Fine-tunes one model's generator at several adversarial weights (the same rounds otherwise),
then measures each result on the test set with the codec's exact image search: MSE, SSIM, the
digit classifier's accuracy and the FID of the reconstructions in Inception and in digit-CNN
features (every point has the same rate: one seed). Writes a JSON file and a plot of
distortion against perception.

    python scripts/rdp_curve.py --model mnist-5101 --weights 0 0.02 0.1 0.5 --out runs/rdp

On the 2-core CPU a point of mnist-5101 (3 rounds of one epoch) takes about 3 minutes: its
codebook has 5,101 images, so every assignment is seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from seedembed.train.codebook import HISTORY, STATE, FinetuneConfig, finetune_codebook


def measure(model: str, out: Path, fid_n: int) -> dict:
    """`seedembed evaluate` of a model on the test set (image search, FID on fid_n images);
    an earlier run's ``evaluate.json`` in ``out`` is reused, so a stopped curve continues."""
    path = out / "evaluate.json"
    if not path.exists():
        cmd = [sys.executable, "-m", "seedembed", "evaluate", "--model", model]
        cmd += ["--search", "image", "--fid", "--fid-n", str(fid_n), "--json", str(path)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    results = json.loads(path.read_text())["results"]
    return {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in results.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="mnist-5101")
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.02, 0.1, 0.5])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--fid-n", type=int, default=2000)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--plot", type=Path, help="PNG of MSE and SSIM against the digit FID")
    p.add_argument("--replot", action="store_true", help="only redraw --plot from OUT/rdp.json")
    a = p.parse_args()
    if a.replot:
        doc = json.loads((a.out / "rdp.json").read_text())
        plot(doc["points"], a.plot, doc["model"])
        return
    a.out.mkdir(parents=True, exist_ok=True)
    points = []
    source = a.out / "source"
    source.mkdir(exist_ok=True)
    before = measure(a.model, source, a.fid_n)
    points.append({"adv_weight": None, "label": "before fine-tuning", **before})
    for w in a.weights:
        run = a.out / f"adv-{w:g}"
        if not (run / "generator.safetensors").exists():
            cfg = FinetuneConfig(rounds=a.rounds, epochs_per_round=1, adv_weight=w, eval_images=0)
            resume = (run / STATE).exists()  # a stopped run continues
            finetune_codebook(a.model, run, cfg, progress=False, log=lambda _: None, resume=resume)
        seconds = json.loads((run / HISTORY).read_text())["wall_time_s"]
        points.append({"adv_weight": w, "label": f"adv {w:g}", "finetune_s": seconds,
                       **measure(str(run), run, a.fid_n)})  # fmt: skip
        print(json.dumps(points[-1]), flush=True)
    (a.out / "rdp.json").write_text(json.dumps({"model": a.model, "points": points}, indent=2))
    if a.plot:
        plot(points, a.plot, a.model)


def plot(points: list[dict], path: Path, model: str) -> None:
    """MSE and SSIM against the digit-classifier FID of the reconstructions (the perception
    axis: Inception FID barely separates blurred from sharp 28x28 digits; both are in the
    JSON)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, key, name in ((axes[0], "mse_m11", "MSE [-1,1]"), (axes[1], "ssim", "SSIM")):
        for pt in points:
            ax.scatter(pt["fid_classifier"], pt[key])
            ax.annotate(pt["label"], (pt["fid_classifier"], pt[key]), fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("reconstruction FID (digit classifier features; log scale)")
        ax.set_ylabel(name)
    fig.suptitle(f"{model}: one seed per image, fine-tuned at several adversarial weights")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
