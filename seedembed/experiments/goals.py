"""Issue 9's goals for the generator as a codebook, checked against measured JSON.

The shipped models' figures come from the report's own tables (``mnist-test``, ``anime-test``:
one seed, exact image search); each plain GAN they were fine-tuned from is measured the same way
by ``seedembed evaluate --json`` into ``docs/results/<plain>-test.json``, whose fingerprint must
be the shipped plain GAN's (a stale reference is refused, not printed). The section says for
every goal whether it is met; the rate-distortion-perception curve is linked when present.
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass
from pathlib import Path

from seedembed.errors import DataError

#: how many times the plain GAN's reconstruction FID the fine-tuned model may reach
FID_FACTOR = 2.0


@dataclass(frozen=True)
class Goal:
    """One data set's goals: (metric key, its column name, comparison, bound)."""

    dataset: str
    table: str
    model: str
    plain: str
    bounds: tuple[tuple[str, str, str, float], ...]


GOALS = (
    Goal(
        "MNIST",
        "mnist-test",
        "mnist-524287",
        "mnist-524287-gan",
        (
            ("mse_m11", "MSE[-1,1]", "<=", 0.065),
            ("ssim", "SSIM", ">=", 0.83),
            ("accuracy", "classifier accuracy", ">=", 0.975),
        ),
    ),
    Goal(
        "anime faces",
        "anime-test",
        "anime-524287",
        "anime-524287-gan",
        (("mse_01", "MSE[0,1]", "<=", 0.035), ("ssim", "SSIM", ">=", 0.35)),
    ),
)
_OPS = {"<=": operator.le, ">=": operator.ge}


def _shipped_row(json_dir: Path, goal: Goal) -> dict | None:
    """The shipped model's image-search row of its table, checked against its fingerprint."""
    path = json_dir / f"{goal.table}.json"
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    if doc.get("report", {}).get("quick"):  # subsets: not the figures the goals are about
        return None
    label = f"seedembed {goal.model}, image search"
    rows = [r["values"] for r in doc["rows"] if r["label"] == label]
    runs = [r for r in doc.get("results", []) if r.get("name") == f"{goal.model}/image"]
    if not rows or not runs:
        return None
    check_run(path, runs[0], goal.model, f"seedembed reproduce {goal.table}")
    return rows[0]


def check_run(path: Path, run: dict, model: str, redo: str) -> None:
    """Refuse figures measured on another generator than the one shipped as ``model``."""
    from seedembed import zoo
    from seedembed.errors import ModelError

    try:
        want = zoo.recorded_fingerprint(model)
    except ModelError:  # not installed here: nothing to compare with
        return
    got = run.get("method", {}).get("fingerprint")
    if want is not None and got != want:
        raise DataError(
            f"{str(path)!r} measured generator {str(got)[:12]}..., not the shipped {model} "
            f"({want[:12]}...): rerun `{redo}`"
        )


def _plain(json_dir: Path, goal: Goal) -> dict | None:
    """The plain GAN's figures from its ``evaluate`` JSON, checked against its fingerprint."""
    path = json_dir / f"{goal.plain}-test.json"
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    redo = f"seedembed evaluate --model {goal.plain} --search image --fid --json {path}"
    check_run(path, doc, goal.plain, redo)
    search, split = doc["method"].get("search"), doc.get("dataset", {}).get("split", "test")
    if search != "image" or split != "test":
        raise DataError(f"{str(path)!r} is not an exact search of every test image: run `{redo}`")
    return {k: v[0] if isinstance(v, list) else v for k, v in doc["results"].items()}


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    value = float(value)
    return f"{value:.4f}" if abs(value) < 1 else f"{value:.1f}"


def _rows(json_dir: Path, goal: Goal) -> list[tuple]:
    """(data set, figure, goal, shipped, plain GAN, met) rows of one goal; none unmeasured."""
    shipped = _shipped_row(json_dir, goal)
    if shipped is None:
        return []
    plain = _plain(json_dir, goal) or {}
    rows = []
    for key, name, op, bound in goal.bounds:
        value = shipped.get(key)
        met = "-" if value is None else "yes" if _OPS[op](float(value), bound) else "**no**"
        rows.append((goal.dataset, name, f"{op} {bound:g}", _fmt(value), _fmt(plain.get(key)), met))
    fid, ref = shipped.get("fid_inception"), plain.get("fid_inception")
    if fid is not None and ref is not None:
        met = "yes" if float(fid) <= FID_FACTOR * float(ref) else "**no**"
        bound = f"<= {FID_FACTOR:g} x plain GAN ({FID_FACTOR * float(ref):.1f})"
        rows.append((goal.dataset, "FID (Inception, 500 a side)", bound, _fmt(fid), _fmt(ref), met))
    return rows


def goal_lines(
    json_dir: str | Path, img_dir: str | Path | None = None, tables: set[str] | None = None
) -> list[str]:
    """Markdown lines: a table of every goal, the shipped figure, the plain GAN's and met/not
    met; empty when no shipped model's table has been measured. ``tables``: the tables the
    document prints (a goal whose table it does not print is left out)."""
    json_dir = Path(json_dir)
    rows, stale = [], []
    for goal in GOALS:
        if tables is not None and goal.table not in tables:
            continue
        try:
            rows += _rows(json_dir, goal)
        except DataError as exc:  # say so instead of printing another model's figures
            stale.append(f"- {goal.dataset}: not shown, {exc}")
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            stale.append(f"- {goal.dataset}: not shown, unreadable results ({exc!r})")
    if not rows and not stale:
        return []
    names = ", ".join(f"`{g.model}` (plain GAN: `{g.plain}`)" for g in GOALS)
    lines = [
        "### Codebook fine-tuning (issue 9): goals",
        "",
        f"- models: {names}; one seed (19 bits) each, all test images, exact image search "
        "(the codec's default once `seedembed cache build` has made the codebook)",
        "- shipped: the rows of the tables below; plain GAN: `seedembed evaluate --model PLAIN "
        "--search image --fid --fid-n 500 --json docs/results/PLAIN-test.json`",
        "",
        "| data set | figure | goal | shipped (fine-tuned) | plain GAN | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {d} | {n} | {g} | {v} | {p} | {m} |" for d, n, g, v, p, m in rows]
    lines += ["", *stale, ""] if stale else [""]
    if img_dir is not None and (Path(img_dir) / "rdp-mnist-5101.png").is_file():
        lines += [
            "The rate-distortion-perception curve (the fine-tuning's adversarial weight, one "
            "13-bit seed of `mnist-5101`, `scripts/rdp_curve.py`; numbers in "
            "`results/rdp-mnist-5101.json`, discussion in [training.md](training.md)); the "
            "shipped `mnist-524287` took the weight 0.02, `anime-524287` 0.05 with an SSIM term:",
            "",
            f"![rate-distortion-perception, mnist-5101]({Path(img_dir).name}/rdp-mnist-5101.png)",
            "",
        ]
    return lines
