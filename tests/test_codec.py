"""The codec end to end: encode, .seed files, decode, the CLI, and refusals."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import seedembed
from seedembed.cli import main
from seedembed.codec import Encoding
from seedembed.codec.images import as_batch, read_image
from seedembed.errors import DataError, FormatError
from seedembed.metrics import ssim
from seedembed.models import generate

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("digit-*.png"))


@pytest.fixture(autouse=True, scope="module")
def _private_cache(tmp_path_factory):
    """Codebooks built by these tests go to a temporary cache, not the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SEEDEMBED_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def codec():
    return seedembed.load("mnist-524287")


@pytest.fixture(scope="module")
def small():
    return seedembed.load("mnist-5101")


def test_decode_is_the_generator_on_the_prf_sequence(codec):
    seeds = torch.tensor([0, 98223, 524286])
    images = codec.decode(seeds)
    ref = (generate(codec.generator, codec.prf, seeds) + 1) / 2
    assert images.shape == (3, 1, 28, 28) and torch.allclose(images, ref)
    assert images.min() >= 0 and images.max() <= 1


def test_decode_refuses_another_models_encoding(codec, small):
    enc = Encoding(torch.tensor([[5]]), small.fingerprint, small.prf.spec, (1, 28, 28), 13)
    with pytest.raises(FormatError, match="encoded with model"):
        codec.decode(enc)
    forged = Encoding(torch.tensor([[5]]), codec.fingerprint, small.prf.spec, (1, 28, 28), 19)
    with pytest.raises(FormatError, match="PRF or geometry"):
        codec.decode(forged)


def test_decode_refuses_seeds_outside_the_space(small):
    enc = Encoding(torch.tensor([[8000]]), small.fingerprint, small.prf.spec, (1, 28, 28), 13)
    with pytest.raises(FormatError, match="outside the seed space"):
        small.decode(enc)


def test_examples_exist_and_load():
    assert len(EXAMPLES) == 10
    x = read_image(EXAMPLES[0], (1, 28, 28))
    assert x.shape == (1, 28, 28) and x.min() >= 0 and x.max() <= 1


def test_image_conversion(tmp_path):
    rgba = Image.new("RGBA", (56, 40), (255, 255, 255, 255))
    rgba.save(tmp_path / "big.png")
    with pytest.warns(UserWarning, match="resized from 56x40 to 28x28"):
        x = read_image(tmp_path / "big.png", (1, 28, 28))
    assert x.shape == (1, 28, 28) and x.min() > 0.99
    Image.fromarray(np.full((28, 28), 40000, dtype=np.uint16)).save(tmp_path / "deep.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deep = read_image(tmp_path / "deep.png", (1, 28, 28))
    assert abs(deep.mean().item() - 40000 / 65535) < 0.01
    (tmp_path / "fake.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="not a readable image"):
        read_image(tmp_path / "fake.png", (1, 28, 28))
    with pytest.raises(DataError, match="no such file"):
        read_image(tmp_path / "missing.png", (1, 28, 28))


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (torch.rand(2, 1, 32, 32), "the model takes"),
        (torch.rand(2, 1, 28, 28) * 2, "in \\[0, 1\\]"),
        (torch.full((1, 1, 28, 28), float("nan")), "finite"),
        (torch.zeros(1, 1, 28, 28, dtype=torch.uint8), "float tensor"),
        ([], "non-empty"),
        ("x.png", "PIL images"),
    ],
)
def test_bad_image_batches(images, message):
    with pytest.raises(DataError, match=message):
        as_batch(images, (1, 28, 28))


