"""The randomness study: its statistics measure what they claim."""

from __future__ import annotations

import numpy as np
import pytest

from seedembed.experiments.randomness import Protocol, format_table, run, sequence_statistics


def test_statistics_of_true_uniform_noise():
    x = np.random.default_rng(0).uniform(-1, 1, size=(800, 100))
    s = sequence_statistics(x)
    assert abs(s["cosine"]) < 0.005 and abs(s["pcc"]) < 0.005
    assert 0.07 < s["ks"] < 0.10  # the mean KS statistic of 100 uniform samples is ~0.087
    assert 0.49 < s["ks_thesis_ref"] < 0.52  # the thesis' ~0.5 for uniform data
    assert abs(s["runs_z"]) < 0.15 and 0.02 < s["runs_reject"] < 0.09
    assert abs(s["acf1"] + 0.01) < 0.01 and s["serial_p"] > 1e-3


def test_statistics_detect_structure():
    rng = np.random.default_rng(0)
    walk = np.clip(np.cumsum(rng.normal(0, 0.1, size=(300, 100)), axis=1), -1, 1)
    s = sequence_statistics(walk)
    assert s["acf1"] > 0.5 and s["runs_z"] < -3 and s["serial_p"] < 1e-10
    shared = np.tile(rng.uniform(-1, 1, 100), (300, 1)) + rng.normal(0, 0.1, (300, 100))
    assert sequence_statistics(np.clip(shared, -1, 1))["pcc"] > 0.9


def test_study_exposes_lcg_lattice_and_henon_correlation():
    rows = {r["prf"]: r for r in run(Protocol(n_sequences=1000), ["lcg-5101", "henon", "uniform"])}
    assert rows["lcg-5101"]["serial_p"] < 1e-8  # pairs on lines 1/61 apart
    assert rows["uniform"]["serial_p"] > 1e-3
    assert rows["henon"]["acf1"] < -0.2  # x_{n+1} = 1 - a x_n^2 + b x_{n-1}
    assert rows["lcg-5101"]["spectral_nu2"] == pytest.approx(61.40, abs=0.01)


def test_table_prints_thesis_beside_ours():
    protocol = Protocol(n_sequences=100, length=50)
    text = format_table(run(protocol, ["tent", "lcg-524287"]), protocol)
    assert "100 sequences of 50 symbols" in text
    assert "1.300e-05" in text and "0.5048" in text  # tent's thesis PCC, LCG's thesis KS
