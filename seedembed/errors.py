"""Error types of seedembed.

Every error a user can cause by bad input derives from :class:`SeedembedError`, so the CLI can
print it as one line and exit with code 2 while real bugs still raise tracebacks.
"""

from __future__ import annotations


class SeedembedError(ValueError):
    """Base class of all errors caused by bad input (a spec, a seed, a file, an argument)."""


class PrfError(SeedembedError):
    """A PRF spec, parameter, seed or length is not valid."""


class DataError(SeedembedError):
    """A data set is missing, empty, unreadable or does not fit the model's geometry."""


class CheckpointError(SeedembedError):
    """A checkpoint or model folder is missing, incomplete, corrupt or of another run."""


class ModelError(SeedembedError):
    """A model name, architecture or training setting is not valid."""


class FormatError(SeedembedError):
    """A .seed file is truncated, corrupted, of an unknown version, or for another model."""


class SearchError(SeedembedError):
    """A seed search cannot run: unknown strategy, bad images or latents, no finite seed space."""


class MetricError(SeedembedError):
    """A metric cannot be computed: unknown name, missing inputs, or images it cannot judge."""


class TrainingError(SeedembedError):
    """A run cannot go on: its loss became NaN or exploded (the last good checkpoint is kept)."""
