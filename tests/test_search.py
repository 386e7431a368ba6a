"""Seed search: exactness against brute force, seed recovery, the quality order of the
strategies, the codebook cache (built once, verified, rebuilt when damaged) and clear errors."""

from __future__ import annotations

import contextlib
import os
import shutil

import pytest
import torch

from seedembed import prf as prf_mod
from seedembed.errors import SearchError
from seedembed.models import GanConfig, Generator, generate
from seedembed.search import (
    build_codebook,
    codebook_path,
    codebook_status,
    find_seeds,
    load_codebook,
)
from seedembed.search import codebook as cbmod
from seedembed.search import image as image_mod
from seedembed.zoo import load_generator


@pytest.fixture(scope="module")
def shipped():
    return load_generator("mnist-5101")


@pytest.fixture(scope="module")
def shipped_cache(shipped, tmp_path_factory):
    cache = tmp_path_factory.mktemp("codebooks")
    build_codebook(shipped.generator, shipped.prf, shipped.fingerprint, cache, progress=False)
    return cache


@pytest.fixture(scope="module")
def all_images(shipped):
    """Every seed's image, the brute-force reference (5101 x 784)."""
    return generate(shipped.generator, shipped.prf, range(shipped.prf.size)).flatten(1)


def _mnist(n: int) -> torch.Tensor:
    import torchvision

    try:
        ds = torchvision.datasets.MNIST(os.environ.get("SEEDEMBED_DATA"), train=False)
    except (RuntimeError, TypeError):
        pytest.skip("no MNIST under SEEDEMBED_DATA")
    return ds.data[:n].float().div(255).mul(2).sub(1).unsqueeze(1)


def _tiny(seed: int = 0) -> tuple[Generator, prf_mod.Prf, str]:
    torch.manual_seed(seed)
    g = Generator(GanConfig.mnist(g_width=8, d_width=8)).eval()
    return g, prf_mod.get("lcg-5101"), f"{seed:x}" * 16 + "feed" * 4


def _search(lg, cache, images, strategy="image", **kw):
    return find_seeds(
        images,
        generator=lg.generator,
        prf=lg.prf,
        fingerprint=lg.fingerprint,
        strategy=strategy,
        cache_dir=cache,
        **kw,
    )


def test_image_search_is_the_brute_force_argmin(shipped, shipped_cache, all_images, monkeypatch):
    torch.manual_seed(1)
    noise = (torch.rand(20, 1, 28, 28) * 2 - 1) * 0.5
    images = torch.cat([_mnist(300), noise])
    ref = torch.cdist(images.flatten(1).double(), all_images.double()).argmin(1)
    exact = _search(shipped, shipped_cache, images)
    assert torch.equal(exact.seeds, ref)
    assert exact.info["certified"] + exact.info["widened"] == len(images)
    mse = (all_images[ref] - images.flatten(1)).square().mean(1)
    assert torch.allclose(exact.image_mse, mse, atol=1e-6)
    # a one-row shortlist is rarely certified: the widened one and the exhaustive pass carry it
    narrow = _search(shipped, shipped_cache, images, topk=1)
    assert torch.equal(narrow.seeds, ref) and narrow.info["widened"] > 0
    monkeypatch.setattr(image_mod, "WIDEN", 1)
    narrow = _search(shipped, shipped_cache, images, topk=1)
    assert torch.equal(narrow.seeds, ref) and narrow.info["exhaustive"] > 0
    # without certification only in-distribution queries are safe (noise is not)
    fast = _search(shipped, shipped_cache, images[:300], certify=False)
    assert (fast.seeds == ref[:300]).float().mean() >= 0.995


def test_a_codebook_larger_than_memory_is_searched_in_one_exhaustive_pass(
    shipped, shipped_cache, all_images, monkeypatch
):
    monkeypatch.setattr(image_mod, "STREAM_BYTES", 0)  # as if the rows did not fit in RAM
    images = _mnist(100)
    res = _search(shipped, shipped_cache, images)
    ref = torch.cdist(images.flatten(1).double(), all_images.double()).argmin(1)
    assert torch.equal(res.seeds, ref) and res.info["exhaustive"] == len(images)