def test_cli_decode_errors(tmp_path, capsys):
    bad = tmp_path / "bad.seed"
    bad.write_bytes(b"SEEDEMB1" + bytes(100))
    assert main(["decode", str(bad), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "version 0 is not supported" in err and len(err.strip().splitlines()) == 1
    assert main(["decode", str(tmp_path / "none.seed"), "-o", str(tmp_path / "out")]) == 2
    foreign = Encoding(torch.tensor([[1]]), "00" * 32, "lcg-5101", (1, 28, 28), 13)
    foreign.save(tmp_path / "foreign.seed")
    assert main(["decode", str(tmp_path / "foreign.seed"), "-o", str(tmp_path / "out")]) == 2
    assert "not a shipped model" in capsys.readouterr().err


def test_cli_decode_finds_the_model_and_keeps_existing_files(tmp_path, codec, capsys):
    enc = Encoding(torch.tensor([[7], [9]]), codec.fingerprint, codec.prf.spec, (1, 28, 28), 19)
    enc.names = ["seven.png", "nine.jpg"]
    enc.save(tmp_path / "two.seed")
    out = tmp_path / "out"
    assert main(["decode", str(tmp_path / "two.seed"), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["nine.png", "seven.png"]
    decoded = read_image(out / "seven.png", (1, 28, 28))
    assert (decoded - codec.decode([7])[0]).abs().max() <= 1 / 255 + 1e-6
    before = (out / "seven.png").read_bytes()
    assert main(["decode", str(tmp_path / "two.seed"), "-o", str(out)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (out / "seven.png").read_bytes() == before


def test_image_search_round_trip_quality(small):
    x = torch.stack([read_image(p, small.geometry) for p in EXAMPLES])
    enc = small.encode(x, "image")
    assert enc.strategy == "image" and enc.bits == 13 and enc.seeds.shape == (10, 1)
    recon = small.decode(enc)
    # measured mean SSIM 0.703 on these ten digits with the 13-bit model
    assert ssim(x, recon).mean() > 0.6
    # exhaustive: no seed of the whole space is closer than the one found
    every = small.decode(torch.arange(small.prf.size))
    best = ((every[None] - x[:, None]) ** 2).flatten(2).mean(2).argmin(1)
    assert torch.equal(enc.seeds[:, 0], best)


def test_synthetic_images_give_back_their_seeds(small):
    seeds = torch.tensor([0, 17, 3224, 5100])
    enc = small.encode(small.decode(seeds), "image")
    assert torch.equal(enc.seeds[:, 0], seeds)


def test_encoding_survives_a_file(small, tmp_path):
    x = small.decode(torch.tensor([11, 12]))
    enc = small.encode(x, "image", names=["a.png", "b.png"])
    loaded = Encoding.load(enc.save(tmp_path / "x.seed"))
    assert loaded == enc and torch.equal(small.decode(loaded), small.decode(enc))
    names, payload, crc = len("a.png\nb.png"), 4, 4  # 2 x 13 bits -> 4 bytes
    assert (tmp_path / "x.seed").stat().st_size == 62 + len(small.prf.spec) + names + payload + crc


def test_cli_encode_decode_roundtrip(tmp_path, capsys):
    seedfile, out = tmp_path / "digits.seed", tmp_path / "decoded"
    argv = ["encode", *map(str, EXAMPLES[:3]), "-o", str(seedfile), "--model", "mnist-5101"]
    assert main([*argv, "--search", "image"]) == 0
    printed = capsys.readouterr().out
    assert "digit-0-test00003.png" in printed and "13 bits/image" in printed
    assert main(argv) == 2  # the file exists: kept, not overwritten
    assert "refusing to overwrite" in capsys.readouterr().err
    assert main(["decode", str(seedfile), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in EXAMPLES[:3]]
    sheet = tmp_path / "sheet.png"
    rt = ["roundtrip", *map(str, EXAMPLES[:3]), "-o", str(sheet), "--model", "mnist-5101"]
    assert main(rt) == 0
    assert Image.open(sheet).size[1] > 2 * 28


def test_cli_encode_bad_input(tmp_path, capsys):
    (tmp_path / "x.png").write_bytes(b"garbage")
    assert main(["encode", str(tmp_path / "x.png"), "-o", str(tmp_path / "o.seed")]) == 2
    assert "not a readable image" in capsys.readouterr().err
    assert not (tmp_path / "o.seed").exists()
    assert (
        main(["encode", str(EXAMPLES[0]), "-o", str(tmp_path / "o.seed"), "--model", "nope"]) == 2
    )


def test_default_model_round_trip_without_a_cache(codec):
    """The README's main job: the ten examples through mnist-524287 on a fresh install."""
    x = torch.stack([read_image(p, codec.geometry) for p in EXAMPLES])
    assert codec.default_search() == "hybrid"  # the private test cache is empty
    enc = codec.encode(x)
    assert enc.strategy == "hybrid" and enc.bits == 19
    # measured mean SSIM 0.726 (hybrid) and 0.793 (exact image search) on these digits
    assert ssim(x, codec.decode(enc)).mean() > 0.65


def test_encode_set_of_a_folder_keeps_names(tmp_path, small):
    folder = tmp_path / "digits"
    folder.mkdir()
    for p in EXAMPLES[:4]:
        (folder / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "set.seed"
    argv = ["encode-set", str(folder), "-o", str(out), "--model", "mnist-5101"]
    assert main([*argv, "--search", "image", "--batch-size", "3", "--no-progress"]) == 0
    enc = Encoding.load(out)
    assert enc.names == [p.name for p in EXAMPLES[:4]]
    x = torch.stack([read_image(p, small.geometry) for p in EXAMPLES[:4]])
    assert torch.equal(enc.seeds, small.encode(x, "image").seeds)


def _encode_set_worker(rank: int, port: int, out: str) -> None:
    import os

    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    torch.set_num_threads(1)
    argv = ["encode-set", "mnist", "-o", out, "--model", "mnist-5101", "--search", "image"]
    assert main([*argv, "--limit", "300", "--batch-size", "64", "--no-progress"]) == 0


def test_encode_set_data_parallel_equals_one_process(tmp_path):
    import socket

    import torch.multiprocessing as mp

    one, two = tmp_path / "one.seed", tmp_path / "two.seed"
    argv = ["encode-set", "mnist", "-o", str(one), "--model", "mnist-5101", "--search", "image"]
    assert main([*argv, "--limit", "300", "--no-progress"]) == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_encode_set_worker, args=(port, str(two)), nprocs=2, join=True)
    assert one.read_bytes() == two.read_bytes()
    assert Encoding.load(two).n_images == 300 and Encoding.load(two).names is None
