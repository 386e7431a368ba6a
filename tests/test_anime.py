"""The anime tables and `report --keep`, on a tiny 64x64 RGB model and a fake anime folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_data import write_image

from seedembed.cli import main
from seedembed.errors import ModelError
from seedembed.experiments import tables
from seedembed.experiments.report import write_report
from seedembed.experiments.tables import Session, Table, reproduce
from seedembed.models import GanConfig, Generator
from seedembed.train import TrainConfig
from seedembed.train import checkpoint as ckpt
from seedembed.train.inverse import InverseTrainConfig, train_inverse

TINY = GanConfig.anime(g_width=8, d_width=8)


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread):
    """Every test of this module on one torch thread (conftest.one_thread)."""


@pytest.fixture(scope="module")
def anime_root(tmp_path_factory) -> Path:
    """A data root with anime-faces/: 8 training and 4 test faces of random colour blocks."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    images = root / "anime-faces" / "images"
    for i in range(12):
        face = np.kron(rng.integers(0, 255, (4, 4, 3), np.uint8), np.ones((16, 16, 1), np.uint8))
        write_image(images / f"{i}.jpg", face)
    (root / "anime-faces" / "test.txt").write_text("".join(f"{i}.jpg\n" for i in range(8, 12)))
    return root


@pytest.fixture(scope="module")
def anime_model(tmp_path_factory) -> Path:
    """An untrained tiny 64x64 generator on lcg-5101 with a briefly trained inverse."""
    torch.manual_seed(0)
    G = Generator(TINY)
    with torch.no_grad():  # batch norm statistics from a few forwards
        for _ in range(3):
            G(torch.rand(32, TINY.latent_length) * 2 - 1)
    folder = tmp_path_factory.mktemp("anime") / "anime-tiny"
    folder.mkdir()
    train = TrainConfig(model=TINY, dataset="anime-faces", prf="lcg-5101", epochs=1)
    ckpt.save_model(folder, G.eval(), {"train": train.to_dict()})
    cfg = InverseTrainConfig(steps=4, batch_size=16, width=4, holdout=20)
    train_inverse(folder, cfg, progress=False, evaluate_at_end=False, checkpoint_every=0)
    return folder


def _session(anime_root, anime_model, **kw) -> Session:
    return Session(
        quick=True,
        data_root=str(anime_root),
        fid=False,
        log=lambda _: None,
        anime_models=(str(anime_model),),
        **kw,
    )


def test_anime_test_table_has_ours_thesis_and_limits(anime_root, anime_model):
    table = reproduce("anime-test", _session(anime_root, anime_model))
    near = [r for r in table.rows if r["label"] == "nearest training face"]
    assert near and near[0]["values"]["bits_per_image"] == pytest.approx(3.0)  # 8 fake faces
    ours = [r for r in table.rows if r["source"] == "ours"]
    assert [r["label"] for r in ours] == [
        "seedembed anime-tiny, hybrid search",
        "seedembed anime-tiny, the thesis' neighbourhood search",
    ]
    for r in ours:
        v = r["values"]
        assert v["bits_per_image"] == pytest.approx(13.0)  # ceil(log2 5101)
        assert v["mse_m11"] == pytest.approx(4 * v["mse_01"], rel=1e-5)
        assert 0 < v["mse_01"] < 1 and -1 <= v["ssim"] <= 1
    assert table.results[0]["n_images"] == 4  # the faces named by test.txt
    thesis = {r["label"]: r["values"] for r in table.rows if r["source"] == "thesis"}
    assert thesis["Inverse GAN(524287)"]["mse_01"] == pytest.approx(0.0855831)
    limits = {r["label"]: r["values"] for r in table.rows if r["source"] == "limit"}
    assert limits["nearest training image"]["ssim_crop"] == pytest.approx(0.273)


def test_anime_synthetic_table_recovers_seeds_of_its_own_images(anime_root, anime_model):
    table = reproduce("anime-synthetic", _session(anime_root, anime_model))
    (ours,) = [r["values"] for r in table.rows if r["source"] == "ours"]
    assert table.results[0]["n_images"] == 200
    assert 0 <= ours["seed_recovery"] <= 1 and ours["mse_latent_inverse"] >= 0
    assert {r["label"] for r in table.rows if r["source"] == "thesis"} == {
        "Inverse GAN(5101)",
        "Inverse GAN(29282)",
        "Inverse GAN(524287)",
    }


def test_anime_composition_rows_fit_their_bits_and_improve_with_n(anime_root, anime_model):
    table = reproduce("anime-composition", _session(anime_root, anime_model))
    ours = {r["label"]: r["values"] for r in table.rows if r["source"] == "ours"}
    for n in (1, 2, 5, 10, 20):
        assert ours[f"LCG {n}, MP"]["bits_per_image"] == n * (13 + 8) + 16
        assert ours[f"image-aware {n}"]["bits_per_image"] == n * (13 + 8) + 16
    # image-aware composition fits the 4 test faces better with more seeds
    assert ours["image-aware 20"]["mse_01"] < ours["image-aware 1"]["mse_01"]
    thesis = {r["label"] for r in table.rows if r["source"] == "thesis"}
    assert {"Uniform 20", "LCG 20", "AE(28)"} <= thesis
    assert any("Goal (issue 7" in note for note in table.notes)


