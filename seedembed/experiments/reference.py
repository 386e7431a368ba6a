"""The thesis' published figures (../shared/reference/numbers.md), printed beside ours."""

from __future__ import annotations

#: Slide 9, "Randomness of latent codes": PRF -> (cosine, PCC, KS, runs test).
RANDOMNESS: dict[str, dict[str, float]] = {
    "uniform": {"cosine": -2.09e-07, "pcc": -2.13e-07, "ks": 0.505868, "runs_z": -0.019535},
    "gaussian": {"cosine": 5.28e-03, "pcc": 1.43e-06, "ks": 0.185694, "runs_z": 0.011459},
    "henon": {"cosine": 1.27e-03, "pcc": 7.32e-05, "ks": 0.364905, "runs_z": 0.484668},
    "logistic": {"cosine": 7.97e-03, "pcc": 2.52e-05, "ks": 0.198464, "runs_z": 4.326132},
    "tent": {"cosine": 8.43e-03, "pcc": 1.30e-05, "ks": 0.144591, "runs_z": 2.495715},
    "lcg": {"cosine": -1.46e-05, "pcc": -1.38e-05, "ks": 0.504770, "runs_z": -0.004743},
}
