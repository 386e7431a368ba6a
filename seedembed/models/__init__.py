"""Networks of seedembed: DCGAN-style generator/discriminator, their EMA, and sampling."""

from seedembed.models.config import GanConfig, resolution_plan
from seedembed.models.dcgan import Discriminator, Generator
from seedembed.models.ema import ema_beta, make_ema, update_ema
from seedembed.models.generate import generate, image_grid, save_grid
from seedembed.models.inverse import InverseConfig, InverseGenerator
from seedembed.models.summary import count_parameters, parameter_table

__all__ = [
    "Discriminator",
    "GanConfig",
    "Generator",
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
