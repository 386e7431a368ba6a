"""A StyleGAN-style generator without noise inputs: the thesis' "further work" (issue 9).

Latent (N, L) -> pixel norm -> mapping MLP (4 layers, leaky ReLU) -> style vector w ->
a learned constant (c0, s0, s0) that n blocks (2x upsampling, two modulated 3x3 convolutions)
bring to the image size -> modulated 1x1 "to RGB" -> tanh. Channel counts follow the DCGAN
generator of the same width (c0 = width * 2^(n-1), halved at each upsampling), so
``--generator style`` and ``dcgan`` compare at one setting of ``--width``.

Modulated convolution with weight demodulation (Karras et al., StyleGAN2, 2020): each
sample's style scales the input channels of the kernel, which is then renormalised per output
channel (computed without building the N kernels: ``ModulatedConv.forward``). StyleGAN's
per-pixel noise inputs are left out on purpose: a seed must decode to the same image every
time, so the generator is a pure function of its latent. There is no batch norm, so training
and inference modes compute the same thing. Train it against a discriminator with the
minibatch standard deviation (``--minibatch-std``): without it, every try collapsed to one
digit within 3 epochs (docs/training.md).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seedembed.models.config import GanConfig, resolution_plan

MAPPING_LAYERS = 4
#: StyleGAN2's learning rates are 0.002 for the synthesis and 0.01 x that for the mapping
#: network; the GAN loop's Adam runs at 2e-4 for G and D alike, so the equalised layers carry
#: the ratio themselves: a layer with multiplier k learns as if at k x the loop's rate
SYNTHESIS_LR_MUL, MAPPING_LR_MUL = 10.0, 0.1
GAIN = math.sqrt(2)  # leaky ReLU's gain, as StyleGAN2's fused activation


def style_dim(config: GanConfig) -> int:
    """Width of the style vector w: 4x the generator width (256 at width 64)."""
    return 4 * config.g_width


class EqualLinear(nn.Module):
    """A linear layer with equalised learning rate (StyleGAN): N(0, 1/lr_mul) weights scaled by
    lr_mul / sqrt(fan_in) at run time, so that Adam moves every layer at the same relative rate,
    times ``lr_mul``."""

    def __init__(self, c_in: int, c_out: int, lr_mul: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((c_out,), float(bias_init)) / lr_mul)
        self.scale, self.lr_mul = lr_mul / math.sqrt(c_in), lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class ModulatedConv(nn.Module):
    """A k x k convolution whose input channels are scaled per sample by an affine map of w."""

    def __init__(self, c_in: int, c_out: int, k: int, w_dim: int, demodulate: bool = True):
        super().__init__()
        mul = SYNTHESIS_LR_MUL
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k) / mul)
        self.scale = mul / math.sqrt(c_in * k * k)
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.affine = EqualLinear(w_dim, c_in, lr_mul=mul, bias_init=1.0)  # styles start at 1
        self.demodulate, self.padding = demodulate, k // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # Scaling the input by s, convolving with the shared kernel and scaling the output by
        # the demodulation coefficients is the per-sample kernel's computation, rearranged
        # (StyleGAN2's non-fused path): one ordinary batched convolution instead of a grouped
        # one with N kernels (on a CPU about 4x slower for the generator at 64x64).
        s = self.affine(w)  # (N, c_in)
        weight = self.weight * self.scale
        out = F.conv2d(
            x * s[:, :, None, None].to(x.dtype), weight.to(x.dtype), padding=self.padding
        )
        if self.demodulate:
            # sum over (c_in, k, k) of (weight * s)^2, per sample and output channel, in fp32
            # also under bf16 autocast (as the per-sample kernels' sum was)
            with torch.autocast(x.device.type, enabled=False):
                ssq = s.float().pow(2) @ weight.float().pow(2).sum((2, 3)).t()
            out = out * torch.rsqrt(ssq + 1e-8)[:, :, None, None].to(out.dtype)
        return out + self.bias.view(1, -1, 1, 1).to(out.dtype)


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * GAIN


class StyleGenerator(nn.Module):
    """Latent sequence (N, latent_length) in about [-1, 1] -> image (N, C, H, W) in [-1, 1]."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        s0, n = resolution_plan(config.image_size)
        w_dim = style_dim(config)
        widths = [config.latent_length] + [w_dim] * MAPPING_LAYERS
        pairs = zip(widths, widths[1:], strict=False)
        self.mapping = nn.ModuleList(EqualLinear(a, b, lr_mul=MAPPING_LR_MUL) for a, b in pairs)
        c = config.g_width * 2 ** (n - 1)
        self.const = nn.Parameter(torch.randn(1, c, s0, s0))
        self.convs = nn.ModuleList([ModulatedConv(c, c, 3, w_dim)])
        for _ in range(n):
            self.convs.append(ModulatedConv(c, c // 2, 3, w_dim))
            self.convs.append(ModulatedConv(c // 2, c // 2, 3, w_dim))
            c //= 2
        self.to_rgb = ModulatedConv(c, config.channels, 1, w_dim, demodulate=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
        for layer in self.mapping:
            w = _act(layer(w))
        x = self.const.expand(len(z), -1, -1, -1)
        x = _act(self.convs[0](x, w))
        for i in range(1, len(self.convs), 2):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = _act(self.convs[i](x, w))
            x = _act(self.convs[i + 1](x, w))
        return torch.tanh(self.to_rgb(x, w))
