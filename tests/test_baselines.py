"""Baselines: k-means, nearest training digit and autoencoders, their cache and their command.

Everything trains on a small slice of MNIST (2,000 digits) into a temporary cache; the full
baselines are trained by ``seedembed train-baseline`` (see seedembed.baselines).
"""

from __future__ import annotations

import hashlib
import json
import math
import os

import pytest
import torch

from seedembed.baselines import (
    NAMES,
    artefact_paths,
    default_cache_dir,
    evaluate,
    load_baseline,
    parse_name,
    train_baseline,
)
from seedembed.baselines.codebook import CodebookBaseline, assign, kmeans, nearest_train
from seedembed.cli import main
from seedembed.errors import DataError, ModelError

N = 2000
#: small, quick autoencoder training for tests (189 steps, under a second on one thread)
AE_FAST = {"epochs": 3, "batch_size": 32}


def _mnist(train: bool, n: int) -> torch.Tensor:
    from seedembed.data.mnist import Mnist

    try:
        ds = Mnist(os.environ.get("SEEDEMBED_DATA"), train=train, download=False)
    except DataError:
        pytest.skip("no MNIST under SEEDEMBED_DATA")
    return ds.as_uint8(n).float().div_(255)


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread):
    """Every test of this module on one torch thread (conftest.one_thread)."""


@pytest.fixture(scope="module")
def train_x() -> torch.Tensor:
    return _mnist(True, N)


@pytest.fixture(scope="module")
def test_x() -> torch.Tensor:
    return _mnist(False, 500)


@pytest.fixture(scope="module")
def ae_cache(tmp_path_factory, train_x) -> str:
    """A cache holding ae7 trained on the first 2,000 digits."""
    folder = str(tmp_path_factory.mktemp("baselines"))
    train_baseline("ae7", cache_dir=folder, limit=N, log=None, **AE_FAST)
    return folder


