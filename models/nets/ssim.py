"""SSIM as a differentiable kernel (Wang et al. 2004, as skimage computes it): the metric
`models.evaluation.metrics.ssim` reports, the loss a refinement step and training use.
Kept down here, with the networks, so inference and training need nothing of evaluation."""

from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_WINDOW = 7


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """Per-pixel SSIM of two (N, C, H, W) tensors, each channel on its own, as skimage
    computes it: 7x7 uniform window, sample covariance, K1 0.01, K2 0.03.

    skimage filters with reflect padding and then crops (window - 1) / 2 pixels per side;
    the cropped region only ever sees pixels inside the image, so an unpadded box filter
    gives exactly the same numbers. Differentiable: training uses it as a loss. The box
    filter is separable (a column, then a row): 2 x 7 additions a pixel instead of 49.
    """
    box = lambda t: F.avg_pool2d(F.avg_pool2d(t, (SSIM_WINDOW, 1), stride=1), (1, SSIM_WINDOW), stride=1)
    n = SSIM_WINDOW**2
    cov_norm = n / (n - 1)
    ux, uy = box(x), box(y)
    vx = cov_norm * (box(x * x) - ux * ux)
    vy = cov_norm * (box(y * y) - uy * uy)
    vxy = cov_norm * (box(x * y) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))


def ssim_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """1 - SSIM (the evaluation's definition) of images in [-1, 1]. L1 alone leaves local
    contrast and structure loosely held; SSIM asks for them directly."""
    to_unit = lambda t: (t.float() + 1) / 2  # SSIM's luminance term is not shift-invariant
    return 1 - ssim_map(to_unit(fake), to_unit(real), data_range=1.0).mean()
