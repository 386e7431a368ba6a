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

#: MNIST synthetic set (slide 19): training type -> metrics (MSE img on the [-1, 1] scale).
MNIST_SYNTHETIC: dict[str, dict[str, float]] = {
    "Inverse GAN": {"mse_latent": 0.012189, "mse_m11": 0.041274, "ssim": 0.776580, "fid": 32.72},
    "Inverse GAN LCG+noise": {
        "mse_latent": 0.014229, "mse_m11": 0.033165, "ssim": 0.808409, "fid": 30.51,
    },
    "Inverse GAN 2 steps": {
        "mse_latent": 0.015392, "mse_m11": 0.038858, "ssim": 0.800476, "fid": 31.87,
    },
}  # fmt: skip

#: MNIST test set (slides 21, 23): MSE img on the [-1, 1] scale, SSIM, FID, classifier CE.
MNIST_TEST: dict[str, dict[str, float]] = {
    "Inverse GAN": {"mse_m11": 0.280662, "ssim": 0.547575, "fid": 24.43, "ce": 4.022841},
    "Inverse GAN LCG+noise": {"mse_m11": 0.264190, "ssim": 0.558244, "fid": 24.65, "ce": 3.766780},
    "Inverse GAN 2 steps": {"mse_m11": 0.274251, "ssim": 0.551294, "fid": 23.28, "ce": 3.624026},
    "Autoencoder": {"mse_m11": 0.193280, "ssim": 0.549797, "fid": 135.03, "ce": 3.646455},
}

#: Limits measured for the same task (numbers.md): best one-index codebooks and PCA, MNIST test.
MNIST_LIMITS: dict[str, dict[str, float]] = {
    "k-means, 5101 centroids": {
        "bits": 12.3, "mse_m11": 0.0978, "ssim": 0.702, "ce": 0.551, "acc": 0.956,
    },
    "k-means, 29282 centroids": {
        "bits": 14.8, "mse_m11": 0.0943, "ssim": 0.739, "ce": 0.430, "acc": 0.966,
    },
    "nearest training image": {
        "bits": 15.9, "mse_m11": 0.0985, "ssim": 0.751, "ce": 0.406, "acc": 0.969,
    },
    "PCA(7), float32": {"bits": 224, "mse_m11": 0.1576, "ssim": 0.384, "ce": 1.136, "acc": 0.766},
    "PCA(14), float32": {"bits": 448, "mse_m11": 0.1159, "ssim": 0.499, "ce": 0.437, "acc": 0.899},
    "PCA(28), float32": {"bits": 896, "mse_m11": 0.0745, "ssim": 0.626, "ce": 0.143, "acc": 0.970},
    "reference image search, 60 epochs": {
        "bits": 19.0, "mse_m11": 0.085, "ssim": 0.78, "ce": 0.23, "acc": 0.95,
    },
}  # fmt: skip
