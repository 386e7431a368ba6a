"""Data sets: MNIST roots and downloads, image folders and their error policy, anime splits."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from fake_data import fake_digits, write_fake_mnist, write_image
from PIL import Image

from seedembed.data import (
    AnimeFaces,
    ImageFolder,
    Mnist,
    load_uint8,
    open_dataset,
    resolve_root,
    to_float,
)
from seedembed.errors import DataError


@pytest.fixture
def mnist_root(tmp_path):
    return write_fake_mnist(tmp_path / "data", n_train=100, n_test=20)


def test_mnist_reads_local_copy_as_uint8(mnist_root):
    ds = Mnist(mnist_root, train=True)
    assert len(ds) == 100
    data = load_uint8(ds)
    assert data.shape == (100, 1, 28, 28) and data.dtype == torch.uint8
    expected, labels = fake_digits(100, 0)
    assert torch.equal(data[:, 0], torch.from_numpy(expected))
    image, label = ds[3]
    assert isinstance(image, Image.Image) and image.size == (28, 28) and label == labels[3]
    assert len(Mnist(mnist_root, train=False)) == 20
    assert load_uint8(ds, limit=7).shape[0] == 7


def test_mnist_root_comes_from_environment(mnist_root, monkeypatch):
    monkeypatch.setenv("SEEDEMBED_DATA", str(mnist_root))
    assert resolve_root(None) == (mnist_root, True)
    assert len(open_dataset("mnist")) == 100


def test_named_root_must_exist(tmp_path, monkeypatch):
    monkeypatch.delenv("SEEDEMBED_DATA", raising=False)
    with pytest.raises(DataError, match="does not exist"):
        Mnist(tmp_path / "nowhere")


def test_mnist_absent_without_download_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no MNIST"):
        Mnist(tmp_path, download=False)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores modes")
def test_mnist_absent_in_read_only_root_does_not_download(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(DataError, match="not writable"):
            Mnist(ro)
    finally:
        ro.chmod(0o755)


def test_open_dataset_names_and_geometry(mnist_root):
    with pytest.raises(DataError, match="unknown dataset 'svhn'"):
        open_dataset("svhn", mnist_root)
    with pytest.raises(DataError, match="28x28"):
        open_dataset("mnist", mnist_root, size=64, channels=3)
    with pytest.raises(DataError, match="does not exist"):
        open_dataset("./no/such/folder")


def test_to_float_maps_bytes_to_tanh_range():
    x = to_float(torch.tensor([0, 255, 128], dtype=torch.uint8))
    assert x.tolist()[:2] == [-1.0, 1.0] and abs(x[2].item() - 0.0039) < 1e-3


# -- image folders -----------------------------------------------------------------------------
def test_folder_resizes_centre_crops_and_converts(tmp_path):
    wide = np.zeros((30, 90, 3), dtype=np.uint8)
    wide[:, 30:60] = 255  # only the central third is white
    write_image(tmp_path / "a" / "wide.png", wide)
    write_image(tmp_path / "b.jpg", np.full((64, 64), 100, dtype=np.uint8))  # grey JPEG
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    write_image(tmp_path / "c.PNG", rgba, mode="RGBA")
    ds = ImageFolder(tmp_path, size=16, channels=3)
    assert len(ds) == 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_uint8(ds)
    assert data.shape == (3, 3, 16, 16) and data.dtype == torch.uint8
    assert dict(ds.converted) == {"L": 1, "RGBA": 1}
    assert any("converted 2 images" in str(w.message) for w in caught)
    names = [p.name for p in ds.files]
    wide_img = data[names.index("wide.png")].float()
    assert wide_img[:, :, 2:-2].min() > 240  # the crop kept the white centre
    grey = data[names.index("b.jpg")]
    assert torch.equal(grey[0], grey[1]) and abs(grey.float().mean() - 100) < 3
    assert data[names.index("c.PNG")][0].float().mean() > 190


def test_folder_grey_output(tmp_path):
    write_image(tmp_path / "x.png", np.full((8, 8, 3), 255, dtype=np.uint8))
    with pytest.warns(UserWarning, match="converted 1 images to L"):
        data = load_uint8(ImageFolder(tmp_path, size=8, channels=1))
    assert data.shape == (1, 1, 8, 8) and data.min() == 255


def test_empty_or_missing_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no PNG or JPEG"):
        ImageFolder(tmp_path)
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match="no PNG or JPEG"):
        ImageFolder(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        ImageFolder(tmp_path / "missing")


def test_wrong_channel_count_is_an_error(tmp_path):
    write_image(tmp_path / "x.png", np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(DataError, match="1 \\(grey\\) or 3 \\(RGB\\)"):
        ImageFolder(tmp_path, channels=2)


def test_unreadable_files_are_skipped_and_counted(tmp_path):
    for i in range(3):
        write_image(tmp_path / f"ok{i}.png", np.full((8, 8, 3), 50 * i, dtype=np.uint8))
    (tmp_path / "garbage.png").write_bytes(b"this is no png")
    full = (tmp_path / "ok0.png").read_bytes()
    truncated = tmp_path / "truncated.png"
    write_image(truncated, np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:120])  # header intact, pixels cut
    assert len(full) > 0
    with pytest.warns(UserWarning, match="skipped 1 of 5 files"):
        ds = ImageFolder(tmp_path, size=8)
    assert len(ds) == 4
    with pytest.warns(UserWarning, match="skipped 1 of 4 images .* failed to decode"):
        data = load_uint8(ds)
    assert data.shape == (3, 3, 8, 8)
    assert len(ds.skipped) == 2 and len(ds) == 3


def test_folder_of_only_broken_files_is_an_error(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8 broken")
    with pytest.raises(DataError, match="none of the 1 files"):
        ImageFolder(tmp_path)


def test_anime_faces_split_follows_test_txt(tmp_path):
    images = tmp_path / "anime-faces" / "images"
    for i in range(10):
        write_image(images / f"{i}_2000.jpg", np.full((64, 64, 3), i * 20, dtype=np.uint8))
    (tmp_path / "anime-faces" / "test.txt").write_text("2_2000.jpg\n7_2000.jpg\n")
    train = AnimeFaces(tmp_path, split="train")
    test = AnimeFaces(tmp_path / "anime-faces", split="test")
    assert sorted(p.name for p in test.files) == ["2_2000.jpg", "7_2000.jpg"]
    assert len(train) == 8 and not {p.name for p in train.files} & {"2_2000.jpg", "7_2000.jpg"}
    assert load_uint8(test).shape == (2, 3, 64, 64)
    assert len(open_dataset("anime-faces", tmp_path, train=False)) == 2
    with pytest.raises(DataError, match="split"):
        AnimeFaces(tmp_path, split="val")
    (tmp_path / "anime-faces" / "test.txt").unlink()
    with pytest.raises(DataError, match="test.txt"):
        AnimeFaces(tmp_path)


@pytest.fixture
def image_cache(tmp_path, monkeypatch):
    """The decoded-image cache switched on, in a folder of its own."""
    monkeypatch.setenv("SEEDEMBED_IMAGE_CACHE", "1")
    monkeypatch.setenv("SEEDEMBED_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "images"


def _faces(folder, n=5):
    rng = np.random.default_rng(0)
    for i in range(n):
        write_image(folder / f"{i}.png", rng.integers(0, 255, (12, 12, 3), np.uint8))
    return folder


def test_a_decoded_folder_is_cached_and_reused(tmp_path, image_cache, monkeypatch):
    folder = _faces(tmp_path / "faces")
    first = load_uint8(ImageFolder(folder, size=8))
    assert len(list(image_cache.glob("*.npy"))) == 1
    assert sorted(p.name for p in folder.iterdir()) == [f"{i}.png" for i in range(5)]

    def no_decoding(*_):
        raise AssertionError("decoded again")

    monkeypatch.setattr(ImageFolder, "_decode", no_decoding)
    ds = ImageFolder(folder, size=8)
    assert torch.equal(load_uint8(ds), first)
    assert torch.equal(load_uint8(ds, limit=2), first[:2])


def test_the_cache_key_follows_files_and_geometry(tmp_path, image_cache):
    folder = _faces(tmp_path / "faces")
    a = load_uint8(ImageFolder(folder, size=8))
    write_image(folder / "3.png", np.zeros((12, 12, 3), np.uint8))  # edited in place
    os.utime(folder / "3.png", ns=(1, 1))
    b = load_uint8(ImageFolder(folder, size=8))
    assert b[3].max() == 0 and torch.equal(a[:3], b[:3])
    assert len(list(image_cache.glob("*.npy"))) == 1  # the edited set's old entry is gone
    assert load_uint8(ImageFolder(folder, size=6)).shape == (5, 3, 6, 6)
    write_image(folder / "5.png", np.zeros((12, 12, 3), np.uint8))  # another set of files
    assert len(load_uint8(ImageFolder(folder, size=8))) == 6
    assert len(list(image_cache.glob("*.npy"))) == 3


def test_a_damaged_cache_entry_is_rebuilt(tmp_path, image_cache):
    folder = _faces(tmp_path / "faces")
    good = load_uint8(ImageFolder(folder, size=8))
    entry = next(image_cache.glob("*.npy"))
    raw = bytearray(entry.read_bytes())
    raw[-1] ^= 0xFF  # one flipped pixel: only the checksum sees it
    entry.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="damaged .*checksum"):
        again = load_uint8(ImageFolder(folder, size=8))
    assert torch.equal(again, good)
    assert torch.equal(load_uint8(ImageFolder(folder, size=8)), good)  # rewritten, clean


def test_an_unwritable_cache_is_only_a_warning(tmp_path, monkeypatch):
    folder = _faces(tmp_path / "faces")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("SEEDEMBED_IMAGE_CACHE", "1")
    monkeypatch.setenv("SEEDEMBED_CACHE", str(blocker))
    with pytest.warns(UserWarning, match="cannot cache the decoded images"):
        data = load_uint8(ImageFolder(folder, size=8))
    assert data.shape == (5, 3, 8, 8)


def test_a_set_with_broken_files_is_not_cached(tmp_path, image_cache):
    folder = _faces(tmp_path / "faces")
    broken = folder / "9.png"
    write_image(broken, np.zeros((40, 40, 3), np.uint8))
    broken.write_bytes(broken.read_bytes()[:60])
    with pytest.warns(UserWarning, match="failed to decode"):
        assert load_uint8(ImageFolder(folder, size=8)).shape == (5, 3, 8, 8)
    assert not image_cache.exists() or not list(image_cache.glob("*.npy"))


@pytest.mark.skipif(not os.environ.get("SEEDEMBED_DATA"), reason="SEEDEMBED_DATA not set")
def test_real_mnist_if_available():
    root = os.environ["SEEDEMBED_DATA"]
    if not os.path.isdir(os.path.join(root, "MNIST", "raw")):
        pytest.skip("no MNIST under SEEDEMBED_DATA")
    data = load_uint8(open_dataset("mnist", root))
    assert data.shape == (60000, 1, 28, 28)
