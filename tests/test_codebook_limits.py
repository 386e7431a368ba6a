"""`scripts/mnist_codebook_limits.py --mask-net`: the search restricted to confident entries,
and `--gaps`: how near the misread digits' right entries are."""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

import pytest

import seedembed.zoo

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "mnist_codebook_limits.py"
JUDGE = Path(seedembed.zoo.__file__).parent / "mnist-classifier"


def _run(argv: list[str], monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), *argv])
    runpy.run_path(str(SCRIPT), run_name="__main__")


@pytest.fixture(scope="module")
def rows(tmp_path_factory, one_thread) -> dict:
    """One run of the script on mnist-5101 with the shipped judge as the mask net: the thresholds
    0 and 0.99, then the gaps 1e-9 and 100 (both tests read it; a run takes about 40 s)."""
    if not (Path(os.environ.get("SEEDEMBED_DATA", "/nonexistent")) / "MNIST" / "raw").is_dir():
        pytest.skip("no MNIST under SEEDEMBED_DATA")
    tmp = tmp_path_factory.mktemp("limits")
    out = tmp / "rows.json"
    argv = ["--models", "mnist-5101", "--mask-net", str(JUDGE), "--thresholds", "0", "0.99"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEEDEMBED_CACHE", str(tmp / "cache"))
        _run([*argv, "--gaps", "1e-9", "100", "--json", str(out)], mp)
    return json.loads(out.read_text())


def test_restricted_search_leaves_out_unconfident_entries(rows):
    doc = rows
    clean, full, all_entries, confident = doc["rows"][:4]
    assert clean["acc shipped"] > 0.98
    assert sum(doc["entries_per_class"]["mnist-5101"]) == 5101
    # threshold 0 keeps every entry: the same exact search, the same reconstructions
    assert all_entries["entries"] == 5101 and all_entries["threshold"] == 0
    assert all_entries["mse"] == pytest.approx(full["mse"], rel=1e-5)
    assert all_entries["acc shipped"] == pytest.approx(full["acc shipped"], abs=1e-4)
    # a strict threshold leaves entries out; an argmin over fewer entries is never closer
    assert 0 < confident["entries"] < 5101 and confident["threshold"] == 0.99
    assert confident["mse"] > full["mse"]
    # with the judge itself as the mask net, only entries it reads surely are left: its accuracy
    # rises (a mask read on the wrong pixel scale would leave arbitrary entries)
    assert confident["acc shipped"] > full["acc shipped"]


def test_near_misses_are_counted_and_moving_them_reads_right(rows):
    doc = rows
    full, tiny, wide = doc["rows"][1], doc["rows"][4], doc["rows"][5]
    assert len(doc["rows"]) == 6 and (tiny["gap"], wide["gap"]) == (1e-9, 100)
    near = doc["near_misses"]["mnist-5101"]
    # the judge is the mask net here: the digits it misreads are the ones the net finds misread
    # (up to a digit or two: the net reads stored entries, the judge fresh renders)
    misread = round((1 - full["acc shipped"]) * 10_000)
    assert abs(near["misread by the mask net"] - misread) <= 2
    assert 0 < near["with a right entry among the nearest"] <= near["misread by the mask net"]
    assert (
        sum(near["rank of the right entry (1 = second nearest)"])
        == (near["with a right entry among the nearest"])
    )
    q = list(near["gap quantiles"].values())
    assert 0 < q[0] <= q[-1] and q == sorted(q)
    # no gap is that small: nothing moves; every gap is below 100: all found ones move
    assert tiny["digits moved"] == 0 and tiny["mse"] == pytest.approx(full["mse"], rel=1e-5)
    assert wide["digits moved"] == near["with a right entry among the nearest"]
    moved = wide["digits moved"] / 10_000
    assert wide["acc shipped"] == pytest.approx(full["acc shipped"] + moved, abs=2e-4)
    assert wide["mse"] > full["mse"]  # the argmin was the nearest: any other entry is farther


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--models", "mnist-5101", "--mask-net", str(JUDGE), "--thresholds", "1.5"], "[0, 1)"),
        (["--mask-net", str(JUDGE)], "--mask-net needs --models"),
        (["--models", "mnist-5101", "--gaps", "0.1"], "--gaps needs --mask-net"),
        (["--models", "mnist-5101", "--mask-net", str(JUDGE), "--gaps", "0"], "each > 0"),
        (["--models", "mnist-5101", "--mask-net", "/nonexistent"], "digit classifier"),
    ],
)
def test_bad_arguments_are_one_line_errors(argv, message, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exc:
        _run(argv, monkeypatch)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