def test_randomized_pca_basis_of_large_images_keeps_the_search_exact(
    shipped, all_images, tmp_path, monkeypatch
):
    """Above EXACT_PCA_MAX_DIM (64x64 RGB faces) the basis comes from a randomized SVD: it is
    orthonormal and the certified search still returns the brute-force argmin."""
    monkeypatch.setattr(cbmod, "EXACT_PCA_MAX_DIM", 100)  # the digits take the large path
    cbmod._LOADED.clear()
    images = _mnist(200)
    res = _search(shipped, tmp_path, images)
    ref = torch.cdist(images.flatten(1).double(), all_images.double()).argmin(1)
    assert torch.equal(res.seeds, ref)
    cb = load_codebook(shipped.generator, shipped.prf, shipped.fingerprint, tmp_path)
    basis = cb.basis
    assert torch.allclose(basis.T @ basis, torch.eye(basis.shape[1]), atol=1e-4)
    cbmod._LOADED.clear()


def test_synthetic_images_recover_their_seeds(shipped, shipped_cache):
    seeds = torch.tensor([0, 1, 77, 2550, 5099, 5100])
    images = generate(shipped.generator, shipped.prf, seeds)
    z = shipped.prf.sequences(seeds, 25)
    res = _search(shipped, shipped_cache, images, latents=z)
    assert torch.equal(res.seeds, seeds) and res.image_mse.max() < 1e-10
    assert res.latent_mse.max() < 1e-12
    for strategy in ("latent", "hybrid", "neighbourhood"):
        res = _search(shipped, shipped_cache, images, strategy, latents=z, eps=10)
        assert torch.equal(res.seeds, seeds), strategy
        assert res.latent_mse.max() < 1e-12 and res.image_mse.max() < 1e-10


def test_neighbourhood_finds_seeds_within_eps_only(shipped):
    g, p = shipped.generator, shipped.prf
    seeds = torch.tensor([3, 1000, 5090])
    z = p.sequences(seeds, 25)
    images = generate(g, p, seeds)
    moved = z.clone()
    shifted = (seeds + torch.tensor([30, -30, 8])).clamp(0, p.size - 1)
    moved[:, 0] = torch.from_numpy(p.normalize(shifted.numpy())).float()  # s0 off by up to 30
    kw = dict(generator=g, prf=p, strategy="neighbourhood", latents=moved)
    assert torch.equal(find_seeds(images, eps=40, **kw).seeds, seeds)
    near = find_seeds(images, eps=5, **kw).seeds
    assert not torch.equal(near, seeds)
    assert ((near - shifted).abs() <= 5).all()  # stays inside its window
    # the thesis' loop, literally, as the reference of the vectorised search
    torch.manual_seed(2)
    noisy = (z + 0.2 * torch.randn_like(z)).clamp(-1, 1)
    got = find_seeds(images, generator=g, prf=p, strategy="neighbourhood", latents=noisy, eps=60)
    for i in range(len(seeds)):
        s0 = int(round((noisy[i, 0].item() + 1) * (p.size - 1) / 2))
        best, err = None, float("inf")
        for t in range(s0 - 60, s0 + 61):
            if 0 <= t < p.size:
                e = (p.sequences([t], 25)[0] - noisy[i]).square().mean().item()
                if e < err - 1e-9:
                    best, err = t, e
        assert got.seeds[i].item() == best
        assert got.latent_mse[i].item() == pytest.approx(err, abs=1e-6)


