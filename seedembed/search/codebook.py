"""The image codebook: every seed's generated image, built once per model and cached on disk.

Exact image-space search compares a query with all m images G(0..m-1). Rendering them costs a
full pass of the generator (about 80 s for m = 524287 on a 2-core CPU), so they are rendered
once, written to ``<cache>/<fingerprint>.cb`` and memory-mapped afterwards.

File layout (little-endian): a 4096-byte header (8-byte magic, then UTF-8 JSON padded with
spaces) followed by 4096-aligned float32 sections:

* ``images`` (m, D): the generator's fp32 output, row s for seed s (D = C * H * W);
* ``image_sqnorms`` (m,): ||x||^2, for the exhaustive GEMM fall-back;
* ``codes`` (m, d + 1): PCA coordinates of x - mean plus the norm of the PCA residual;
* ``code_sqnorms`` (m,): ||code||^2;
* ``mean`` (D,) and ``basis`` (D, d): the orthonormal PCA basis (from a sample of rows).

The codes give a lower bound on the true distance (see :mod:`seedembed.search.image`), which
is what makes the fast search exact. Images are stored in fp32, not fp16: the exact re-rank reads
a few stored rows per query, and fp16 rows would need re-rendering to be exact (1.6 GB on disk
for m = 524287, memory-mapped, so only the rows a search touches are read).

Verification: the header names the fingerprint, geometry, sizes and a SHA-256 of all sections.
The hash is checked after every change of the file (size or mtime differ from the stamp in
``<file>.verified``), so an edited, truncated or foreign file is detected and rebuilt while a
warm load stays fast; every load also re-renders a few rows (the same ones for one fingerprint)
and compares them.

Concurrency: builds hold an exclusive lock on ``<file>.lock`` (``fcntl.flock``; where it does
not exist, as on Windows, builds are unlocked but still atomic), and a process that waited for
the lock first checks whether another process replaced the file meanwhile, and if so verifies
that file instead of building again. Several processes encoding at
once therefore build it once and all map the same file; readers never need the lock, because the
file only ever appears whole (written under a temporary name and renamed).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seedembed import prf as prf_mod
from seedembed.errors import CheckpointError, SearchError
from seedembed.train.checkpoint import atomic_write_bytes

MAGIC = b"SEEDCB\x00\x01"
FORMAT = "seedembed-codebook"
VERSION = 1
HEADER_BYTES = 4096
ALIGN = 4096
#: PCA dimensions of the pre-filter codes (measured trade-off, see benchmarks/search.py)
DEFAULT_PROJ_DIM = 128
#: rows of the PCA sample (the basis only needs to be orthonormal; a sample makes it cheap)
PCA_SAMPLE = 32768
#: rows re-rendered and compared on every load
SPOT_ROWS = 4
#: largest codebook that is built (bytes of the fp32 images)
MAX_CODEBOOK_BYTES = 64 * 2**30
SECTIONS = ("images", "image_sqnorms", "codes", "code_sqnorms", "mean", "basis")


def user_cache_dir(kind: str) -> Path:
    """``$SEEDEMBED_CACHE/<kind>``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, + seedembed/<kind>."""
    root = os.environ.get("SEEDEMBED_CACHE")
    if root:
        return Path(root).expanduser() / kind
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "seedembed" / kind


def default_cache_dir() -> Path:
    """Where codebooks live: :func:`user_cache_dir` ``("codebooks")``."""
    return user_cache_dir("codebooks")


def codebook_path(fingerprint: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the codebook of a model fingerprint lives."""
    _check_fingerprint(fingerprint)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return folder / f"{fingerprint}.cb"


def _check_fingerprint(fingerprint: object) -> None:
    if not isinstance(fingerprint, str) or len(fingerprint) < 16 or not fingerprint.isalnum():
        raise SearchError(f"a model fingerprint must be a hex string, got {fingerprint!r}")


