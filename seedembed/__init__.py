"""seedembed: store an image as the seed of a pseudorandom function.

A GAN is trained whose latent is a PRF sequence (mainly an LCG); an image is encoded as the
seed whose generated image matches it and decoded by running the generator on that seed.
"""

from seedembed.errors import PrfError, SeedembedError

__version__ = "0.1.0"

__all__ = ["PrfError", "SeedembedError", "__version__"]
