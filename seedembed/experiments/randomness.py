"""The randomness study of the thesis (slide 9), reproduced with stated protocol.

Protocol (printed with every table): for each PRF, ``n_sequences`` seeds drawn uniformly
without replacement from its seed space by ``numpy.random.default_rng(sampler_seed)``, each
seed's sequence of ``length`` normalised symbols in [-1, 1]. Statistics:

- ``cosine``, ``pcc``: mean over all distinct pairs of sequences of the cosine similarity and of
  Pearson's r (the thesis' "sequences correlation"). ``cos_adjacent``: mean cosine between the
  sequences of seeds s and s + 1, which shows how alike neighbouring seeds' latents are (what
  the thesis' neighbourhood search relies on).
- ``ks``: mean over sequences of the one-sample Kolmogorov-Smirnov statistic against U(-1, 1),
  the prior a PRF latent imitates (about 0.087 for 100 truly uniform symbols).
  ``ks_thesis_ref``: the same against the thesis' apparent reference, a standard normal applied
  to the symbols mapped to [0, 1] (it gives about 0.5 for uniform data, as the thesis' table
  does); ``ks_pooled``: the KS statistic of all symbols pooled against U(-1, 1).
- ``runs_z``: mean over sequences of the Wald-Wolfowitz runs-test z (statsmodels
  ``runstest_1samp``, cutoff = mean, continuity correction); ``runs_reject``: share of
  sequences with two-sided p < 0.05 (0.05 expected under randomness).
- ``acf1`` .. ``acf5``: mean over sequences of the autocorrelation at lags 1-5 (statsmodels
  ``acf``; about -1/length under independence).
- ``serial_p``: p-value of a chi-square test of independence of pooled pairs (x_n, x_{n+1})
  on a 16 x 16 grid of marginal quantiles (a serial test that a non-uniform marginal does not
  fail by itself).
- LCGs only: Knuth's 2-D spectral test on the full period (``spectral_nu2``, ``spectral_mu2``):
  all pairs lie on parallel lines 1/nu2 apart, the lattice structure of every LCG.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import stats
from statsmodels.sandbox.stats.runs import runstest_1samp
from statsmodels.tsa.stattools import acf

from seedembed import prf
from seedembed.errors import PrfError
from seedembed.experiments.reference import RANDOMNESS
from seedembed.prf.lcg import spectral_test_2d

#: The PRFs of the study, in the thesis' row order plus the LCG presets and the keyed PRF.
DEFAULT_SPECS = (
    "uniform",
    "gaussian",
    "henon",
    "logistic",
    "tent",
    "lcg-5101",
    "lcg-29282",
    "lcg-524287",
    "keyed",
)

#: A public, fixed key for the study's keyed row (statistics only: it protects nothing).
STUDY_KEY = hashlib.sha256(b"seedembed prf-stats public study key").digest()


@dataclass(frozen=True)
class Protocol:
    n_sequences: int = 1000
    length: int = 100
    sampler_seed: int = 0

    def describe(self) -> str:
        return (
            f"{self.n_sequences} sequences of {self.length} symbols per PRF, seeds drawn "
            f"uniformly without replacement (numpy default_rng({self.sampler_seed})); symbols "
            "normalised to [-1, 1]"
        )


def _check(protocol: Protocol) -> None:
    if protocol.n_sequences < 2:
        raise PrfError(f"prf-stats needs at least 2 sequences, got {protocol.n_sequences}")
    if protocol.length < 8:
        raise PrfError(f"prf-stats needs sequences of length >= 8, got {protocol.length}")


def _mean_offdiag(mat: np.ndarray) -> float:
    n = mat.shape[0]
    return float((mat.sum() - np.trace(mat)) / (n * (n - 1)))


def sequence_statistics(x: np.ndarray) -> dict[str, float]:
    """All per-PRF statistics of a float64 array (N, L) of sequences in [-1, 1]."""
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
    row = {"cosine": _mean_offdiag(unit @ unit.T)}
    with np.errstate(invalid="ignore", divide="ignore"):
        pcc = np.corrcoef(x)
    finite = np.isfinite(pcc)  # constant sequences have no correlation
    np.fill_diagonal(finite, False)
    row["pcc"] = float(pcc[finite].mean()) if finite.any() else float("nan")
    row["ks"] = float(stats.kstest(x, stats.uniform(loc=-1, scale=2).cdf, axis=1).statistic.mean())
    row["ks_thesis_ref"] = float(stats.kstest((x + 1) / 2, "norm", axis=1).statistic.mean())
    row["ks_pooled"] = float(stats.kstest(x.ravel(), stats.uniform(loc=-1, scale=2).cdf).statistic)
    runs = []
    for seq in x:
        if np.ptp(seq) > 0:
            runs.append(runstest_1samp(seq, cutoff="mean", correction=True))
    z = np.array([r[0] for r in runs]) if runs else np.array([np.nan])
    p = np.array([r[1] for r in runs]) if runs else np.array([np.nan])
    row["runs_z"] = float(np.nanmean(z))
    row["runs_reject"] = float(np.nanmean(p < 0.05))
    acfs = np.array([acf(seq, nlags=5, fft=False) for seq in x if np.ptp(seq) > 0])
    for lag in range(1, 6):
        row[f"acf{lag}"] = float(acfs[:, lag].mean()) if len(acfs) else float("nan")
    row["serial_p"] = serial_independence_p(x)
    return row


def serial_independence_p(x: np.ndarray, bins: int = 16) -> float:
    """p-value of a chi-square test that consecutive symbols are independent.

    Pairs (x_n, x_{n+1}) are pooled and binned on a bins x bins grid of the pooled marginal's
    quantiles, so a non-uniform marginal is not mistaken for dependence; a map where x_{n+1}
    is a function of x_n, or an LCG's lattice, makes the counts far from the product of the
    margins.
    """
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    if len(edges) < 3:
        return float("nan")
    a = np.clip(np.searchsorted(edges, x[:, :-1].ravel(), side="right") - 1, 0, len(edges) - 2)
    b = np.clip(np.searchsorted(edges, x[:, 1:].ravel(), side="right") - 1, 0, len(edges) - 2)
    k = len(edges) - 1
    counts = np.bincount(a * k + b, minlength=k * k).reshape(k, k)
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    return float(stats.chi2_contingency(counts, correction=False).pvalue)


def study(spec: str, protocol: Protocol) -> dict:
    """One row of the table: the statistics of one PRF under the protocol."""
    t0 = time.perf_counter()
    p = prf.get(spec, key=STUDY_KEY if spec.startswith("keyed") else None)
    size = p.size
    if size is None or size < protocol.n_sequences + 1:
        raise PrfError(f"{p.spec} has fewer than {protocol.n_sequences + 1} seeds")
    rng = np.random.default_rng(protocol.sampler_seed)
    seeds = np.sort(rng.choice(size - 1, size=protocol.n_sequences, replace=False))
    x = p.sequences(seeds, protocol.length, dtype=torch.float64).numpy()
    neighbours = p.sequences(seeds + 1, protocol.length, dtype=torch.float64).numpy()
    row: dict = {"prf": spec, "spec": p.spec}
    row.update(sequence_statistics(x))
    num = (x * neighbours).sum(axis=1)
    den = np.linalg.norm(x, axis=1) * np.linalg.norm(neighbours, axis=1)
    row["cos_adjacent"] = float(np.mean(num / np.maximum(den, 1e-300)))
    if isinstance(p, prf.Lcg):
        st = spectral_test_2d(p.a, p.m)
        row["spectral_nu2"], row["spectral_mu2"] = st.nu2, st.mu2
    thesis = RANDOMNESS.get("lcg" if p.family == "lcg" else p.family)
    row["thesis"] = dict(thesis) if thesis else None
    row["seconds"] = time.perf_counter() - t0
    return row


def run(protocol: Protocol = Protocol(), specs: list[str] | None = None) -> list[dict]:
    """The whole table: one row per PRF (``specs`` defaults to :data:`DEFAULT_SPECS`)."""
    _check(protocol)
    rows = [study(spec, protocol) for spec in (specs or DEFAULT_SPECS)]
    for row in rows:
        row["protocol"] = asdict(protocol)
    return rows


def _fmt(v: float | None, width: int = 11) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-".rjust(width)
    return (f"{v:.3e}" if abs(v) < 1e-2 and v != 0 else f"{v:.4f}").rjust(width)


def format_table(rows: list[dict], protocol: Protocol) -> str:
    """Plain-text table: ours beside the thesis' for its four columns, then our extras."""
    head = (
        f"{'PRF':<12}{'cosine':>11}{'(thesis)':>11}{'PCC':>11}{'(thesis)':>11}"
        f"{'KS U(-1,1)':>11}{'KS thesis':>11}{'(thesis)':>11}{'runs z':>11}{'(thesis)':>11}"
    )
    lines = [
        "Randomness of latent codes (thesis slide 9), ours beside the thesis'",
        f"protocol: {protocol.describe()}",
        "KS U(-1,1): mean per-sequence KS statistic against U(-1, 1); KS thesis: the same on "
        "symbols mapped to [0, 1] against N(0, 1), the thesis' apparent reference",
        "runs z: mean Wald-Wolfowitz z (statsmodels runstest_1samp, cutoff mean); the thesis' LCG "
        "row is shown beside each LCG preset (its modulus is not stated)",
        "",
        head,
        "-" * len(head),
    ]
    for r in rows:
        t = r["thesis"] or {}
        lines.append(
            f"{r['prf']:<12}{_fmt(r['cosine'])}{_fmt(t.get('cosine'))}{_fmt(r['pcc'])}"
            f"{_fmt(t.get('pcc'))}{_fmt(r['ks'], 11)}{_fmt(r['ks_thesis_ref'])}{_fmt(t.get('ks'))}"
            f"{_fmt(r['runs_z'])}{_fmt(t.get('runs_z'))}"
        )
    extra = (
        f"{'PRF':<12}{'adj cos':>11}{'KS pooled':>11}{'runs rej':>11}"
        + "".join(f"{'acf' + str(k):>9}" for k in range(1, 6))
        + f"{'serial p':>11}{'nu2':>9}{'mu2':>7}"
    )
    lines += ["", "Beyond the thesis", extra, "-" * len(extra)]
    for r in rows:
        nu = f"{r['spectral_nu2']:9.1f}{r['spectral_mu2']:7.2f}" if "spectral_nu2" in r else ""
        lines.append(
            f"{r['prf']:<12}{_fmt(r['cos_adjacent'])}{_fmt(r['ks_pooled'])}{_fmt(r['runs_reject'])}"
            + "".join(f"{r[f'acf{k}']:9.4f}" for k in range(1, 6))
            + f"{_fmt(r['serial_p'])}{nu}"
        )
    lines.append("")
    lines.append(
        "adj cos: cosine between the sequences of seeds s and s+1; runs rej: share of sequences "
        "the runs test rejects at 5%; serial p: chi-square independence of (x_n, x_n+1) on a 16x16 "
        "quantile grid; nu2, mu2: "
        "Knuth's 2-D spectral test (LCGs)"
    )
    return "\n".join(lines)
