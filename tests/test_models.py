"""Networks: shapes, configs, spectral norm, EMA, parameter counts, generation and grids."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

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
