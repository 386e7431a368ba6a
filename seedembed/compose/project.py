"""GAN inversion in image space: refine a latent guess by gradient descent on the image error.

The inverse generator's latent is a fast first guess but a poor one (MNIST: image MSE 0.027 on
[0, 1] through the 2steps GAN, where 100 Adam steps on the latent reach about 0.006), so the
image-aware composition first projects that guess, as stylegan2-ada-pytorch's ``projector.py``
does, then composes the projected latent from seeds.
"""

from __future__ import annotations

import torch

from seedembed.errors import SearchError


def project_latents(
    generator: torch.nn.Module,
    images: torch.Tensor,
    start: torch.Tensor,
    *,
    steps: int = 100,
    lr: float = 0.05,
    block: int = 1024,
) -> torch.Tensor:
    """Latents (N, L) that lower ||G(z) - x||^2 from ``start``; images (N, C, H, W) in [-1, 1].

    Unconstrained (the composed latent is a weighted sum, not a PRF point), deterministic for a
    given input on one machine; the generator's weights are not touched.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise SearchError(f"projection steps must be an integer >= 0, got {steps!r}")
    device = next(generator.parameters()).device
    was = [p.requires_grad for p in generator.parameters()]
    generator.requires_grad_(False)
    out = []
    try:
        for s in range(0, len(images), block):
            x = images[s : s + block].to(device)
            z = start[s : s + block].to(device, torch.float32).clone().requires_grad_(True)
            opt = torch.optim.Adam([z], lr=lr)
            for _ in range(steps):
                loss = (generator(z) - x).square().flatten(1).mean(1).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            out.append(z.detach())
    finally:
        for p, flag in zip(generator.parameters(), was, strict=True):
            p.requires_grad_(flag)
    return torch.cat(out) if out else start.clone()
