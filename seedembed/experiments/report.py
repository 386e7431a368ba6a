"""``seedembed report``: reproduce every table that has its models and write docs/results.md.

The markdown, the tables' JSON (``docs/results/<table>.json``), the rate-distortion plot and the
sample sheet are all written by this one command, with the machine, the commit and the time
each table took, so the document can always be regenerated and checked.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from seedembed.errors import DataError, ModelError, SeedembedError
from seedembed.evaluation.plot import plot_rd
from seedembed.evaluation.sheets import sample_sheet
from seedembed.experiments.goals import check_run, goal_lines
from seedembed.experiments.tables import TABLES, Session, Table, format_markdown, reproduce
from seedembed.train.runinfo import command_line, git_commit, machine, utc_now
from seedembed.zoo import REGISTRY


def _kept(json_dir: Path, name: str, quick: bool) -> tuple[Table, dict] | None:
    """The table ``name`` as an earlier report of the same kind (full or --quick) wrote it,
    with where it came from; None when there is none."""
    path = json_dir / f"{name}.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        stamp = doc.get("report", {})
        if not isinstance(stamp, dict):
            raise ValueError("its 'report' stamp is not an object")
        table = Table.from_dict(doc)
        format_markdown(table)  # every row must print
        for run in doc.get("results", []):  # rows of a shipped model that has changed since
            model = run.get("method", {}).get("model")
            if model in REGISTRY:
                check_run(path, run, model, f"seedembed report --tables {name} --keep")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"cannot keep table {name!r} from {str(path)!r}: {exc}") from None
    if bool(stamp.get("quick", False)) != quick:
        return None  # a --quick table never stands in a full report, nor the reverse
    return table, stamp


def write_report(
    out: str | Path = "docs/results.md",
    session: Session | None = None,
    *,
    tables: tuple[str, ...] = tuple(TABLES),
    keep: bool = False,
) -> Path:
    """Run ``tables`` (skipping, with the reason, those whose models are absent) and write.

    ``keep`` also prints every other table from the JSON an earlier report left beside ``out``,
    marked with the commit and time that measured it, so one table can be redone without
    re-running all of them (the MNIST set takes over an hour on a 2-core CPU).
    """
    import torch

    session = session or Session()
    out = Path(out)
    json_dir, img_dir = out.parent / "results", out.parent / "img"
    for d in (json_dir, img_dir):
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot create {str(d)!r}: {exc}") from None
    unknown = [name for name in tables if name not in TABLES]
    if unknown:
        raise ModelError(f"unknown table {unknown[0]!r} (known: {', '.join(TABLES)})")
    kept: dict[str, tuple[Table, dict]] = {}
    if keep:  # read them all before spending an hour on the others
        for name in TABLES:
            old = None if name in tables else _kept(json_dir, name, session.quick)
            if old is not None:
                kept[name] = old
    t_all = time.perf_counter()
    done: list[tuple[Table, float]] = []
    skipped: list[tuple[str, str]] = []
    for name in TABLES:
        if name in kept:
            done.append((kept[name][0], kept[name][1].get("seconds", float("nan"))))
            continue
        if name not in tables:
            continue
        t0 = time.perf_counter()
        try:
            table = reproduce(name, session)
        except SeedembedError as exc:  # a missing model or data set: the rest still runs
            skipped.append((name, str(exc)))
            session.log(f"skipped {name}: {exc}")
            continue
        seconds = time.perf_counter() - t0
        done.append((table, seconds))
        stamp = {"seconds": round(seconds, 1), "commit": git_commit(), "utc": utc_now()}
        stamp["quick"] = session.quick
        doc = {**table.to_dict(), "report": stamp}
        (json_dir / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    suffix = "-quick" if session.quick else ""
    made = {t.name for t, _ in done}
    figures = []
    for table, dataset, title, stem in (
        ("mnist-test", "mnist", "MNIST test set", "mnist"),
        ("anime-test", "anime-faces", "anime test set", "anime"),
    ):
        if table not in made:
            continue
        rd = plot_rd([json_dir / f"{table}.json"], img_dir / f"rd_{stem}{suffix}.png",
                     title=f"{title}: rate-distortion")  # fmt: skip
        figures.append((f"Rate-distortion, {title}", rd))
        sheet = img_dir / f"sheet_{stem}{suffix}.png"
        rows = session.test_reconstructions(dataset)
        if rows:
            sample_sheet(session.images("test", dataset=dataset).images, rows, sheet)
        if rows or (table in kept and sheet.is_file()):  # a kept table keeps its run's sheet
            figures.append((f"Sample sheet, {title} (originals on top)", sheet))
    for table, stem, title in (
        ("mnist-composition", "composition", "MNIST test set"),
        ("anime-composition", "composition_anime", "anime test set"),
    ):
        if table in made:
            rd = plot_rd([json_dir / f"{table}.json"], img_dir / f"rd_{stem}{suffix}.png",
                         title=f"{title}: noise composition")  # fmt: skip
            figures.append((f"Rate-distortion of noise composition, {title}", rd))

    def timing(table: Table, seconds: float) -> str:
        if table.name not in kept:
            return f"`{table.name}` {seconds:.0f} s"
        k = kept[table.name][1]
        when = f"{k.get('utc', 'an earlier run')}, commit {str(k.get('commit', '?'))[:7]}"
        return f"`{table.name}` kept from {when}"

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
        + ", ".join(timing(t, s) for t, s in done)
        + " (each alone: `seedembed reproduce TABLE`)",
        f"- JSON of every table: `{json_dir.name}/<table>.json`",
        "",
    ]
    for title, path in figures:
        lines += [f"## {title}", "", f"![{title}]({path.relative_to(out.parent)})", ""]
    lines += ["## Tables", ""]
    if not session.quick:
        lines += goal_lines(json_dir, img_dir, tables={t.name for t, _ in done})
    for table, _ in done:
        lines += [format_markdown(table), ""]
    if skipped:
        lines += ["## Not reproduced here", ""]
        lines += [f"- `{name}`: {why}" for name, why in skipped]
        lines.append("")
    out.write_text("\n".join(lines))
    return out
