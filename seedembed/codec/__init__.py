"""Images <-> seeds: the codec (:func:`load`), encodings and the .seed file format."""

from seedembed.codec.codec import Codec, find_model, load
from seedembed.codec.encoding import Encoding
from seedembed.codec.fingerprint import model_fingerprint

__all__ = ["Codec", "Encoding", "find_model", "load", "model_fingerprint"]
