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

#: Anime synthetic set (100-symbol latents): MSE img on the [0, 1] scale.
ANIME_SYNTHETIC: dict[str, dict[str, float]] = {
    "Inverse GAN(5101)": {"mse_latent": 0.001819, "mse_01": 0.001403, "ssim": 0.9681, "fid": 17.26},
    "Inverse GAN(29282)": {
        "mse_latent": 0.011398, "mse_01": 0.006256, "ssim": 0.8759, "fid": 29.82,
    },
    "Inverse GAN(524287)": {
        "mse_latent": 0.056614, "mse_01": 0.010546, "ssim": 0.8153, "fid": 34.58,
    },
}  # fmt: skip

#: Anime test set (the 2,296 faces of test.txt): MSE img on the [0, 1] scale.
ANIME_TEST: dict[str, dict[str, float]] = {
    "Inverse GAN(5101)": {"mse_01": 0.091134, "ssim": 0.146485, "fid": 131.55},
    "Inverse GAN(29282)": {"mse_01": 0.096304, "ssim": 0.144632, "fid": 108.92},
    "Inverse GAN(524287)": {"mse_01": 0.0855831, "ssim": 0.162683, "fid": 114.90},
    "Autoencoder": {"mse_01": 0.043306, "ssim": 0.258801, "fid": 324.93},
}

#: Limits for the anime test set (numbers.md; SSIM measured as skimage does, interior only).
ANIME_LIMITS: dict[str, dict[str, float]] = {
    "k-means, 5101 centroids": {"bits": 12.3, "mse_01": 0.0371, "psnr": 14.55, "ssim": 0.269},
    "nearest training image": {"bits": 14.3, "mse_01": 0.0444, "psnr": 14.06, "ssim": 0.273},
    "PCA(7), float32": {"bits": 224, "mse_01": 0.0346, "psnr": 14.81, "ssim": 0.261},
    "PCA(14), float32": {"bits": 448, "mse_01": 0.0293, "psnr": 15.53, "ssim": 0.283},
    "PCA(28), float32": {"bits": 896, "mse_01": 0.0244, "psnr": 16.32, "ssim": 0.324},
    "PCA(100), float32": {"bits": 3200, "mse_01": 0.0161, "psnr": 18.15, "ssim": 0.459},
}

#: Anime noise composition, test set (z = sum of n weighted sequences): MSE img on [0, 1].
ANIME_COMPOSITION_TEST: dict[str, dict[str, float]] = {
    "Uniform 5": {"mse_01": 0.056232, "ssim": 0.246840, "fid": 115.37},
    "Uniform 10": {"mse_01": 0.043571, "ssim": 0.300170, "fid": 114.67},
    "Uniform 20": {"mse_01": 0.035309, "ssim": 0.354097, "fid": 113.42},
    "LCG 5": {"mse_01": 0.069271, "ssim": 0.195917, "fid": 163.40},
    "LCG 10": {"mse_01": 0.124997, "ssim": 0.106405, "fid": 163.90},
    "LCG 20": {"mse_01": 0.124159, "ssim": 0.105760, "fid": 163.61},
}

#: Anime autoencoders (test set), the thesis' comparison for composition: MSE img on [0, 1].
ANIME_AUTOENCODERS: dict[str, dict[str, float]] = {
    "AE(7)": {"mse_01": 0.033821, "ssim": 0.364243, "fid": 311.20},
    "AE(14)": {"mse_01": 0.028392, "ssim": 0.435497, "fid": 285.05},
    "AE(28)": {"mse_01": 0.025243, "ssim": 0.494204, "fid": 249.51},
}