def _brute_nearest_sqdist(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Squared distance from each image to its nearest row, in float64, by brute force (sums of
    squared differences, no GEMM)."""
    d = torch.cdist(
        x.flatten(1).double(), rows.double(), compute_mode="donot_use_mm_for_euclid_dist"
    )
    return d.pow(2).min(1).values


# -- names -------------------------------------------------------------------------------------
def test_names_parse():
    assert parse_name("ae14-q8") == ("ae", "ae14", 14, True)
    assert parse_name("kmeans-29282") == ("kmeans", "kmeans-29282", 29282, False)
    assert parse_name("nearest-train")[0] == "nearest"
    assert all(parse_name(n) for n in NAMES)
    for bad in ("ae0", "ae785", "kmeans-1", "kmeans-01", "ae7-q4", "pca7", ""):
        with pytest.raises(ModelError, match="unknown baseline"):
            parse_name(bad)
    with pytest.raises(ModelError, match="unknown baseline 'nope'"):
        load_baseline("nope", log=None)


def test_default_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SEEDEMBED_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "baselines"
    monkeypatch.delenv("SEEDEMBED_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "seedembed" / "baselines"


# -- k-means -----------------------------------------------------------------------------------
def test_kmeans_lowers_inertia_and_encodes_to_nearest_centroid(train_x, test_x):
    x = train_x.flatten(1)
    centroids, inertia, _ = kmeans(x, 64, iterations=6, seed=0)
    assert centroids.shape == (64, 784) and centroids.dtype == torch.float32
    assert all(b <= a * (1 + 1e-6) for a, b in zip(inertia, inertia[1:], strict=False))
    assert inertia[-1] < 0.8 * inertia[0]
    # the reported inertia is the brute-force one of the assignment it came from
    index, dist = assign(x, centroids)
    assert dist.double().sum().item() == pytest.approx(_brute_nearest_sqdist(x, centroids).sum())
    # deterministic from the seed
    again, inertia2, _ = kmeans(x, 64, iterations=6, seed=0)
    assert torch.equal(again, centroids) and inertia2 == inertia

    book = CodebookBaseline("kmeans-64", centroids)
    assert book.bits == 6.0 and book.bits_ceil == 6
    recon = book.reconstruct(test_x, chunk=128)
    codes = book.encode(test_x)
    assert torch.equal(recon.flatten(1), centroids[codes])
    got = (test_x.flatten(1).double() - centroids[codes].double()).pow(2).sum(1)
    torch.testing.assert_close(got, _brute_nearest_sqdist(test_x, centroids), rtol=0, atol=1e-9)


def test_kmeans_early_stop_is_the_fixed_point(train_x):
    x = train_x[:500].flatten(1)
    full, inertia_full, _ = kmeans(x, 32, iterations=40, stop_when_converged=False)
    early, inertia_early, _ = kmeans(x, 32, iterations=40)
    assert len(inertia_early) < 40 and torch.equal(early, full)
    assert inertia_early == inertia_full[: len(inertia_early)]


def test_kmeans_reseeds_empty_clusters_deterministically():
    # 3 distinct points, 2 of them duplicated: with k = 3 and an init that picks a duplicate
    # twice, one cluster goes empty and must be re-seeded with the farthest point
    x = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    total = 0
    for seed in range(8):
        centroids, inertia, reseeded = kmeans(x, 3, iterations=4, seed=seed)
        assert inertia[-1] == 0.0  # every distinct point ends with its own centroid
        assert sorted(centroids[:, 0].tolist()) == [0.0, 1.0, 10.0]
        assert kmeans(x, 3, iterations=4, seed=seed)[0].equal(centroids)
        total += reseeded
    assert total > 0  # some of the seeds did start with a duplicate


def test_kmeans_rejects_bad_k(train_x):
    with pytest.raises(ModelError, match="2 <= k"):
        kmeans(train_x[:10].flatten(1), 11)


def test_kmeans_baseline_trains_and_caches(tmp_path, train_x, test_x):
    b = train_baseline("kmeans-64", cache_dir=tmp_path, limit=N, iterations=3, log=None)
    assert b.bits == 6.0 and b.info["n_train"] == N and len(b.info["inertia_per_iteration"]) == 3
    again = load_baseline("kmeans-64", cache_dir=tmp_path, train_missing=False, log=None)
    assert torch.equal(again.codebook, b.codebook)
    assert torch.equal(again.reconstruct(test_x), b.reconstruct(test_x))
    with pytest.raises(ModelError, match="kmeans-5101 is missing"):
        load_baseline("kmeans-5101", cache_dir=tmp_path, train_missing=False, log=None)


# -- nearest training image --------------------------------------------------------------------
def test_nearest_train_is_exact_on_training_digits(train_x, test_x):
    b = nearest_train(limit=N)
    assert b.bits == pytest.approx(math.log2(N)) and b.bits_ceil == 11
    assert torch.equal(b.reconstruct(train_x[:300]), train_x[:300])
    recon = b.reconstruct(test_x[:200])
    rows = train_x.flatten(1)
    # every output is a training digit, and the nearest one
    codes = b.encode(test_x[:200])
    assert torch.equal(recon.flatten(1), rows[codes])
    got = (test_x[:200].flatten(1).double() - rows[codes].double()).pow(2).sum(1)
    torch.testing.assert_close(got, _brute_nearest_sqdist(test_x[:200], rows), rtol=0, atol=1e-9)


def test_full_nearest_train_bits():
    _mnist(True, 1)
    b = load_baseline("nearest-train", log=None)
    assert b.size == 60_000 and b.bits == pytest.approx(math.log2(60_000))


# -- autoencoders ------------------------------------------------------------------------------
def test_autoencoder_beats_the_mean_image(ae_cache, train_x, test_x):
    ae = load_baseline("ae7", cache_dir=ae_cache, train_missing=False, log=None)
    assert ae.bits == 224.0 and ae.info["n_train"] == N
    assert ae.encode(test_x[:5]).shape == (5, 7) and ae.encode(test_x[:5]).dtype == torch.float32
    recon = ae.reconstruct(test_x, chunk=100)
    assert recon.shape == test_x.shape and recon.min() >= 0 and recon.max() <= 1
    mean_mse = (test_x - train_x.mean(0)).pow(2).mean().item()
    assert (recon - test_x).pow(2).mean().item() < 0.75 * mean_mse
    info = json.loads(artefact_paths("ae7", ae_cache)[1].read_text())
    assert info["settings"]["epochs"] == 3 and info["threads"] >= 1
    assert {"command", "commit", "machine", "started_utc", "sha256"} <= set(info)


def test_quantised_autoencoder_is_close_to_float(ae_cache, test_x):
    ae = load_baseline("ae7", cache_dir=ae_cache, train_missing=False, log=None)
    q8 = load_baseline("ae7-q8", cache_dir=ae_cache, train_missing=False, log=None)
    assert q8.bits == 56.0 and q8.bits_ceil == 56
    codes = q8.encode(test_x)
    assert codes.dtype == torch.uint8 and codes.shape == (len(test_x), 7)
    z = ae.encode(test_x)
    # the latent error is at most half a level inside the training range
    inside = (z >= q8.lo) & (z <= q8.lo + 255 * q8.step)
    err = (q8.lo + codes.float() * q8.step - z).abs()
    assert bool((err[inside] <= q8.step.expand_as(z)[inside] / 2 + 1e-6).all())
    m_float = (ae.reconstruct(test_x) - test_x).pow(2).mean().item()
    m_q8 = (q8.reconstruct(test_x) - test_x).pow(2).mean().item()
    assert abs(m_q8 - m_float) < 0.02 * m_float


def test_cache_round_trip_does_not_retrain(tmp_path, test_x):
    lines: list[str] = []
    trained = train_baseline("ae7", cache_dir=tmp_path, limit=N, log=lines.append, **AE_FAST)
    assert len(lines) == 1 and lines[0].startswith("trained baseline ae7")
    lines.clear()
    again = load_baseline("ae7", cache_dir=tmp_path, log=lines.append)
    assert lines == []  # loaded, not trained
    assert torch.equal(again.reconstruct(test_x), trained.reconstruct(test_x))
    assert json.loads(artefact_paths("ae7", tmp_path)[1].read_text())["n_train"] == N


def test_missing_baseline_is_refused_or_trained(tmp_path, monkeypatch):
    with pytest.raises(ModelError, match=r"ae7 is missing .*seedembed train-baseline ae7"):
        load_baseline("ae7", cache_dir=tmp_path, train_missing=False, log=None)
    # train_missing: one log line, then the trainer runs (here a fast stand-in of it)
    import seedembed.baselines as bl

    calls = []
    monkeypatch.setattr(bl, "train_baseline", lambda name, **kw: calls.append((name, kw)))
    lines: list[str] = []
    load_baseline("ae7-q8", cache_dir=tmp_path, log=lines.append)
    assert len(lines) == 1 and lines[0].startswith("training baseline ae7 (not in cache")
    assert calls and calls[0][0] == "ae7-q8"


def test_corrupt_cache_is_detected(tmp_path, test_x, monkeypatch):
    train_baseline("ae7", cache_dir=tmp_path, limit=N, log=None, **AE_FAST)
    weights, record = artefact_paths("ae7", tmp_path)
    good = weights.read_bytes()
    flipped = bytearray(good)
    flipped[-5] ^= 0xFF  # a weight changes: the file still parses, the hash does not match
    weights.write_bytes(bytes(flipped))
    with pytest.raises(ModelError, match=r"ae7 is corrupt .*SHA-256"):
        load_baseline("ae7", cache_dir=tmp_path, train_missing=False, log=None)
    weights.write_bytes(good[:100])  # truncated
    with pytest.raises(ModelError, match="corrupt"):
        load_baseline("ae7-q8", cache_dir=tmp_path, train_missing=False, log=None)
    # a record that vouches for a file safetensors cannot read (hash matches, content does not)
    info = json.loads(record.read_text())
    weights.write_bytes(b"\xff" * 64)
    record.write_text(json.dumps({**info, "sha256": hashlib.sha256(b"\xff" * 64).hexdigest()}))
    with pytest.raises(ModelError, match="not a readable safetensors file"):
        load_baseline("ae7", cache_dir=tmp_path, train_missing=False, log=None)
    weights.write_bytes(good)
    record.write_text("{not json")
    with pytest.raises(ModelError, match="not readable JSON"):
        load_baseline("ae7", cache_dir=tmp_path, train_missing=False, log=None)
    # with train_missing the corrupt entry is retrained (on the small slice) and replaced
    import seedembed.baselines as bl

    real = bl.train_baseline
    monkeypatch.setattr(
        bl, "train_baseline", lambda name, **kw: real(name, **kw, limit=N, **AE_FAST)
    )
    lines: list[str] = []
    b = load_baseline("ae7", cache_dir=tmp_path, log=lines.append)
    assert len(lines) == 1 and "corrupt" in lines[0] and "training baseline ae7" in lines[0]
    assert b.info["n_train"] == N
    again = load_baseline("ae7", cache_dir=tmp_path, train_missing=False, log=None)
    assert torch.equal(again.reconstruct(test_x), b.reconstruct(test_x))


def test_reconstruct_checks_images(ae_cache):
    ae = load_baseline("ae7", cache_dir=ae_cache, train_missing=False, log=None)
    with pytest.raises(DataError):
        ae.reconstruct(torch.zeros(2, 28, 28))
    with pytest.raises(DataError):
        ae.reconstruct(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))


def test_evaluate_reports_both_scales(ae_cache, test_x):
    ae = load_baseline("ae7", cache_dir=ae_cache, train_missing=False, log=None)
    r = evaluate(ae, test_x[:100])
    assert r["mse_m11"] == pytest.approx(4 * r["mse_01"]) and 0 < r["ssim"] < 1
    assert 0 < r["ssim_interior"] < r["ssim"]  # the black border scores 1 in the whole image
    assert r["bits"] == 224.0 and r["n"] == 100


# -- command line ------------------------------------------------------------------------------
def test_cli_unknown_name_exits_2(capsys, tmp_path):
    code = main(["train-baseline", "ae7", "bogus", "--cache-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "unknown baseline 'bogus'" in err
    assert not list(tmp_path.iterdir())  # nothing was trained


def test_cli_reports_a_cached_baseline(capsys, ae_cache):
    _mnist(False, 1)
    code = main(["train-baseline", "ae7", "ae7-q8", "--cache-dir", ae_cache])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert code == 0 and err == "" and len(lines) == 2
    assert lines[0].startswith("ae7: 224.00 bits") and "MSE[-1,1]" in lines[0]
    assert lines[1].startswith("ae7-q8: 56.00 bits") and "SSIM" in lines[1]
    assert "(interior 0." in lines[1]
    assert "on 10000 test images" in lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a CPU-only machine")
def test_cli_device_without_cuda_exits_2(capsys, tmp_path):
    code = main(["train-baseline", "ae7", "--device", "cuda", "--cache-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "CUDA is not available" in err
    assert not list(tmp_path.iterdir())
    with pytest.raises(SystemExit) as exc:  # argparse's own usage error
        main(["train-baseline", "ae7", "--device", "tpu", "--cache-dir", str(tmp_path)])
    assert exc.value.code == 2 and "unknown device 'tpu'" in capsys.readouterr().err


def test_training_records_its_device(tmp_path, train_x):
    b = train_baseline(
        "kmeans-8", cache_dir=tmp_path, limit=200, log=None, device="cpu", iterations=2
    )
    assert b.info["machine"].startswith("CPU") and b.info["k"] == 8
    assert b.codebook.device.type == "cpu"
