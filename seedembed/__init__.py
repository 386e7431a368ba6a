"""seedembed: store an image as the seed of a pseudorandom function.

A GAN is trained whose latent is a PRF sequence (mainly an LCG); an image is encoded as the
seed whose generated image matches it and decoded by running the generator on that seed::

    import seedembed
    codec = seedembed.load("mnist-524287")
    enc = codec.encode(images)          # images: float (N, C, H, W) in [0, 1] or PIL images
    enc.save("digits.seed")             # 19 bits per image plus a small header
    images = codec.decode(seedembed.Encoding.load("digits.seed"))
"""

from seedembed.errors import PrfError, SeedembedError

__version__ = "0.1.0"

__all__ = ["Codec", "Encoding", "PrfError", "SeedembedError", "__version__", "load"]


def __getattr__(name: str):
    """The codec API, imported on first use so that ``import seedembed`` stays light."""
    if name in ("load", "Codec"):
        from seedembed.codec import codec

        return getattr(codec, name)
    if name == "Encoding":
        from seedembed.codec.encoding import Encoding

        return Encoding
    raise AttributeError(f"module 'seedembed' has no attribute {name!r}")
