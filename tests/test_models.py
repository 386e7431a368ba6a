"""Networks: shapes, configs, spectral norm, EMA, parameter counts, generation and grids."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from torch import nn

from seedembed import prf
from seedembed.errors import ModelError
from seedembed.models import (
    Discriminator,
    GanConfig,
    Generator,
    count_parameters,
    ema_beta,
    generate,
    make_ema,
    parameter_table,
    resolution_plan,
    save_grid,
    update_ema,
)
from seedembed.models.dcgan import minibatch_std
from seedembed.train import TrainConfig


@pytest.mark.parametrize(
    "cfg",
    [
        GanConfig.mnist(g_width=8, d_width=8),
        GanConfig.anime(g_width=4, d_width=4),
        GanConfig(image_size=32, channels=3, latent_length=7, g_width=4, d_width=6),
    ],
)
def test_shapes_and_ranges(cfg):
    torch.manual_seed(0)
    G, D = Generator(cfg), Discriminator(cfg)
    z = torch.rand(3, cfg.latent_length) * 2 - 1
    x = G(z)
    assert x.shape == (3, cfg.channels, cfg.image_size, cfg.image_size)
    assert x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (3,)


def test_presets_follow_the_thesis():
    assert (GanConfig.mnist().image_size, GanConfig.mnist().channels) == (28, 1)
    assert GanConfig.mnist().latent_length == 25
    anime = GanConfig.anime()
    assert (anime.image_size, anime.channels, anime.latent_length) == (64, 3, 100)
    assert resolution_plan(28) == (7, 2) and resolution_plan(64) == (4, 4)


@pytest.mark.parametrize(
    "bad",
    [
        {"image_size": 30},
        {"image_size": 7},
        {"channels": 2},
        {"latent_length": 0},
        {"g_width": True},
    ],
)
def test_bad_architectures_are_rejected(bad):
    with pytest.raises(ModelError):
        GanConfig(**bad)


def test_configs_round_trip_through_json():
    cfg = GanConfig.anime(g_width=16, spectral_norm=False)
    assert GanConfig.from_json(cfg.to_json()) == cfg
    train = TrainConfig(
        model=cfg,
        prf="lcg-5101",
        schedule="lcg+noise",
        noise_scale=0.05,
        limit=10,
        sample_seeds=(5, 6),
        betas=(0.0, 0.99),
    )
    back = TrainConfig.from_json(train.to_json())
    assert back == train and isinstance(back.betas, tuple) and isinstance(back.model, GanConfig)
    data = json.loads(train.to_json())
    data["model"]["depth"] = 3
    with pytest.raises(ModelError, match="unknown model config keys: depth"):
        TrainConfig.from_dict(data)
    with pytest.raises(ModelError, match="unknown schedule"):
        TrainConfig(schedule="3steps")


def test_spectral_norm_bounds_discriminator_layers():
    torch.manual_seed(0)
    cfg = GanConfig.mnist(g_width=8, d_width=8)
    D = Discriminator(cfg)
    with torch.no_grad():
        for _ in range(30):  # power iterations run in training-mode forwards
            D(torch.randn(2, 1, 28, 28))
    layers = [m for m in D.modules() if hasattr(m, "parametrizations")]
    assert len(layers) == 3
    for layer in layers:
        w = layer.weight.detach().flatten(1)
        assert abs(torch.linalg.matrix_norm(w, ord=2).item() - 1.0) < 0.05
    plain = Discriminator(GanConfig.mnist(g_width=8, d_width=8, spectral_norm=False))
    assert not any(hasattr(m, "parametrizations") for m in plain.modules())


def test_ema_moves_towards_weights_and_copies_buffers():
    torch.manual_seed(0)
    G = Generator(GanConfig.mnist(g_width=4, d_width=4))
    ema = make_ema(G)
    assert not ema.training and not any(p.requires_grad for p in ema.parameters())
    before = [p.clone() for p in ema.parameters()]
    with torch.no_grad():
        for p in G.parameters():
            p.add_(1.0)
        G.body[0].running_mean.fill_(3.0)
    update_ema(ema, G, beta=0.5)
    for b, e, p in zip(before, ema.parameters(), G.parameters(), strict=True):
        assert torch.allclose(e, (b + p) / 2)
    assert torch.equal(ema.body[0].running_mean, G.body[0].running_mean)
    beta = ema_beta(100, 1000)
    assert abs(beta ** (1000 / 100) - 0.5) < 1e-12


def test_parameter_table_counts():
    G = Generator(GanConfig.mnist(g_width=8, d_width=8))
    n = sum(p.numel() for p in G.parameters())
    assert count_parameters(G) == n
    table = parameter_table({"generator": G})
    assert f"{n:,}" in table and "generator" in table


def test_generate_is_per_seed_and_grid_has_expected_size(tmp_path):
    torch.manual_seed(0)
    G = Generator(GanConfig.mnist(g_width=8, d_width=8))
    p = prf.get("lcg-5101")
    few = generate(G, p, [3])
    many = generate(G, p, [1, 2, 3, 4], batch_size=3)
    assert G.training  # generate restores the mode
    assert torch.allclose(few[0], many[2], atol=1e-6)  # eval mode: no batch statistics
    direct = G.eval()(p.sequences([3], 25))
    assert torch.allclose(few, direct, atol=1e-6)
    path = save_grid(many, tmp_path / "sub" / "grid.png", nrow=2)
    with Image.open(path) as im:
        assert im.size == (2 * 30 + 2, 2 * 30 + 2) and im.mode == "L"
    assert not list((tmp_path / "sub").glob(".*tmp*"))


# -- the StyleGAN-style generator ----------------------------------------------------------
def _small(generator: str) -> list[GanConfig]:
    """Narrow configs of one generator at both geometries: 28x28 grey and 64x64 RGB."""
    return [
        GanConfig.mnist(g_width=8, d_width=8, generator=generator),
        GanConfig.anime(g_width=4, d_width=4, generator=generator),
    ]


def _built(cfg: GanConfig, cls: type) -> tuple:
    """A generator of ``cfg`` (of class ``cls``), 5 latents and its images, checked for shape and
    range."""
    from seedembed.models import build_generator

    torch.manual_seed(0)
    G = build_generator(cfg)
    assert isinstance(G, cls) and G.config == cfg
    z = torch.rand(5, cfg.latent_length) * 2 - 1
    x = G(z)
    assert x.shape == (5, cfg.channels, cfg.image_size, cfg.image_size)
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0
    return G, z, x


@pytest.mark.parametrize("cfg", _small("style"))
def test_style_generator_shapes_determinism_and_batch_independence(cfg):
    from seedembed.models import StyleGenerator

    G, z, x = _built(cfg, StyleGenerator)
    # no noise inputs and no batch norm: a seed decodes to one image, whatever its batch or mode
    assert torch.allclose(G(z[2:3]), x[2:3], atol=1e-6)
    G.eval()
    assert torch.allclose(G(z), x, atol=1e-6)
    # the latent moves the image from the start: most of the pixel variance is across samples
    # (measured 0.92 at width 32; PyTorch's default init gave 0.07, and its run collapsed)
    zs = torch.rand(64, cfg.latent_length) * 2 - 1
    with torch.no_grad():
        xs = G(zs)
    assert xs.std(0).mean() > 0.5 * xs.std()


@pytest.mark.parametrize(("k", "demodulate"), [(3, True), (1, False)])
def test_modulated_conv_is_the_per_sample_kernel_convolution(k, demodulate):
    """The rearranged computation (scale the input, one shared kernel, scale the output) equals
    StyleGAN2's definition: each sample convolved with its own modulated, demodulated kernel."""
    import torch.nn.functional as F

    from seedembed.models.style import ModulatedConv

    torch.manual_seed(0)
    m = ModulatedConv(6, 4, k, 8, demodulate=demodulate).double()
    with torch.no_grad():
        m.bias.normal_()
    x, w = torch.randn(3, 6, 5, 5, dtype=torch.float64), torch.randn(3, 8, dtype=torch.float64)
    s = m.affine(w)
    for i in range(3):
        kernel = m.weight * m.scale * s[i].view(1, -1, 1, 1)
        if demodulate:
            kernel = kernel / kernel.pow(2).sum((1, 2, 3), keepdim=True).add(1e-8).sqrt()
        want = F.conv2d(x[i : i + 1], kernel, m.bias, padding=k // 2)
        assert torch.allclose(m(x, w)[i : i + 1], want, atol=1e-12)


def test_style_generator_under_bf16_autocast_stays_close_to_fp32():
    """The GPU loops train under bf16 autocast; the demodulation sums stay in fp32 there."""
    from seedembed.models import build_generator

    torch.manual_seed(0)
    G = build_generator(GanConfig.mnist(g_width=8, d_width=8, generator="style"))
    z = torch.rand(16, 25) * 2 - 1
    with torch.no_grad():
        ref = G(z)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = G(z)
    assert low.dtype == torch.bfloat16
    assert (low.float() - ref).abs().max() < 0.05 and (low.float() - ref).abs().mean() < 0.005


# -- the fully connected generator -------------------------------------------------------
@pytest.mark.parametrize("cfg", _small("mlp"))
def test_mlp_generator_shapes_widths_and_inference_mode(cfg):
    from seedembed.models import MlpGenerator

    G, z, _ = _built(cfg, MlpGenerator)
    widths = [m.out_features for m in G.modules() if isinstance(m, nn.Linear)]
    pixels = cfg.channels * cfg.image_size**2
    assert widths == [4 * cfg.g_width, 8 * cfg.g_width, 16 * cfg.g_width, pixels]
    with pytest.raises(ModelError, match="batch norm needs batch_size >= 2"):
        TrainConfig(model=cfg, batch_size=1)
    # the codec renders in inference mode: one seed, one image, whatever its batch
    G.eval()
    with torch.no_grad():
        assert torch.allclose(G(z[2:3]), G(z)[2:3], atol=1e-6)


def test_the_generator_choice_is_in_the_config_only_when_not_the_default():
    dc, st = GanConfig.mnist(), GanConfig.mnist(generator="style")
    assert "generator" not in dc.to_dict()  # older models' configs and fingerprints unchanged
    assert st.to_dict()["generator"] == "style"
    assert GanConfig.from_json(st.to_json()) == st and GanConfig.from_json(dc.to_json()) == dc
    with pytest.raises(ModelError, match="generator must be one of dcgan, style, mlp"):
        GanConfig(generator="biggan")


def test_minibatch_std_is_an_opt_in_feature_of_d_kept_within_each_part():
    plain, mb = GanConfig.mnist(d_width=8), GanConfig.mnist(d_width=8, minibatch_std=True)
    assert "minibatch_std" not in plain.to_dict()  # older fingerprints unchanged
    assert mb.to_dict()["minibatch_std"] is True and GanConfig.from_json(mb.to_json()) == mb
    with pytest.raises(ModelError, match="minibatch_std must be true or false"):
        GanConfig(minibatch_std=1)
    with pytest.raises(ModelError, match="the style generator needs g_width >= 2"):
        GanConfig(generator="style", g_width=1)
    torch.manual_seed(0)
    D = Discriminator(mb).eval()
    assert D.head.in_features == Discriminator(plain).head.in_features + 7 * 7  # one channel
    real, fake = torch.rand(8, 1, 28, 28) * 2 - 1, torch.rand(8, 1, 28, 28) * 2 - 1
    collapsed = fake[:1].expand(8, -1, -1, -1)
    with torch.no_grad():
        a = D(torch.cat([real, fake]), split=8)
        b = D(torch.cat([real, collapsed]), split=8)
        assert torch.equal(a[:8], b[:8])  # the real part's statistic ignores the fake part
        c = D(torch.cat([real, fake]))  # one part: groups of 4 consecutive rows
        assert torch.equal(c, a)  # 8 real, 8 fake: no group straddles the boundary here
        odd = D(torch.cat([real[:6], fake[:5]]), split=6)  # one group of 6, one of 5
        assert odd.shape == (11,) and torch.allclose(odd[:6], D(real[:6]), atol=1e-6)
    # the statistic itself: about sqrt(1e-8) for a collapsed group, the spread otherwise
    feats = torch.randn(10, 3, 2, 2)
    feats[:4] = feats[0]
    stat = minibatch_std(feats)[:, -1, 0, 0]
    assert stat.shape == (10,) and torch.allclose(stat[:4], torch.full((4,), 1e-4))
    spread = feats[4:].var(0, unbiased=False).add(1e-8).sqrt().mean()
    assert torch.allclose(stat[4:], spread.expand(6), atol=1e-6)  # 4 + remainder 2: one group
    assert torch.allclose(minibatch_std(feats[:1])[:, -1], torch.full((1, 2, 2), 1e-4))


@pytest.mark.parametrize("name", ["style", "mlp"])
def test_a_generator_trains_loads_and_round_trips(tmp_path, capsys, name):
    """train-gan --generator NAME -> a model folder every command takes; its own images come
    back as their seeds through the exact image search."""
    from fake_data import write_fake_mnist

    import seedembed
    from seedembed.cli import main
    from seedembed.models import MlpGenerator, StyleGenerator
    from seedembed.zoo import load_generator

    root = write_fake_mnist(tmp_path / "data", n_train=128, n_test=8)
    out = tmp_path / "run"
    args = ["train-gan", "--generator", name, "--minibatch-std", "--width", "8"]
    args += ["--prf", "lcg-5101"]
    args += ["--batch-size", "32", "--max-steps", "6", "--data-root", str(root)]
    args += ["--out", str(out), "--no-progress", "--no-tensorboard", "--device", "cpu"]
    assert main(args) == 0
    loaded = load_generator(out)
    assert isinstance(loaded.generator, {"style": StyleGenerator, "mlp": MlpGenerator}[name])
    assert loaded.config["train"]["model"]["generator"] == name
    assert loaded.config["train"]["model"]["minibatch_std"] is True
    codec = seedembed.load(out)
    seeds = torch.tensor([3, 1000, 4321])
    enc = codec.encode(codec.decode(seeds), search="image", cache_dir=tmp_path / "cache")
    assert enc.seeds[:, 0].tolist() == seeds.tolist()
    capsys.readouterr()


def test_style_without_minibatch_std_is_warned_about(tmp_path, capsys):
    from seedembed.cli import main

    base = ["train-gan", "--generator", "style", "--out", str(tmp_path / "r"), "--dry-run"]
    assert main(base) == 0
    assert "collapsed to one image in every run without --minibatch-std" in capsys.readouterr().err
    assert main([*base, "--minibatch-std"]) == 0
    out = capsys.readouterr()
    assert "warning" not in out.err and '"minibatch_std": true' in out.out
