"""``seedembed report``: reproduce every table that has its models and write docs/results.md.

The markdown, the tables' JSON (``docs/results/<table>.json``), the rate-distortion plot and the
sample sheet are all written by this one command, with the machine, the commit and the time
each table took, so the document can always be regenerated and checked.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from seedembed.errors import DataError, ModelError
from seedembed.evaluation.plot import plot_rd
from seedembed.evaluation.sheets import sample_sheet
from seedembed.experiments.tables import TABLES, Session, Table, format_markdown, reproduce
from seedembed.train.runinfo import command_line, git_commit, machine, utc_now

MNIST_TABLES = ("randomness", "mnist-synthetic", "mnist-test", "mnist-classification")


def write_report(
    out: str | Path = "docs/results.md",
    session: Session | None = None,
    *,
    tables: tuple[str, ...] = tuple(TABLES),
) -> Path:
    """Run ``tables`` (skipping, with the reason, those whose models are absent) and write."""
    import torch

    session = session or Session()
    out = Path(out)
    json_dir, img_dir = out.parent / "results", out.parent / "img"
    for d in (json_dir, img_dir):
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot create {str(d)!r}: {exc}") from None
    t_all = time.perf_counter()
    done: list[tuple[Table, float]] = []
    skipped: list[tuple[str, str]] = []
    for name in tables:
        t0 = time.perf_counter()
        try:
            table = reproduce(name, session)
        except ModelError as exc:
            skipped.append((name, str(exc)))
            session.log(f"skipped {name}: {exc}")
            continue
        seconds = time.perf_counter() - t0
        done.append((table, seconds))
        (json_dir / f"{name}.json").write_text(json.dumps(table.to_dict(), indent=2) + "\n")
    suffix = "-quick" if session.quick else ""
    figures = []
    if any(t.name == "mnist-test" for t, _ in done):
        rd = plot_rd([json_dir / "mnist-test.json"], img_dir / f"rd_mnist{suffix}.png",
                     title="MNIST test set: rate-distortion")  # fmt: skip
        figures.append(("Rate-distortion, MNIST test set", rd))
        test = session.images("test")
        rows = session.test_reconstructions()
        sheet = sample_sheet(test.images, rows, img_dir / f"sheet_mnist{suffix}.png")
        figures.append(("Sample sheet, MNIST test digits (originals on top)", sheet))
    if any(t.name == "mnist-composition" for t, _ in done):
        rd = plot_rd([json_dir / "mnist-composition.json"], img_dir / f"rd_composition{suffix}.png",
                     title="MNIST test set: noise composition")  # fmt: skip
        figures.append(("Rate-distortion of noise composition, MNIST test set", rd))
    lines = [
        "# Results",
        "",
        "Every table of the thesis (`../shared/reference/numbers.md`) reproduced by one command, "
        "our rows (**bold**) beside the thesis' and the measured limits. This file is written by",
        "",
        "```",
        command_line(),
        "```",
        "",
        f"- machine: {machine(torch.device(session.device), 1)}",
        f"- commit: {git_commit()}",
        f"- written: {utc_now()}, total {time.perf_counter() - t_all:.0f} s",
        "- tables: "
        + ", ".join(f"`{t.name}` {s:.0f} s" for t, s in done)
        + " (each alone: `seedembed reproduce TABLE`)",
        f"- JSON of every table: `{json_dir.name}/<table>.json`",
        "",
    ]
    for title, path in figures:
        lines += [f"## {title}", "", f"![{title}]({path.relative_to(out.parent)})", ""]
    lines += ["## Tables", ""]
    for table, _ in done:
        lines += [format_markdown(table), ""]
    if skipped:
        lines += ["## Not reproduced here", ""]
        lines += [f"- `{name}`: {why}" for name, why in skipped]
        lines.append("")
    out.write_text("\n".join(lines))
    return out
