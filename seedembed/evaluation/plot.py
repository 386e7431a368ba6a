"""Rate-distortion plots from evaluation JSON: bits per image against MSE, PSNR and SSIM.

Reads what ``seedembed evaluate`` writes (one method, ``results`` lists, one entry per rate
point) or what ``seedembed reproduce --json`` writes (a table: its rows). Our methods are lines
with markers, baselines hollow markers, the thesis' points crosses and the measured limits
diamonds, so a reader tells at a glance which numbers are ours.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from seedembed.errors import DataError

PANELS = (("mse_m11", "MSE on [-1, 1] (lower is better)"), ("psnr", "PSNR dB"), ("ssim", "SSIM"))
STYLE = {
    "ours": {"marker": "o", "linestyle": "-"},
    "baseline": {"marker": "s", "linestyle": "--", "fillstyle": "none"},
    "thesis": {"marker": "x", "linestyle": "none", "markersize": 9},
    "limit": {"marker": "D", "linestyle": "none", "fillstyle": "none"},
}
#: where the thesis' MNIST rows sit on the rate axis: its modulus is not stated, 19 bits is
#: the largest LCG of the thesis (an assumption, marked in the legend)
THESIS_BITS = 19.0


def series_from_file(path: str | os.PathLike) -> list[dict]:
    """Plot series (label, source, bits, metric values) of one evaluation or table JSON."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read evaluation JSON {str(path)!r}: {exc}") from None
    if not isinstance(doc, dict):
        raise DataError(f"{str(path)!r} is not an evaluation or table JSON")
    if "rows" in doc and "columns" in doc:  # a reproduced table
        out: list[dict] = []
        curves: dict[str, dict] = {}  # rows naming one ``series`` form one curve
        for row in doc["rows"]:
            v = dict(row.get("values", {}))
            if not any(v.get(k) is not None for k, _ in PANELS):
                continue  # e.g. the randomness table: nothing to plot against bits
            if row.get("source") == "thesis" and "bits_per_image" not in v:
                v["bits_per_image"] = THESIS_BITS
                label = f"thesis: {row['label']} (at {THESIS_BITS:g} bits, m not stated)"
            else:
                label = f"{row.get('source')}: {row['label']}"
            if v.get("bits_per_image") is None:
                continue
            if row.get("series"):
                curve = curves.get(row["series"])
                if curve is None:
                    curve = {"label": f"{row.get('source')}: {row['series']}"}
                    curve["source"] = row.get("source", "ours")
                    curve.update({k: [] for k in ("bits_per_image", *dict(PANELS))})
                    curves[row["series"]] = curve
                    out.append(curve)
                for k in ("bits_per_image", *dict(PANELS)):
                    curve[k].append(v.get(k))
                continue
            out.append(
                {
                    "label": label,
                    "source": row.get("source", "ours"),
                    **{k: [v.get(k)] for k in ("bits_per_image", *dict(PANELS))},
                }
            )
        return out
    results = doc.get("results")
    if not isinstance(results, dict) or "bits_per_image" not in results:
        raise DataError(f"{str(path)!r} has no results.bits_per_image to plot")
    kind = doc.get("kind", "ours")
    return [
        {
            "label": doc.get("name", Path(path).stem),
            "source": "baseline" if kind == "baseline" else "ours",
            **{k: results.get(k) for k in ("bits_per_image", *dict(PANELS))},
        }
    ]


def plot_rd(paths: list[str | os.PathLike], out: str | os.PathLike, title: str = "") -> Path:
    """Write a rate-distortion figure (three panels) of every series in ``paths``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not paths:
        raise DataError("plot needs at least one evaluation JSON")
    series = [s for p in paths for s in series_from_file(p)]
    if not series:
        raise DataError("none of the files holds a point with bits per image")
    legend_rows = (len(series) + 1) // 2
    height = 4.0 + 0.17 * legend_rows  # the panels keep 4 inches, the legend gets its own room
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5.2 * len(PANELS), height))
    for ax, (key, name) in zip(axes, PANELS, strict=True):
        for s in series:
            pts = [
                (b, v)
                for b, v in zip(s["bits_per_image"], s.get(key) or [], strict=False)
                if b is not None and v is not None
            ]
            if not pts:
                continue
            pts.sort()
            style = STYLE.get(s["source"], STYLE["ours"])
            ax.plot(*zip(*pts, strict=True), label=s["label"], **style)
        ax.set_xscale("log")
        ax.set_xlabel("bits per image")
        ax.set_ylabel(name)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=7, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, (0.17 * legend_rows + 0.15) / height, 1, 1))
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110)
    except OSError as exc:
        raise DataError(f"cannot write {str(out)!r}: {exc}") from None
    finally:
        plt.close(fig)
    return out