@contextmanager
def exact_fp32() -> Iterator[None]:
    """Keep CUDA convolutions and matmuls in true fp32 (no TF32) so devices agree."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def generator_on(generator: nn.Module, device: torch.device | str) -> nn.Module:
    """The generator on ``device`` (a copy when it lives elsewhere; the caller's is not moved)."""
    device = torch.device(device)
    param = next(generator.parameters())
    if param.device.type != device.type or (
        device.index is not None and param.device.index != device.index
    ):
        generator = copy.deepcopy(generator).to(device)
    return generator


@torch.no_grad()
def render(
    generator: nn.Module, prf: prf_mod.Prf, seeds: torch.Tensor, device: torch.device | str
) -> torch.Tensor:
    """Flattened fp32 images (n, D) of ``seeds`` on ``device`` (generator already there).

    Runs in eval mode (batch-norm running statistics: an image depends on its seed alone) and
    restores the generator's mode afterwards.
    """
    z = prf.sequences(seeds.cpu(), generator.config.latent_length, device=device)
    was_training = generator.training
    generator.eval()
    try:
        with exact_fp32():
            return generator(z).float().reshape(len(z), -1)
    finally:
        generator.train(was_training)


def project(
    x: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pre-filter codes of rows x (n, D): [PCA coordinates, residual norm] and their sqnorms.

    For two rows the squared distance of their codes is a lower bound on the squared distance
    of the rows: the PCA parts are exact and |r_q - r_c| <= ||res_q - res_c|| (triangle
    inequality). The residual is computed explicitly, not as a difference of norms.
    """
    y = x - mean
    p = y @ basis
    r = (y - p @ basis.T).norm(dim=1, keepdim=True)
    codes = torch.cat([p, r], dim=1)
    return codes, (codes * codes).sum(dim=1)


@dataclass
class Codebook:
    """A loaded (memory-mapped) codebook; ``to(device)`` gives a copy held on that device."""

    path: Path
    header: dict
    images: torch.Tensor
    image_sqnorms: torch.Tensor
    codes: torch.Tensor
    code_sqnorms: torch.Tensor
    mean: torch.Tensor
    basis: torch.Tensor
    _copies: dict = field(default_factory=dict, repr=False)

    @property
    def count(self) -> int:
        return int(self.header["count"])

    @property
    def fingerprint(self) -> str:
        return str(self.header["fingerprint"])

    @property
    def device(self) -> torch.device:
        return self.images.device

    def to(self, device: torch.device | str) -> Codebook:
        """This codebook with every section on ``device`` (cached; CPU stays memory-mapped)."""
        device = torch.device(device)
        if device.type == "cpu" or device == self.device:
            return self
        key = str(device)
        if key not in self._copies:
            moved = {n: getattr(self, n).to(device) for n in SECTIONS}
            self._copies[key] = Codebook(self.path, self.header, **moved)
        return self._copies[key]

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pre-filter codes of flattened query images (n, D)."""
        return project(x, self.mean, self.basis)


@dataclass
class CodebookStatus:
    """What is in the cache for one fingerprint: state is missing, ok, corrupt or foreign."""

    path: Path
    state: str
    detail: str
    count: int | None = None
    size_bytes: int | None = None
    header: dict | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"


class _Invalid(SearchError):
    """A cache file that must not be used; ``state`` says why (missing, corrupt, foreign)."""

    def __init__(self, state: str, detail: str) -> None:
        super().__init__(detail)
        self.state = state


# -- layout -------------------------------------------------------------------------------------
def codebook_bytes(count: int, dim: int, proj_dim: int = DEFAULT_PROJ_DIM) -> int:
    """Size of the cache file of ``count`` images of ``dim`` values: what a build needs."""
    return _layout(count, dim, _proj_dim(proj_dim, dim))[1]


def _proj_dim(proj_dim: int, dim: int) -> int:
    return max(1, min(int(proj_dim), dim - 1))


def _layout(count: int, dim: int, proj_dim: int) -> tuple[dict[str, dict], int]:
    shapes = {
        "images": [count, dim],
        "image_sqnorms": [count],
        "codes": [count, proj_dim + 1],
        "code_sqnorms": [count],
        "mean": [dim],
        "basis": [dim, proj_dim],
    }
    sections, offset = {}, HEADER_BYTES
    for name in SECTIONS:
        nbytes = 4 * int(np.prod(shapes[name]))
        sections[name] = {"offset": offset, "shape": shapes[name]}
        offset += -(-nbytes // ALIGN) * ALIGN
    return sections, offset


def _hash_file(path: Path, start: int, end: int) -> str:
    h = hashlib.sha256()
    buf = bytearray(64 * 2**20)
    view = memoryview(buf)
    with open(path, "rb") as f:
        f.seek(start)
        left = end - start
        while left > 0:
            n = f.readinto(view[: min(len(buf), left)])
            if not n:
                break
            h.update(view[:n])
            left -= n
    return h.hexdigest()


def _read_header(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            raw = f.read(HEADER_BYTES)
    except FileNotFoundError:
        raise _Invalid("missing", f"no codebook at {str(path)!r}") from None
    if len(raw) < HEADER_BYTES or raw[: len(MAGIC)] != MAGIC:
        raise _Invalid("corrupt", f"{str(path)!r} is not a seedembed codebook (bad magic)")
    try:
        header = json.loads(raw[len(MAGIC) :].decode("utf-8"))
        assert header["format"] == FORMAT and isinstance(header["sections"], dict)
    except (ValueError, KeyError, AssertionError, TypeError):
        raise _Invalid("corrupt", f"{str(path)!r} has an unreadable header") from None
    if header.get("version") != VERSION:
        raise _Invalid("corrupt", f"{str(path)!r} is codebook version {header.get('version')}")
    return header


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _check(path: Path, fingerprint: str, *, full: bool) -> dict:
    """Header, size and (after any change of the file, or when ``full``) hash checks."""
    header = _read_header(path)
    if header.get("fingerprint") != fingerprint:
        raise _Invalid(
            "foreign",
            f"{str(path)!r} holds the codebook of model {str(header.get('fingerprint'))[:12]}, "
            f"not {fingerprint[:12]}",
        )
    st = path.stat()
    if st.st_size != header.get("file_bytes"):
        raise _Invalid(
            "corrupt", f"{str(path)!r} has {st.st_size} bytes, header says {header['file_bytes']}"
        )
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": header.get("sha256")}
    try:
        known = json.loads(_stamp_path(path).read_text())
    except (OSError, ValueError):
        known = None
    if full or known != stamp:
        digest = _hash_file(path, HEADER_BYTES, st.st_size)
        if digest != header.get("sha256"):
            raise _Invalid("corrupt", f"{str(path)!r} fails its checksum (changed or damaged)")
        with contextlib.suppress(CheckpointError):  # a read-only cache: hashed again next time
            atomic_write_bytes(json.dumps(stamp).encode(), _stamp_path(path))
    return header


def _map(path: Path, header: dict) -> Codebook:
    arrays = {}
    for name in SECTIONS:
        sec = header["sections"][name]
        shape = tuple(sec["shape"])
        # read-only and shared: a copy-on-write map of a 24 GiB anime codebook is refused
        # (ENOMEM) under Linux's default overcommit heuristic on a 24 GiB machine, and nothing
        # writes to these tensors (torch warns that they are not writable; they stay read-only)
        arr = np.memmap(path, dtype="<f4", mode="r", offset=sec["offset"], shape=shape)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            arrays[name] = torch.from_numpy(arr)
    return Codebook(path, header, **arrays)


# -- public -------------------------------------------------------------------------------------
def codebook_status(
    fingerprint: str, cache_dir: str | os.PathLike | None = None, *, full: bool = False
) -> CodebookStatus:
    """The cache state of a model's codebook (``full`` re-hashes the file even if unchanged)."""
    path = codebook_path(fingerprint, cache_dir)
    try:
        header = _check(path, fingerprint, full=full)
    except _Invalid as exc:
        size = path.stat().st_size if path.exists() else None
        return CodebookStatus(path, exc.state, str(exc), size_bytes=size)
    return CodebookStatus(
        path, "ok", "verified", int(header["count"]), int(header["file_bytes"]), header
    )


def check_seed_space(
    prf: prf_mod.Prf, what: str, limit: int, hint: str = "use strategy='neighbourhood'"
) -> int:
    """The seed-space size of an exhaustive search, or :class:`SearchError`."""
    size = prf.size
    if size is None or size > limit:
        raise SearchError(
            f"{what} search is exhaustive over the seed space, but {prf.spec} has "
            f"{'an unbounded' if size is None else f'{size:,} seeds, more than {limit:,} in'} "
            f"seed space; {hint}"
        )
    return int(size)


def build_codebook(
    generator: nn.Module,
    prf: prf_mod.Prf | str,
    fingerprint: str,
    cache_dir: str | os.PathLike | None = None,
    *,
    device: torch.device | str = "cpu",
    progress: bool = True,
    batch: int = 4096,
    proj_dim: int = DEFAULT_PROJ_DIM,
) -> Path:
    """Render every seed's image, compute the pre-filter codes and write the cache file.

    Written to a temporary file in the cache folder and renamed into place, so a crash or a
    concurrent reader never sees a half-written codebook. Returns the file's path.
    """
    prf = prf_mod.get(prf)
    path = codebook_path(fingerprint, cache_dir)
    cfg = generator.config
    dim = cfg.channels * cfg.image_size**2
    count = check_seed_space(prf, "image", MAX_CODEBOOK_BYTES // (4 * dim))
    proj_dim = _proj_dim(proj_dim, dim)
    sections, file_bytes = _layout(count, dim, proj_dim)
    device = torch.device(device)
    gen = generator_on(generator, device)
    path.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(path.parent).free
    if free < file_bytes + 2**30:  # a sparse file would fail mid-build, as SIGBUS on a memmap
        raise SearchError(
            f"the codebook of this model needs {file_bytes / 2**30:.1f} GiB in "
            f"{str(path.parent)!r}, which has {free / 2**30:.1f} GiB free (keep 1 GiB spare): "
            "free space, pass another --cache-dir, or use the hybrid search, which needs none"
        )
    _remove_dead_temporaries(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    t0 = time.perf_counter()
    try:
        with open(tmp, "wb") as f:
            f.truncate(file_bytes)

        def section(name: str) -> np.memmap:
            sec = sections[name]
            return np.memmap(tmp, dtype="<f4", mode="r+", offset=sec["offset"], shape=sec["shape"])

        images = section("images")
        bar = _progress(count, "codebook", progress)
        total = torch.zeros(dim, dtype=torch.float64, device=device)
        for start in range(0, count, batch):
            seeds = torch.arange(start, min(count, start + batch))
            rows = render(gen, prf, seeds, device)
            total += rows.sum(0, dtype=torch.float64)
            images[start : start + len(seeds)] = rows.cpu().numpy()
            bar.update(len(seeds))
        bar.close()
        mean = (total / count).float()
        pick = torch.linspace(0, count - 1, min(count, PCA_SAMPLE)).round().long().unique()
        sample = torch.from_numpy(images[pick.numpy()]).to(device) - mean
        basis = _pca_basis(sample, proj_dim)
        for name, value in (("mean", mean), ("basis", basis)):
            section(name)[:] = value.cpu().numpy()
        codes, code_sq, img_sq = section("codes"), section("code_sqnorms"), section("image_sqnorms")
        for start in range(0, count, batch):
            x = torch.from_numpy(np.asarray(images[start : start + batch])).to(device)
            c, csq = project(x, mean, basis)
            codes[start : start + len(x)] = c.cpu().numpy()
            code_sq[start : start + len(x)] = csq.cpu().numpy()
            img_sq[start : start + len(x)] = (x * x).sum(1).cpu().numpy()
        for arr in (images, codes, code_sq, img_sq):
            arr.flush()
        del images, codes, code_sq, img_sq
        header = {
            "format": FORMAT,
            "version": VERSION,
            "fingerprint": fingerprint,
            "prf": prf.spec,
            "count": count,
            "geometry": [cfg.channels, cfg.image_size, cfg.image_size],
            "dtype": "float32",
            "proj_dim": proj_dim,
            "pca_sample": len(pick),
            "sections": sections,
            "file_bytes": file_bytes,
            "sha256": _hash_file(tmp, HEADER_BYTES, file_bytes),
            "build_seconds": round(time.perf_counter() - t0, 3),
            "built_on": str(device),
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        raw = MAGIC + json.dumps(header, sort_keys=True).encode()
        if len(raw) > HEADER_BYTES:
            raise SearchError(f"codebook header of {len(raw)} bytes does not fit")
        with open(tmp, "r+b") as f:
            f.write(raw.ljust(HEADER_BYTES, b" "))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _stamp_path(path).unlink(missing_ok=True)
    _check(path, fingerprint, full=True)  # writes the stamp
    return path


def _remove_dead_temporaries(path: Path) -> None:
    """Delete the half-written ``.<name>.tmp<pid>`` files of builds whose process is gone (a
    killed build of the 24 GiB anime codebook would otherwise leave 24 GiB behind)."""
    for tmp in path.parent.glob(f".{path.name}.tmp*"):
        pid = tmp.name.rsplit(".tmp", 1)[1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except OSError:  # alive under another user, or not ours to signal: leave it
            continue


#: above this image dimension the PCA basis comes from a randomized SVD, not a full eigh
EXACT_PCA_MAX_DIM = 2048


def _pca_basis(sample: torch.Tensor, proj_dim: int) -> torch.Tensor:
    """An orthonormal (D, proj_dim) basis of the sample's leading principal directions.

    Any orthonormal basis keeps the search exact (it only sets how well the pre-filter
    prunes). Up to :data:`EXACT_PCA_MAX_DIM` it is the exact eigenbasis of the covariance; above
    it (64x64 RGB: D = 12,288, where a full eigh takes tens of minutes on one thread) the top
    directions of a randomized SVD (Halko et al., 4 power iterations, fixed seed), seconds.
    """
    device = sample.device
    if sample.shape[1] <= EXACT_PCA_MAX_DIM:
        cov = (sample.T @ sample).double() / len(sample)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # LAPACK's threaded eigh of 784 x 784 stalls (12 s vs 0.08 s)
        try:
            _, vecs = torch.linalg.eigh(cov.cpu())
        finally:
            torch.set_num_threads(threads)
        return torch.linalg.qr(vecs[:, -proj_dim:].flip(1))[0].float().to(device)
    with torch.random.fork_rng(devices=[] if device.type == "cpu" else [device]):
        torch.manual_seed(0)
        _, _, v = torch.svd_lowrank(sample, q=min(proj_dim + 16, min(sample.shape)), niter=4)
    return torch.linalg.qr(v[:, :proj_dim])[0].float().to(device)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, dynamic_ncols=True)


#: loaded codebooks of this process: (path, size, mtime_ns) -> Codebook
_LOADED: dict[tuple[str, int, int], Codebook] = {}


def load_codebook(
    generator: nn.Module,
    prf: prf_mod.Prf | str,
    fingerprint: str,
    cache_dir: str | os.PathLike | None = None,
    *,
    device: torch.device | str = "cpu",
    build: bool = True,
    progress: bool = False,
) -> Codebook:
    """The verified codebook of a model, built (or rebuilt when corrupt or foreign) if needed.

    Verification: header, size and checksum (see the module doc) plus a spot check that
    re-renders :data:`SPOT_ROWS` rows chosen by the fingerprint. A verified load is remembered
    for the process. With ``build=False`` a missing or bad cache raises :class:`SearchError`.
    """
    prf = prf_mod.get(prf)
    path = codebook_path(fingerprint, cache_dir)
    cfg = generator.config
    geometry = [cfg.channels, cfg.image_size, cfg.image_size]
    built = False  # at most one build per call: a second failure is an error, not a loop
    for attempt in range(3):
        try:
            seen = _file_id(path)  # the file examined
            key = (str(path), *seen[1:]) if seen else None
            if key in _LOADED:
                return _LOADED[key].to(device)
            header = _check(path, fingerprint, full=False)
            if header["geometry"] != geometry or header["count"] != prf.size:
                raise _Invalid("foreign", f"{str(path)!r} does not fit the model's geometry/PRF")
            book = _map(path, header)
            _spot_check(book, generator, prf)
            _LOADED.clear()  # one codebook per process is plenty
            _LOADED[key] = book
            return book.to(device)
        except _Invalid as exc:
            if not build or built or attempt == 2:
                raise SearchError(
                    f"{exc} (run `seedembed cache build` to make the codebook)"
                ) from None
            with build_lock(path):
                # another process may have replaced the file while this one examined it or
                # waited for the lock: the next attempt verifies that one (once) before building
                if attempt or _file_id(path) == seen:
                    build_codebook(
                        generator, prf, fingerprint, cache_dir, device=device, progress=progress
                    )
                    built = True
    raise AssertionError("unreachable")


@contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Exclusive lock of one codebook's builders (released when the process dies, too)."""
    try:
        import fcntl
    except ImportError:  # no flock on this platform: atomic renames still keep files whole
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def forget(fingerprint: str, cache_dir: str | os.PathLike | None = None) -> None:
    """Delete a codebook and its stamp and drop it from the process (stale after training)."""
    path = codebook_path(fingerprint, cache_dir)
    for key in [k for k in _LOADED if k[0] == str(path)]:
        del _LOADED[key]
    for p in (path, _stamp_path(path)):
        p.unlink(missing_ok=True)


def _file_id(path: Path) -> tuple[int, int, int] | None:
    """Which file is at ``path`` (builds replace it by a rename, so a rebuilt one differs)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _spot_check(book: Codebook, generator: nn.Module, prf: prf_mod.Prf) -> None:
    """Re-render :data:`SPOT_ROWS` rows chosen by the fingerprint: the same rows on every load,
    so a codebook is accepted or refused the same way every time."""
    rng = np.random.default_rng(list(hashlib.sha256(book.fingerprint.encode()).digest()))
    rows = torch.from_numpy(rng.choice(book.count, min(SPOT_ROWS, book.count), replace=False))
    param_device = next(generator.parameters()).device
    fresh = render(generator, prf, rows, param_device).cpu()
    stored = book.images[rows]
    codes, _ = book.project(stored)
    if not torch.allclose(fresh, stored, rtol=0, atol=2e-3) or not torch.allclose(
        codes, book.codes[rows], rtol=1e-4, atol=1e-3
    ):
        raise _Invalid(
            "corrupt", f"{str(book.path)!r}: re-rendered rows differ from the stored ones"
        )
