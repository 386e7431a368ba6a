"""The PRF commands: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from seedembed import prf
from seedembed.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_prf_info_lcg(capsys):
    code, out, _ = run_cli(capsys, "prf-info", "lcg-524287")
    assert code == 0
    assert "524,287 seeds" in out and "19.00" in out
    assert "not full period" in out and "1 of length 524,286" in out
    assert "fixed points  98223" in out and "nu2 = 679.46" in out


def test_prf_info_json_full_period(capsys):
    code, out, _ = run_cli(capsys, "prf-info", "lcg:a=5,c=3,m=16", "--json")
    info = json.loads(out)
    assert code == 0 and info["hull_dobell"]["full_period"] is True
    assert info["cycles"]["lengths"] == {"16": 1} and info["stored_bits"] == 4


def test_prf_info_non_lcg(capsys):
    code, out, _ = run_cli(capsys, "prf-info", "henon")
    assert code == 0 and "1,048,576 seeds" in out and "hull-dobell" not in out


def test_prf_sequence_matches_the_api(capsys):
    code, out, _ = run_cli(capsys, "prf-sequence", "lcg-5101", "--seeds", "0", "7", "--length", "6")
    assert code == 0
    rows = [[float(v) for v in line.split()] for line in out.splitlines()]
    ref = prf.get("lcg-5101").sequences([0, 7], 6, dtype=torch.float64).tolist()
    assert rows == ref


def test_prf_sequence_raw(capsys):
    code, out, _ = run_cli(
        capsys, "prf-sequence", "lcg-524287", "--seeds", "1", "--length", "5", "--raw"
    )
    assert code == 0 and out.split() == ["1", "319370", "387157", "392997", "165291"]


def test_keyed_through_the_cli(capsys, tmp_path):
    key_path = tmp_path / "key"
    code, out, _ = run_cli(capsys, "prf-keygen", "-o", str(key_path))
    assert code == 0 and key_path.exists()
    code, out, _ = run_cli(
        capsys,
        "prf-sequence",
        "keyed",
        "--seeds",
        "3",
        "--length",
        "4",
        "--key-file",
        str(key_path),
    )
    ref = prf.get("keyed", key=prf.read_key(key_path)).sequences([3], 4, dtype=torch.float64)
    assert code == 0 and [float(v) for v in out.split()] == ref[0].tolist()
    code, _, err = run_cli(capsys, "prf-keygen", "-o", str(key_path))
    assert code == 2 and "refusing to overwrite" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["prf-info", "nope"], "unknown PRF"),
        (["prf-info", "lcg:a=3,c=1,m=1"], "m must be > 1"),
        (["prf-info", "lcg:a=9,c=1,m=7"], "a must be in"),
        (["prf-info", "lcg:a=3,c=1.5,m=7"], "must be an integer"),
        (["prf-sequence", "lcg-5101", "--seeds", "5101", "--length", "3"], "outside the seed"),
        (["prf-sequence", "lcg-5101", "--seeds", "-2", "--length", "3"], "outside the seed"),
        (["prf-sequence", "lcg-5101", "--seeds", "1", "--length", "0"], "length"),
        (["prf-sequence", "uniform", "--seeds", "1", "--length", "3", "--raw"], "not an LCG"),
        (["prf-sequence", "keyed", "--seeds", "1", "--length", "3"], "needs a key"),
        (["prf-sequence", "keyed", "--seeds", "1", "--length", "3", "--key-file", "/nonexistent"],
         "cannot read key file"),
        (["prf-stats", "--n", "1"], "at least 2"),
        (["prf-stats", "--prf", "nope"], "unknown PRF"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["prf-sequence", "lcg-5101", "--seeds", "1.5", "--length", "3"],
        ["prf-sequence", "lcg-5101", "--seeds", "1", "--length", "x"],
        ["prf-sequence", "lcg-5101", "--length", "3"],
        ["no-such-command"],
    ],
)
def test_argparse_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_python_m_and_console_script_agree():
    args = ["prf-sequence", "lcg-5101", "--seeds", "2", "--length", "3", "--raw"]
    a = subprocess.run([sys.executable, "-m", "seedembed", *args], capture_output=True, text=True)
    assert a.returncode == 0 and a.stdout.split() == ["2", "5093", "3066"]
    b = subprocess.run(
        [sys.executable, "-m", "seedembed", "prf-info", "nope"], capture_output=True, text=True
    )
    assert b.returncode == 2 and b.stderr.startswith("seedembed prf-info: error: unknown PRF")


def test_prf_stats_json(capsys):
    code, out, _ = run_cli(
        capsys, "prf-stats", "--json", "--n", "50", "--prf", "uniform", "lcg-5101"
    )
    rows = json.loads(out)
    assert code == 0 and [r["prf"] for r in rows] == ["uniform", "lcg-5101"]
    for row in rows:
        assert {"prf", "cosine", "pcc", "ks", "runs_z", "thesis", "protocol"} <= set(row)
    assert rows[1]["thesis"]["ks"] == pytest.approx(0.504770)
    assert "spectral_nu2" in rows[1] and "spectral_nu2" not in rows[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["encode-set", "mnist", "-o", "x.seed", "--limit", "0"],
        ["encode", "x.png", "-o", "x.seed", "--topk", "0"],
        ["train-classifier", "--out", "c", "--epochs", "0"],
        ["search-table", "--search", "foo"],
        ["search-table", "--n", "-5"],
        ["train-inverse", "--model", "mnist-5101", "--steps", "0"],
    ],
)
def test_shared_argument_types_refuse_bad_values(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "error: argument" in capsys.readouterr().err
