"""Parameter counts, printed at the start of training and by ``train-gan --dry-run``."""

from __future__ import annotations

from torch import nn


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def parameter_table(models: dict[str, nn.Module]) -> str:
    """A small text table: name, parameters, layers with weights."""
    rows = [("network", "parameters", "weighted layers")]
    for name, model in models.items():
        layers = sum(1 for m in model.modules() if _is_weighted_layer(m))
        rows.append((name, f"{count_parameters(model):,}", str(layers)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join(lines)


def _is_weighted_layer(m: nn.Module) -> bool:
    """A torch conv or linear layer, or a custom one holding its own weight matrix or kernel (the
    style generator's equalised and modulated layers); norms' 1-D weights do not count."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        return True
    weight = m._parameters.get("weight")
    return weight is not None and weight.dim() >= 2
