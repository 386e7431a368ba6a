"""The judging digit classifier: training with warped digits is deterministic, recorded and
reads real test digits."""

from __future__ import annotations

import json

import pytest
import torch

from seedembed.train.classifier import CONFIG, evaluate, load_classifier, train_classifier


@pytest.fixture(scope="module")
def mnist():
    from seedembed.data.mnist import Mnist

    try:
        return Mnist(None, train=False)
    except Exception as exc:  # noqa: BLE001 - any reason the data is absent
        pytest.skip(f"MNIST not available: {exc}")


def test_augmented_training_is_deterministic_recorded_and_reads_digits(mnist, tmp_path):
    kw = dict(epochs=3, limit=4000, augment=True, width=16)
    info = train_classifier(tmp_path / "a", **kw)
    train_classifier(tmp_path / "b", **kw)
    a, b = load_classifier(tmp_path / "a"), load_classifier(tmp_path / "b")
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    record = json.loads((tmp_path / "a" / CONFIG).read_text())
    assert record["augment"] is True and record["train_images"] == 4000
    assert record["width"] == 16 and record["command"] and record["machine"]
    assert info["test"]["accuracy"] > 0.75  # 4,000 warped digits, 3 epochs: 0.85 measured
    x = mnist.as_uint8().float() / 255
    assert evaluate(a, x, mnist.targets)["accuracy"] == pytest.approx(info["test"]["accuracy"])
    plain = train_classifier(tmp_path / "c", **{**kw, "augment": False})
    assert plain["augment"] is False
    c = load_classifier(tmp_path / "c")
    assert not torch.equal(c.state_dict()["body.0.weight"], a.state_dict()["body.0.weight"])


@pytest.mark.parametrize("limit", [0, -5, 2.5, True])
def test_a_bad_limit_is_refused(tmp_path, limit):
    from seedembed.errors import ModelError

    with pytest.raises(ModelError, match="limit must be an integer >= 1"):
        train_classifier(tmp_path / "x", limit=limit)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("lr", [0, -1e-3, float("nan"), float("inf"), True, "1e-3"])
def test_a_bad_lr_is_refused(tmp_path, lr):
    from seedembed.errors import ModelError

    with pytest.raises(ModelError, match="lr must be a finite number > 0"):
        train_classifier(tmp_path / "x", lr=lr)
    assert not (tmp_path / "x").exists()


def test_mlp_judge_is_recorded_reloads_and_gives_features(mnist, tmp_path):
    info = train_classifier(tmp_path / "m", arch="mlp", width=64, epochs=2, limit=4000)
    record = json.loads((tmp_path / "m" / CONFIG).read_text())
    assert record["arch"] == "mlp" and record["width"] == 64
    assert info["test"]["accuracy"] > 0.75  # 4,000 digits, 2 epochs: 0.84 measured
    net = load_classifier(tmp_path / "m")
    assert net.arch == "mlp" and sum(p.numel() for p in net.parameters()) == 784 * 64 + 64 + 650
    x = mnist.as_uint8()[:500].float() / 255
    assert net.body[:-1](x).shape == (500, 64)  # the perceptual term's and FID's feature layer
    assert evaluate(net, x, mnist.targets[:500])["accuracy"] > 0.75


def test_an_unknown_arch_is_refused(tmp_path):
    from seedembed.errors import ModelError

    with pytest.raises(ModelError, match="unknown classifier arch 'vit'"):
        train_classifier(tmp_path / "x", arch="vit")
    assert not (tmp_path / "x").exists()