def test_quality_order_image_hybrid_latent(shipped, shipped_cache):
    images = _mnist(40)
    torch.manual_seed(3)
    z = shipped.prf.sequences(torch.randint(0, 5101, (40,)), 25) + 0.3 * torch.randn(40, 25)
    z = z.clamp(-1, 1)
    res = {
        s: _search(shipped, shipped_cache, images, s, latents=z, topk=16, eps=300)
        for s in ("image", "hybrid", "latent", "neighbourhood")
    }
    tol = 1e-6
    assert (res["image"].image_mse <= res["hybrid"].image_mse + tol).all()
    assert (res["hybrid"].image_mse <= res["latent"].image_mse + tol).all()
    assert (res["latent"].latent_mse <= res["neighbourhood"].latent_mse + tol).all()
    assert (res["latent"].latent_mse <= res["hybrid"].latent_mse + tol).all()
    assert all(r.strategy == s and r.seconds > 0 for s, r in res.items())


def test_codebook_built_once_then_reused(tmp_path, monkeypatch):
    g, p, fp = _tiny()
    images = generate(g, p, [5, 6])
    assert codebook_status(fp, tmp_path).state == "missing"
    with pytest.raises(SearchError, match="no codebook"):
        find_seeds(images, generator=g, prf=p, strategy="image", fingerprint=fp,
                   cache_dir=tmp_path, build=False)  # fmt: skip
    res = find_seeds(images, generator=g, prf=p, strategy="image", fingerprint=fp,
                     cache_dir=tmp_path)  # fmt: skip
    assert res.seeds.tolist() == [5, 6]
    status = codebook_status(fp, tmp_path)
    assert status.ok and status.count == 5101 and status.path == codebook_path(fp, tmp_path)
    assert status.header["geometry"] == [1, 28, 28]
    calls = []
    monkeypatch.setattr(cbmod, "build_codebook", lambda *a, **k: calls.append(a))
    cbmod._LOADED.clear()  # a fresh process: full load path, still no build
    again = find_seeds(images, generator=g, prf=p, strategy="image", fingerprint=fp,
                       cache_dir=tmp_path)  # fmt: skip
    assert again.seeds.tolist() == [5, 6] and calls == []
    g.train()  # the search renders in eval mode and leaves the caller's mode alone
    res = find_seeds(images, generator=g, prf=p, strategy="image", fingerprint=fp,
                     cache_dir=tmp_path)  # fmt: skip
    assert res.seeds.tolist() == [5, 6] and g.training


