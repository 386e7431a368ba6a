"""Safe loading (safetensors + JSON only, tampering refused) and the keyed mode end to end."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil

import pytest
import torch
from fake_data import write_fake_mnist
from safetensors.torch import load_file, save_file

from seedembed import prf
from seedembed.cli import main
from seedembed.codec import load
from seedembed.errors import CheckpointError, PrfError
from seedembed.models import GanConfig
from seedembed.train import RunOptions, TrainConfig, train_gan
from seedembed.zoo import export_run, load_generator

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def shipped_copy(tmp_path):
    src = load_generator("mnist-5101").path
    dst = tmp_path / "model"
    shutil.copytree(src, dst)
    return dst


def test_shipped_models_record_their_fingerprint():
    for name in ("mnist-524287", "mnist-524287-gan", "mnist-5101"):
        lg = load_generator(name)
        assert json.loads((lg.path / "config.json").read_text())["fingerprint"] == lg.fingerprint


def test_a_tampered_generator_is_refused(shipped_copy):
    weights = shipped_copy / "generator.safetensors"
    tensors = load_file(str(weights))
    name = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] += 1e-3  # one weight, slightly
    save_file(tensors, str(weights), metadata={"format": "seedembed-generator/1"})
    with pytest.raises(CheckpointError, match="does not match the fingerprint"):
        load_generator(shipped_copy)


def test_pickles_are_never_opened(shipped_copy, tmp_path, capsys):
    evil = tmp_path / "evil"
    evil.mkdir()

    marker = tmp_path / "PWNED"

    class Boom:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('x')",))

    (evil / "generator.pt").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError, match="never unpickles"):
        load_generator(evil)
    # a pickle under the safetensors name is not a readable safetensors file
    shutil.copyfile(evil / "generator.pt", shipped_copy / "generator.safetensors")
    with pytest.raises(CheckpointError, match="cannot read the model"):
        load_generator(shipped_copy)
    assert (
        main(["generate", "--model", str(evil), "--seeds", "1", "-o", str(tmp_path / "g.png")]) == 2
    )
    assert "never unpickles" in capsys.readouterr().err
    assert not marker.exists()
    pickle.loads((evil / "generator.pt").read_bytes())  # the payload does run when unpickled
    assert marker.exists()


@pytest.fixture(scope="module")
def keyed_model(tmp_path_factory):
    """A small generator trained on the keyed PRF (12-bit seeds), exported as a model."""
    root = write_fake_mnist(tmp_path_factory.mktemp("data"), n_train=256, n_test=16)
    key = hashlib.sha256(b"seedembed keyed test model").digest()  # fixed: the test is repeatable
    run = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(model=GanConfig.mnist(g_width=8, d_width=8), prf="keyed:bits=12",
                      epochs=10, batch_size=32, limit=128, schedule="lcg")  # fmt: skip
    opts = RunOptions(device="cpu", progress=False, tensorboard=False, samples=False,
                      data_root=str(root), key=key)  # fmt: skip
    train_gan(cfg, run, options=opts)
    model = export_run(run, "keyed-test", dest_root=tmp_path_factory.mktemp("zoo"), key=key)
    return model, key


def test_keyed_seeds_decode_only_with_the_right_key(keyed_model):
    model, key = keyed_model
    right = load(model, key=key)
    seeds = torch.tensor([5, 77, 1234, 4000])
    images = right.decode(seeds)
    enc = right.encode(images, "image")
    assert enc.seeds[:, 0].tolist() == seeds.tolist()  # exact search finds them back
    assert torch.equal(right.decode(enc), images)
    # the codec refuses another key: the spec's key id does not match it
    with pytest.raises(PrfError, match="key"):
        load(model, key=prf.generate_key())
    with pytest.raises(PrfError, match="needs a key"):
        load(model)
    # the same seeds through the same generator under another key: unrelated images, as far
    # from the right ones as the images of other seeds are
    wrong_prf = prf.Keyed(hashlib.sha256(b"another key").digest(), bits=12)
    with torch.no_grad():
        wrong = (right.generator(wrong_prf.sequences(seeds, right.latent_length)) + 1) / 2
    others = right.decode(torch.tensor([9, 99, 999, 3999]))
    wrong_gap = (wrong - images).abs().mean().item()
    other_gap = (others - images).abs().mean().item()
    assert wrong_gap > 0.5 * other_gap > 0
    # the latents themselves are unrelated: over all 4,096 seeds x 25 values the correlation's
    # standard error is 0.003, so 0.02 is six of them (a bound over 100 values flaked at 0.2)
    every = torch.arange(4096)
    z_right = right.prf.sequences(every, 25, dtype=torch.float64)
    z_wrong = wrong_prf.sequences(every, 25, dtype=torch.float64)
    corr = torch.corrcoef(torch.stack([z_right.flatten(), z_wrong.flatten()]))[0, 1]
    assert abs(corr) < 0.02


def test_keyed_cli_needs_the_key_file(keyed_model, tmp_path, capsys):
    model, key = keyed_model
    key_file = tmp_path / "k.key"
    key_file.write_bytes(key)
    out = tmp_path / "s.seed"
    img = "examples/digit-7-test00000.png"
    argv = ["encode", img, "-o", str(out), "--model", str(model), "--search", "latent"]
    assert main(argv) == 2 and "needs a key" in capsys.readouterr().err
    argv[-1] = "image"  # the test model has no inverse generator: exact image search
    assert main([*argv, "--key-file", str(key_file)]) == 0
    other = tmp_path / "other.key"
    other.write_bytes(prf.generate_key())
    dec = ["decode", str(out), "-o", str(tmp_path / "d"), "--model", str(model)]
    assert main([*dec, "--key-file", str(other)]) == 2
    assert "key" in capsys.readouterr().err
    assert main([*dec, "--key-file", str(key_file)]) == 0
