"""Issue 9's goals section of docs/results.md: figures checked against the shipped models."""

from __future__ import annotations

import json

import pytest

from seedembed import zoo
from seedembed.experiments.goals import goal_lines


def _table(path, model, fingerprint, **values):
    doc = {
        "rows": [{"label": f"seedembed {model}, image search", "values": values}],
        "results": [{"name": f"{model}/image", "method": {"fingerprint": fingerprint}}],
    }
    path.write_text(json.dumps(doc))


def _evaluate(path, fingerprint, search="image", **values):
    doc = {
        "method": {"fingerprint": fingerprint, "search": search},
        "dataset": {"split": "test"},
        "results": {k: [v] for k, v in values.items()},
    }
    path.write_text(json.dumps(doc))


def test_goals_are_marked_met_or_not_beside_the_plain_gan(tmp_path):
    fp = zoo.recorded_fingerprint
    _table(tmp_path / "anime-test.json", "anime-524287", fp("anime-524287"),
           mse_01=0.040, ssim=0.36, fid_inception=300.0)  # fmt: skip
    _evaluate(tmp_path / "anime-524287-gan-test.json", fp("anime-524287-gan"),
              mse_01=0.045, ssim=0.21, fid_inception=140.0)  # fmt: skip
    text = "\n".join(goal_lines(tmp_path))
    assert "| anime faces | MSE[0,1] | <= 0.035 | 0.0400 | 0.0450 | **no** |" in text
    assert "| anime faces | SSIM | >= 0.35 | 0.3600 | 0.2100 | yes |" in text
    # FID 300 is more than twice the plain GAN's 140
    assert "<= 2 x plain GAN (280.0) | 300.0 | 140.0 | **no** |" in text
    assert "MNIST" not in text.split("| --- |")[-1]  # no MNIST table measured: no MNIST rows


def test_figures_of_another_generator_are_refused_not_printed(tmp_path):
    _table(tmp_path / "mnist-test.json", "mnist-524287", "0" * 64, mse_m11=0.05, ssim=0.9)
    text = "\n".join(goal_lines(tmp_path))
    assert "not shown" in text and "not the shipped mnist-524287" in text
    assert "| MNIST |" not in text
    fp = zoo.recorded_fingerprint
    _table(tmp_path / "mnist-test.json", "mnist-524287", fp("mnist-524287"), mse_m11=0.05)
    _evaluate(tmp_path / "mnist-524287-gan-test.json", fp("mnist-5101"), mse_m11=0.1)
    text = "\n".join(goal_lines(tmp_path))
    assert "not the shipped mnist-524287-gan" in text and "seedembed evaluate" in text
    _evaluate(tmp_path / "mnist-524287-gan-test.json", fp("mnist-524287-gan"), "hybrid", mse_m11=1)
    text = "\n".join(goal_lines(tmp_path))  # a shortlist search is not the goals' protocol
    assert "not an exact search of every test image" in text and "| MNIST |" not in text
    (tmp_path / "mnist-524287-gan-test.json").unlink()
    _table(tmp_path / "mnist-test.json", "mnist-524287", fp("mnist-524287"), mse_m11="x")
    assert "unreadable results" in "\n".join(goal_lines(tmp_path))  # no traceback


def test_no_measured_table_gives_no_section(tmp_path):
    assert goal_lines(tmp_path) == []


def test_quick_or_unreadable_results_are_not_taken_for_the_goals(tmp_path):
    fp = zoo.recorded_fingerprint
    _table(tmp_path / "mnist-test.json", "mnist-524287", fp("mnist-524287"), mse_m11=0.05)
    doc = json.loads((tmp_path / "mnist-test.json").read_text())
    doc["report"] = {"quick": True}  # 200 digits, FID on 100 a side: not the goals' protocol
    (tmp_path / "mnist-test.json").write_text(json.dumps(doc))
    assert goal_lines(tmp_path) == []
    (tmp_path / "anime-test.json").write_text('{"rows": [')  # cut short
    text = "\n".join(goal_lines(tmp_path))
    assert "anime faces: not shown, unreadable results" in text
    assert goal_lines(tmp_path, tables={"mnist-test"}) == []  # the anime table is not printed


def test_report_keep_refuses_a_table_of_a_replaced_shipped_model(tmp_path):
    """`report --keep` must not reprint figures of a generator that no longer ships under the
    name its rows carry."""
    from seedembed.errors import DataError
    from seedembed.experiments.report import _kept
    from seedembed.experiments.tables import Column, Table

    table = Table("mnist-test", "t", [Column("mse_m11", "MSE")])
    table.add("seedembed mnist-524287, image search", "ours", {"mse_m11": 0.08})
    doc = table.to_dict()
    doc["results"] = [{"method": {"model": "mnist-524287", "fingerprint": "0" * 64}}]
    doc["report"] = {"quick": False}
    (tmp_path / "mnist-test.json").write_text(json.dumps(doc))
    with pytest.raises(DataError, match="not the shipped mnist-524287"):
        _kept(tmp_path, "mnist-test", False)
    doc["results"][0]["method"]["fingerprint"] = zoo.recorded_fingerprint("mnist-524287")
    (tmp_path / "mnist-test.json").write_text(json.dumps(doc))
    assert _kept(tmp_path, "mnist-test", False)[0].rows == table.rows
