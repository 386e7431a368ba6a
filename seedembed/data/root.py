"""Where data sets live: a ``--data-root`` flag, else ``$SEEDEMBED_DATA``, else a user cache.

Paths are never hard-coded: a shared read-only copy is named by the flag or the environment
variable, and only the fallback cache folder is created (so MNIST can download there as usual).
"""

from __future__ import annotations

import os
from pathlib import Path

from seedembed.errors import DataError

#: environment variable naming the data root when no flag is given
ENV_VAR = "SEEDEMBED_DATA"


def default_root() -> Path:
    """The per-user cache folder used when neither the flag nor the variable is set."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "seedembed" / "data"


def resolve_root(root: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """The data root and whether the user named it (flag or ``$SEEDEMBED_DATA``).

    A named root must exist (a typo should not silently create a folder and download into
    it); the default cache root is created on demand.
    """
    if root is None and os.environ.get(ENV_VAR):
        root = os.environ[ENV_VAR]
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise DataError(f"data root {str(path)!r} does not exist or is not a folder")
        return path, True
    path = default_root()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data cache {str(path)!r}: {exc}") from None
    return path, False


def is_writable(path: Path) -> bool:
    """True when files can be created inside ``path``."""
    return os.access(path, os.W_OK | os.X_OK)