def test_anime_tables_without_an_anime_model_are_skipped_with_the_reason(
    anime_root, tmp_path, monkeypatch
):
    monkeypatch.setenv("SEEDEMBED_CACHE", str(tmp_path / "cache"))  # no trained baselines
    session = _session(anime_root, tmp_path / "none")
    for name in ("anime-test", "anime-synthetic", "anime-composition"):
        with pytest.raises(ModelError, match="need an anime model"):
            reproduce(name, session)
    with pytest.raises(ModelError, match="only cached ones are used"):  # --quick never trains
        reproduce("anime-autoencoders", session)


def test_report_keep_reprints_earlier_tables_with_their_provenance(
    anime_root, anime_model, tmp_path, monkeypatch
):
    out = tmp_path / "docs" / "results.md"
    session = _session(anime_root, anime_model)
    write_report(out, session, tables=("anime-test",))
    doc = json.loads((tmp_path / "docs" / "results" / "anime-test.json").read_text())
    assert doc["report"]["seconds"] > 0 and doc["report"]["utc"]
    assert Table.from_dict(doc).to_dict() == {k: v for k, v in doc.items() if k != "report"}
    assert (tmp_path / "docs" / "img" / "sheet_anime-quick.png").is_file()

    def not_again(name, _session):
        raise AssertionError(f"{name} was run again")

    monkeypatch.setattr(tables, "reproduce", not_again)
    monkeypatch.setattr("seedembed.experiments.report.reproduce", not_again)
    write_report(out, session, tables=(), keep=True)
    text = out.read_text()
    assert "`anime-test` kept from " in text and "seedembed anime-tiny, hybrid search" in text
    assert "sheet_anime-quick.png" in text  # the kept table keeps its run's sheet
    write_report(out, session, tables=())
    assert "anime-tiny" not in out.read_text()  # without --keep, nothing is reprinted


def test_cli_report_keep_flag_parses(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "--keep" in capsys.readouterr().out


def test_digit_cnn_terms_are_refused_for_a_face_model_before_any_work(anime_model, tmp_path):
    from seedembed.train.codebook import FinetuneConfig, finetune_codebook
    from seedembed.zoo import CLASSIFIER, ZOO_DIR

    cfg = FinetuneConfig(class_weight=0.1, perceptual_net=str(ZOO_DIR / CLASSIFIER))
    with pytest.raises(ModelError, match="digit CNN .* makes 3x64x64 images"):
        finetune_codebook(str(anime_model), tmp_path / "ft", cfg, progress=False)
    assert not (tmp_path / "ft").exists()


def test_anime_baselines_train_code_and_refuse_digits(anime_root, tmp_path):
    """anime-* baselines train on the anime training faces and code 3x64x64 images."""
    from seedembed.baselines import load_baseline, parse_name, train_baseline
    from seedembed.data import load_uint8, open_dataset
    from seedembed.errors import DataError

    assert parse_name("anime-ae14-q8") == ("ae", "anime-ae14", 14, True)
    assert parse_name("anime-kmeans-5101")[1] == "anime-kmeans-5101"
    test = load_uint8(open_dataset("anime-faces", anime_root, train=False)).float() / 255
    kw = dict(data_root=str(anime_root), cache_dir=tmp_path, log=None)
    ae = train_baseline("anime-ae7", epochs=150, batch_size=4, **kw)
    q8 = load_baseline("anime-ae7-q8", train_missing=False, **kw)  # shares ae7's artefact
    assert ae.bits == 224 and q8.bits == 56 and ae.info["image_size"] == 64
    assert ae.reconstruct(test).shape == (4, 3, 64, 64)
    train = load_uint8(open_dataset("anime-faces", anime_root, train=True)).float() / 255
    recon = ae.reconstruct(train)  # 8 random-block faces: it has learnt them, a bit
    assert recon.min() >= 0 and recon.max() <= 1
    flat = torch.full_like(train, train.mean())  # what a constant guess scores
    assert ((recon - train) ** 2).mean() < 0.9 * ((flat - train) ** 2).mean()
    near = load_baseline("anime-nearest-train", **kw)
    assert near.bits == pytest.approx(3.0) and torch.equal(near.reconstruct(train), train)
    km = train_baseline("anime-kmeans-4", iterations=3, **kw)
    assert km.reconstruct(test).shape == (4, 3, 64, 64)
    with pytest.raises(DataError, match=r"takes \(N, 3, 64, 64\) images"):
        ae.reconstruct(torch.rand(2, 1, 28, 28))
