"""Noise composition: quantised weights, bit-exact latents, matching pursuit, files, CLI."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch

from seedembed import prf
from seedembed.cli import main
from seedembed.codec import Encoding, load
from seedembed.codec import format as fmt
from seedembed.compose import (
    ComposeSettings,
    composed_latents,
    dequantize,
    pursue,
    quantize,
    scale_for,
)
from seedembed.errors import FormatError, SearchError, SeedembedError
from seedembed.experiments.composition import curve_at, goal_check
from seedembed.search.strategies import seed_table

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def codec():
    return load("mnist-524287")


@pytest.fixture(scope="module")
def digits():
    from seedembed.data.mnist import Mnist

    return Mnist(None, train=False).as_uint8(24).float().div_(255)


# -- weights --------------------------------------------------------------------------------
def test_scales_cover_every_weight_and_codes_round_to_the_nearest_level():
    w = torch.tensor([[0.3, -1.7, 0.01], [2e-3, 1e-3, -5e-4], [0.0, 0.0, 0.0]])
    s = scale_for(w)
    assert s.dtype == torch.float16
    assert (s.double() >= w.abs().amax(1).double()).all()
    for k in (2, 4, 8, 16):
        q = quantize(w, s, k)
        top = 2 ** (k - 1) - 1
        assert q.abs().max() <= top and (q[2] == 0).all()
        err = (dequantize(q, s, k) - w.double()).abs()
        assert (err <= s.double()[:, None] / top / 2 + 1e-12).all()


def test_weights_beyond_the_scale_are_clamped():
    q = quantize(torch.tensor([[3.0, -3.0]]), torch.tensor([1.0], dtype=torch.float16), 4)
    assert q.tolist() == [[7, -7]]


def test_composed_latents_match_an_independent_float64_computation_and_pinned_bits():
    p = prf.get("lcg-524287")
    seeds = torch.tensor([[0, 1, 524286], [98223, 5, 77]])
    codes = torch.tensor([[127, -64, 3], [-127, 0, 1]])
    scales = torch.tensor([0.75, 1.5], dtype=torch.float16)
    z = composed_latents(p, seeds, dequantize(codes, scales, 8), 6)
    a, c, m = 283471, 35899, 524287
    for i in range(2):
        acc = [0.0] * 6
        for s, q in zip(seeds[i].tolist(), codes[i].tolist(), strict=True):
            w = float(scales[i]) * q / 127
            x = s
            for j in range(6):
                acc[j] = acc[j] + w * ((2.0 * x - (m - 1)) / (m - 1))
                x = (a * x + c) % m
        assert z[i].tolist() == np.float32(acc).tolist()
    pinned = ["-0x1.6ad60cp-2", "-0x1.752756p-1", "0x1.a76564p-2", "0x1.78c528p-2"]
    assert [v.hex().replace("0000000p", "p") for v in z[0, :4].double().tolist()] == pinned


# -- pursuit ----------------------------------------------------------------------------------
def test_pursuit_recovers_a_sparse_combination_of_seeds():
    p = prf.get("lcg-5101")
    table = seed_table(p, 25, torch.device("cpu"))[0]
    target = (0.9 * table[1234] - 0.4 * table[4321])[None]
    # greedy MP keeps the first weight it chose (the atoms are not orthogonal); OMP re-fits
    for method, tol in (("mp", 1e-3), ("omp", 1e-8)):
        comp = pursue(target, table, 2, 16, method=method)
        assert sorted(comp.seeds[0].tolist()) == [1234, 4321]
        z = comp.latents(p, 25)
        assert (z - target).square().mean() < tol


def test_more_seeds_fit_the_target_latent_better(codec, digits):
    table = seed_table(codec.prf, codec.latent_length, torch.device("cpu"))[0]
    z = codec.latents(digits)
    errs = [
        (pursue(z, table, n, 8).latents(codec.prf, 25) - z).square().mean().item()
        for n in (1, 2, 3, 5)
    ]
    assert errs == sorted(errs, reverse=True) and errs[-1] < errs[0] / 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "compose must be"),
        ({"n": 2, "weight_bits": 1}, "weight bits"),
        ({"n": 2, "weight_bits": 17}, "weight bits"),
        ({"n": 2, "method": "lasso"}, "unknown composition method"),
        ({"n": 2, "candidates": 0}, "candidates must be"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(SearchError, match=message):
        ComposeSettings(**kwargs)


def test_an_infinite_seed_space_is_refused(digits):
    from seedembed.compose import compose_images
    from seedembed.models import GanConfig, Generator

    gen = Generator(GanConfig.mnist())
    z = torch.zeros(2, gen.config.latent_length)
    with pytest.raises(SearchError, match="composition needs a finite seed space"):
        compose_images(digits[:2] * 2 - 1, z, gen, prf.get("uniform:bits=32"), ComposeSettings(2))


# -- codec and files ----------------------------------------------------------------------------
def test_composed_encodings_survive_a_file_bit_for_bit(codec, digits, tmp_path):
    enc = codec.encode(digits, compose=3, weight_bits=6)
    assert enc.seeds.shape == (24, 3) and enc.weights.shape == (24, 3)
    assert enc.bits == 3 * (19 + 6) + 16 and enc.strategy == "compose-mp"
    path = enc.save(tmp_path / "c.seed")
    assert path.stat().st_size == 62 + len(codec.prf.spec) + -(-24 * enc.bits // 8) + 4
    back = Encoding.load(path)
    assert back == enc and back.weighted
    assert torch.equal(codec.composed_latents(back), codec.composed_latents(enc))
    assert torch.equal(codec.decode(back), codec.decode(enc))
    assert fmt.loads(path.read_bytes()).weight_bits == 6
    plain = codec.encode(digits[:2], "latent")
    assert plain.to_bytes()[8:10] == b"\x00\x01"  # unweighted files stay version 1


def test_image_aware_composition_beats_the_thesis_pursuit(codec, digits):
    mse = {}
    for aware in (False, True):
        enc = codec.encode(digits[:12], compose=3, image_aware=aware)
        mse[aware] = (codec.decode(enc) - digits[:12]).square().mean().item()
    assert mse[True] < 0.6 * mse[False]
    assert mse[True] < 0.015  # [0, 1] scale, 97 bits per image


def test_more_seeds_decode_closer(codec, digits):
    mse = []
    for n in (1, 3, 5):
        enc = codec.encode(digits, compose=n, compose_method="omp")
        mse.append((codec.decode(enc) - digits).square().mean().item())
    assert mse[0] > mse[1] > mse[2]


def test_composition_refuses_a_search_and_weights_need_codes(codec, digits):
    with pytest.raises(SeedembedError, match="exclude each other"):
        codec.encode(digits[:1], "image", compose=2)
    with pytest.raises(FormatError, match="together"):
        Encoding(torch.zeros(1, 2), "ab" * 32, "x", (1, 28, 28), 19, weight_bits=8)


def _weighted_file(codes, scale=0.5) -> bytes:
    seeds = np.array([[1, 2]], dtype=np.uint64)
    f = fmt.SeedFile("ab" * 32, "spec", (1, 28, 28), seeds, 19, None,
                     np.array([scale], dtype=np.float16), np.array([codes]), 4)  # fmt: skip
    return fmt.dumps(f)


def test_hostile_weighted_payloads_are_refused():
    data = _weighted_file([7, -7])
    assert fmt.loads(data).codes.tolist() == [[7, -7]]
    # the stored code 15 (= code 8) is beyond a 4-bit symmetric range: craft it, reseal
    body = bytearray(data[:-4])
    body[-1] |= 0x0F << 2  # the last code's bits sit before 2 bits of padding
    with pytest.raises(FormatError, match="weight code"):
        fmt.loads(bytes(body) + struct.pack(">I", zlib.crc32(bytes(body))))
    with pytest.raises(FormatError, match="scale"):
        fmt.loads(_weighted_file([1, 1], scale=-1.0))
    with pytest.raises(FormatError, match="does not fit"):
        _weighted_file([8, 0])


# -- CLI --------------------------------------------------------------------------------------
def test_cli_compose_round_trip_and_errors(tmp_path, capsys):
    img = "examples/digit-7-test00000.png"
    out = tmp_path / "c.seed"
    assert main(["encode", img, "-o", str(out), "--compose", "2", "--weight-bits", "5"]) == 0
    assert "2 weighted seeds per image, 5-bit weights" in capsys.readouterr().out
    assert main(["decode", str(out), "-o", str(tmp_path / "dec")]) == 0
    assert (tmp_path / "dec" / "digit-7-test00000.png").is_file()
    for args, message in (
        (["--weight-bits", "4"], "--weight-bits needs --compose"),
        (["--compose", "2", "--search", "image"], "exclude each other"),
        (["--compose", "2", "--weight-bits", "20"], "weight bits must be"),
    ):
        assert main(["encode", img, "-o", str(tmp_path / "x.seed"), *args]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "x.seed").exists()


def test_encode_set_composes_every_image(tmp_path, codec):
    from seedembed.codec.batch import encode_dataset
    from seedembed.data.mnist import Mnist

    ds = Mnist(None, train=False)
    enc = encode_dataset(
        codec, ds, names=None, batch_size=4, limit=10, progress=False,
        compose=ComposeSettings(2, 6),
    )  # fmt: skip
    whole = codec.encode(
        torch.stack([torch.from_numpy(np.array(ds[i][0])) for i in range(10)])[:, None] / 255,
        compose=ComposeSettings(2, 6),
    )
    assert enc.seeds.shape == (10, 2) and enc.weighted
    assert torch.equal(enc.seeds, whole.seeds) and torch.equal(enc.codes, whole.codes)


# -- the RD table's goal check ------------------------------------------------------------------
def test_curve_at_uses_points_and_time_sharing():
    pts = [(19.0, 0.08), (70.0, 0.06), (97.0, 0.04)]
    assert curve_at(pts, 10.0) is None
    assert curve_at(pts, 70.0, sharing=False) == 0.06
    assert curve_at(pts, 80.0, sharing=False) == 0.06
    # the lower convex hull: sharing 19 and 97 bits beats sharing 70 and 97 at 80 bits
    assert curve_at(pts, 80.0) == pytest.approx(0.08 - 0.04 * 61 / 78)


def test_goal_check_names_beaten_and_missed_baselines():
    ours = [
        {"bits_per_image": 19.0, "mse_m11": 0.08, "ssim": 0.81},
        {"bits_per_image": 70.0, "mse_m11": 0.06, "ssim": 0.84},
    ]
    lines = goal_check(
        ours,
        [
            ("easy", {"bits_per_image": 56.0, "mse_m11": 0.09, "ssim": 0.80}),
            ("hard", {"bits_per_image": 56.0, "mse_m11": 0.05, "ssim": 0.90}),
            ("too many bits", {"bits_per_image": 896.0, "mse_m11": 0.01, "ssim": 0.99}),
        ],
        2,
    )
    assert "easy" in lines[1] and "NOT" not in lines[1]
    assert "hard" in lines[2] and "NOT beaten" in lines[2]
    assert len(lines) == 3


def test_no_images_is_an_empty_encoding_not_an_error(codec):
    for kw in ({"compose": 3}, {"compose": 2, "image_aware": True}, {"search": "latent"}):
        enc = codec.encode(torch.zeros(0, 1, 28, 28), **kw)
        back = Encoding.from_bytes(enc.to_bytes())
        assert back == enc and back.n_images == 0
        assert codec.decode(back).shape == (0, 1, 28, 28)
