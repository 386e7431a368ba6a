"""Pseudorandom latent codes: seed -> sequence in [-1, 1], behind one interface (:class:`Prf`).

Build one from a spec string with :func:`get`::

    >>> from seedembed import prf
    >>> lcg = prf.get("lcg-524287")          # a preset, same as "lcg:a=283471,c=35899,m=524287"
    >>> lcg.sequences([0, 1], 25).shape
    torch.Size([2, 25])

Spec strings are ``family`` or ``family:key=value,...``; :data:`PRESETS` lists the named ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from seedembed.errors import PrfError
from seedembed.prf.base import Prf
from seedembed.prf.chaotic import Henon, Logistic, Tent
from seedembed.prf.iid import Gaussian, Uniform
from seedembed.prf.keyed import Keyed, generate_key, key_id, read_key
from seedembed.prf.lcg import Lcg

__all__ = [
    "FAMILIES",
    "PRESETS",
    "Gaussian",
    "Henon",
    "Keyed",
    "Lcg",
    "Logistic",
    "Prf",
    "Tent",
    "Uniform",
    "generate_key",
    "get",
    "key_id",
    "read_key",
]

#: The thesis' three LCG parameter sets (slide 14) and the default of every other family.
PRESETS: dict[str, str] = {
    "lcg-5101": "lcg:a=1733,c=1627,m=5101",
    "lcg-29282": "lcg:a=1255,c=6173,m=29282",
    "lcg-524287": "lcg:a=283471,c=35899,m=524287",
}

#: family name -> (class, parameter name -> parser)
FAMILIES: dict[str, tuple[type[Prf], dict[str, Callable[[str], object]]]] = {
    "lcg": (Lcg, {"a": int, "c": int, "m": int}),
    "uniform": (Uniform, {"bits": int}),
    "gaussian": (Gaussian, {"bits": int, "sigma": float}),
    "henon": (Henon, {"a": float, "b": float, "bits": int, "burn": int}),
    "logistic": (Logistic, {"r": float, "bits": int, "burn": int}),
    "tent": (Tent, {"mu": float, "bits": int, "burn": int}),
    "keyed": (Keyed, {"bits": int, "kid": str}),
}

_REQUIRED = {"lcg": ("a", "c", "m")}


def _parse_value(family: str, key: str, text: str, parse: Callable[[str], object]) -> object:
    try:
        return parse(text)
    except ValueError:
        kind = "an integer" if parse is int else "a number" if parse is float else "a string"
        raise PrfError(f"{family} parameter {key} must be {kind}, got {text!r}") from None


def get(spec: str | Prf, *, key: bytes | None = None) -> Prf:
    """The PRF a spec string names (a preset, ``family`` or ``family:k=v,...``).

    ``key`` is the secret of the ``keyed`` family; when unset, the file named by the
    environment variable ``SEEDEMBED_KEY_FILE`` is read. Bad specs raise :class:`PrfError`.
    """
    if isinstance(spec, Prf):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise PrfError(f"a PRF spec must be a non-empty string, got {spec!r}")
    text = PRESETS.get(spec.strip(), spec.strip())
    family, _, rest = text.partition(":")
    family = family.strip().lower()
    if family not in FAMILIES:
        known = ", ".join([*PRESETS, *FAMILIES])
        raise PrfError(f"unknown PRF {spec!r} (known: {known})")
    cls, params = FAMILIES[family]
    kwargs: dict[str, object] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not value.strip():
            raise PrfError(f"PRF parameter {item!r} in {spec!r} is not of the form key=value")
        if name not in params:
            raise PrfError(f"{family} has no parameter {name!r} (it takes {', '.join(params)})")
        if name in kwargs:
            raise PrfError(f"{family} parameter {name} is given twice in {spec!r}")
        kwargs[name] = _parse_value(family, name, value.strip(), params[name])
    missing = [k for k in _REQUIRED.get(family, ()) if k not in kwargs]
    if missing:
        lacks = ", ".join(missing)
        raise PrfError(f"{family} spec {spec!r} lacks {lacks} (e.g. lcg:a=..,c=..,m=..)")
    if family == "keyed":
        if key is None and os.environ.get("SEEDEMBED_KEY_FILE"):
            key = read_key(os.environ["SEEDEMBED_KEY_FILE"])
        return Keyed(key, **kwargs)  # type: ignore[arg-type]
    return cls(**kwargs)  # type: ignore[arg-type]
