"""Networks of seedembed: DCGAN-style and StyleGAN-style generators, the discriminator, their
EMA, and sampling. :func:`build_generator` picks the generator a config names."""

from torch import nn

from seedembed.models.config import GENERATORS, GanConfig, resolution_plan
from seedembed.models.dcgan import Discriminator, Generator
from seedembed.models.ema import ema_beta, make_ema, update_ema
from seedembed.models.generate import generate, image_grid, save_grid
from seedembed.models.inverse import InverseConfig, InverseGenerator
from seedembed.models.mlp import MlpGenerator
from seedembed.models.style import StyleGenerator
from seedembed.models.summary import count_parameters, parameter_table


def build_generator(config: GanConfig) -> nn.Module:
    """The generator of ``config.generator``: :class:`Generator` (DCGAN),
    :class:`StyleGenerator` or :class:`MlpGenerator`."""
    return {"style": StyleGenerator, "mlp": MlpGenerator}.get(config.generator, Generator)(config)


__all__ = [
    "GENERATORS",
    "Discriminator",
    "GanConfig",
    "Generator",
    "MlpGenerator",
    "StyleGenerator",
    "build_generator",
    "InverseConfig",
    "InverseGenerator",
    "count_parameters",
    "ema_beta",
    "generate",
    "image_grid",
    "make_ema",
    "parameter_table",
    "resolution_plan",
    "save_grid",
    "update_ema",
]