def _corrupt(path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


@pytest.mark.parametrize("damage", ["bytes", "truncate", "header"])
def test_damaged_codebook_is_detected_and_rebuilt(tmp_path, damage):
    g, p, fp = _tiny()
    path = build_codebook(g, p, fp, tmp_path, progress=False)
    cbmod._LOADED.clear()
    if damage == "bytes":
        _corrupt(path, 4096 + 784 * 4 * 1234, b"\x00\x00\x80\x7f" * 8)  # seed 1234 -> inf
    elif damage == "truncate":
        os.truncate(path, path.stat().st_size - 4096)
    else:
        _corrupt(path, 0, b"NOTACODEBOOK")
    assert codebook_status(fp, tmp_path).state == "corrupt"
    with pytest.raises(SearchError):
        load_codebook(g, p, fp, tmp_path, build=False)
    image = generate(g, p, [1234])
    res = find_seeds(image, generator=g, prf=p, strategy="image", fingerprint=fp,
                     cache_dir=tmp_path)  # fmt: skip
    assert res.seeds.tolist() == [1234] and codebook_status(fp, tmp_path, full=True).ok


def test_spot_check_catches_rows_that_are_not_the_model(tmp_path):
    g, p, fp = _tiny()
    other, _, _ = _tiny(seed=1)
    build_codebook(other, p, fp, tmp_path, progress=False)  # wrong weights, right name
    cbmod._LOADED.clear()
    with pytest.raises(SearchError, match="re-rendered rows differ"):
        load_codebook(g, p, fp, tmp_path, build=False)


def test_spot_check_rows_are_fixed_by_the_fingerprint(tmp_path, monkeypatch):
    """The same rows on every load: a codebook is accepted or refused the same way each time."""
    g, p, fp = _tiny()
    path = build_codebook(g, p, fp, tmp_path, progress=False)
    asked = []
    real = cbmod.render
    monkeypatch.setattr(cbmod, "render", lambda gen, prf, rows, dev: asked.append(rows.tolist())
                        or real(gen, prf, rows, dev))  # fmt: skip
    book = cbmod._map(path, cbmod._check(path, fp, full=False))
    for _ in range(3):
        cbmod._spot_check(book, g, p)
    assert len(asked) == 3 and asked[0] == asked[1] == asked[2]
    assert len(set(asked[0])) == cbmod.SPOT_ROWS
    other = build_codebook(g, p, "cd" * 32, tmp_path, progress=False)
    cbmod._spot_check(cbmod._map(other, cbmod._check(other, "cd" * 32, full=False)), g, p)
    assert asked[3] != asked[0]


def test_a_codebook_rebuilt_by_another_process_while_waiting_is_not_built_again(
    tmp_path, monkeypatch
):
    g, p, fp = _tiny()
    other, _, _ = _tiny(seed=1)
    build_codebook(other, p, fp, tmp_path, progress=False)  # wrong weights: must be rebuilt
    cbmod._LOADED.clear()
    builds = []
    real_build, real_lock = cbmod.build_codebook, cbmod.build_lock

    def counted_build(*args, **kwargs):
        builds.append(args[2])
        return real_build(*args, **kwargs)

    @contextlib.contextmanager
    def lock_after_another_build(path):
        real_build(g, p, fp, tmp_path, progress=False)  # the process that held the lock
        with real_lock(path):
            yield

    monkeypatch.setattr(cbmod, "build_codebook", counted_build)
    monkeypatch.setattr(cbmod, "build_lock", lock_after_another_build)
    book = load_codebook(g, p, fp, tmp_path)
    assert builds == [] and book.fingerprint == fp
    assert torch.allclose(book.images[[7]].float(), generate(g, p, [7]).flatten(1), atol=1e-6)
    # deleted while this process waited: it looks again, then builds it itself
    build_codebook(other, p, fp, tmp_path, progress=False)
    cbmod._LOADED.clear()

    @contextlib.contextmanager
    def lock_after_a_delete(path):
        cbmod.forget(fp, tmp_path)
        with real_lock(path):
            yield

    monkeypatch.setattr(cbmod, "build_lock", lock_after_a_delete)
    assert load_codebook(g, p, fp, tmp_path).fingerprint == fp and builds == [fp]
    # without another builder, the waiting process builds it itself
    build_codebook(other, p, fp, tmp_path, progress=False)
    cbmod._LOADED.clear()
    monkeypatch.setattr(cbmod, "build_lock", real_lock)
    load_codebook(g, p, fp, tmp_path)
    assert builds == [fp, fp]


def test_a_codebook_that_does_not_fit_on_the_disk_is_refused_before_rendering(
    tmp_path, monkeypatch
):
    g, p, fp = _tiny()
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(cbmod.shutil, "disk_usage", lambda _: usage._replace(free=2**29))
    with pytest.raises(SearchError, match=r"needs 0\.0 GiB .* has 0\.5 GiB free"):
        build_codebook(g, p, fp, tmp_path, progress=False)
    assert not list(tmp_path.iterdir())


def test_a_killed_build_leaves_nothing_behind_after_the_next_build(tmp_path):
    g, p, fp = _tiny()
    path = codebook_path(fp, tmp_path)
    dead = path.with_name(f".{path.name}.tmp999999999")  # no such process
    alive = path.with_name(f".{path.name}.tmp1")  # init: alive, not ours
    for f in (dead, alive):
        f.write_bytes(b"half a codebook")
    build_codebook(g, p, fp, tmp_path, progress=False)
    assert not dead.exists() and alive.exists() and path.is_file()


def test_foreign_codebook_is_rejected(tmp_path):
    g, p, fp = _tiny()
    other_fp = "ab" * 32
    src = build_codebook(g, p, other_fp, tmp_path, progress=False)
    shutil.copyfile(src, codebook_path(fp, tmp_path))
    cbmod._LOADED.clear()
    status = codebook_status(fp, tmp_path)
    assert status.state == "foreign" and "ababab" in status.detail
    with pytest.raises(SearchError, match="codebook of model"):
        load_codebook(g, p, fp, tmp_path, build=False)
    load_codebook(g, p, fp, tmp_path)  # rebuilt under its own fingerprint
    assert codebook_status(fp, tmp_path).ok


def test_errors_are_one_line_search_errors(shipped, shipped_cache):
    g, p = shipped.generator, shipped.prf
    images = generate(g, p, [1, 2])
    z = p.sequences([1, 2], 25)
    kw = dict(generator=g, prf=p, fingerprint=shipped.fingerprint, cache_dir=shipped_cache)
    cases = [
        (dict(images=images, strategy="nearest"), "unknown search strategy"),
        (dict(images=images, strategy="latent"), "needs latents"),
        (dict(images=images[:, :, :27], strategy="image"), r"shape \(N, 1, 28, 28\)"),
        (dict(images=images.flatten(1), strategy="image"), "shape"),
        (dict(images=images * float("nan"), strategy="image"), "NaN"),
        (dict(images=images * 255, strategy="image"), r"in \[-1, 1\]"),
        (dict(images=images.long(), strategy="image"), "float tensor"),
        (dict(images=images, strategy="hybrid", latents=z[:1]), r"shape \(2, 25\)"),
        (dict(images=images, strategy="latent", latents=z * float("inf")), "infinite"),
        (dict(images=images, strategy="neighbourhood", latents=z, eps=-1), "eps"),
        (dict(images=images, strategy="image", topk=0), "topk"),
    ]
    for args, match in cases:
        with pytest.raises(SearchError, match=match) as err:
            find_seeds(**args, **kw)
        assert "\n" not in str(err.value)
    for strategy in ("image", "latent", "hybrid"):
        with pytest.raises(SearchError, match="exhaustive over the seed space"):
            find_seeds(images, generator=g, prf="uniform:bits=32", strategy=strategy, latents=z)
    with pytest.raises(SearchError, match="not invertible|invertible PRF"):
        find_seeds(images, generator=g, prf="uniform:bits=12", strategy="neighbourhood", latents=z)
    if not torch.cuda.is_available():
        with pytest.raises(SearchError, match="no CUDA"):
            find_seeds(images, generator=g, prf=p, strategy="latent", latents=z, device="cuda")


def test_empty_batch(shipped, shipped_cache):
    empty = torch.zeros(0, 1, 28, 28)
    res = _search(shipped, shipped_cache, empty, "latent", latents=torch.zeros(0, 25))
    assert res.seeds.shape == (0,) and res.image_mse.shape == (0,) and res.latent_mse.shape == (0,)


def _concurrent_worker(cache: str, log: str, barrier) -> None:
    torch.set_num_threads(1)
    real = cbmod.build_codebook

    def counted(*args, **kwargs):
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        return real(*args, **kwargs)

    cbmod.build_codebook = counted
    g, p, fp = _tiny()
    barrier.wait()  # both processes ask for the missing codebook at once
    res = find_seeds(generate(g, p, [77, 4000]), generator=g, prf=p, strategy="image",
                     fingerprint=fp, cache_dir=cache)  # fmt: skip
    assert res.seeds.tolist() == [77, 4000]


def test_processes_encoding_at_once_build_the_codebook_once(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    log = tmp_path / "builds.log"
    barrier = ctx.Barrier(3)
    procs = [
        ctx.Process(target=_concurrent_worker, args=(str(tmp_path), str(log), barrier))
        for _ in range(3)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    assert len(log.read_text().split()) == 1  # one build, the other two waited and mapped it
    _, _, fp = _tiny()
    assert codebook_status(fp, tmp_path, full=True).ok
