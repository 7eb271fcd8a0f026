"""A class's colours as one Gaussian: how far a pixel's colour lies from them.

Shared by the restyle's weights (models/inference/composite.py), the fill's border and guide
(models/inference/texture_fill.py) and their measures (models/evaluation/photo_edits.py),
so that "a colour of this class" means one thing everywhere.
"""

from __future__ import annotations

import numpy as np

# squared Mahalanobis distance under which 99% of a Gaussian's samples lie (chi-square, 3 dof)
WITHIN_99 = 11.3


def gaussian_of(pixels: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean (3,), inverse covariance (3, 3)) of colours (N, 3), the covariance with
    `ridge` added on its diagonal (a flat class keeps a finite inverse)."""
    pixels = pixels.astype(np.float64)
    return pixels.mean(0), np.linalg.inv(np.cov(pixels.T) + ridge * np.eye(3))


def squared_distance(pixels: np.ndarray, mean: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """(N,) squared Mahalanobis distances of colours (N, 3) from a Gaussian."""
    centred = pixels.astype(np.float64) - mean
    return np.einsum("ni,ij,nj->n", centred, inverse, centred)


def within(pixels: np.ndarray, own: np.ndarray, ridge: float) -> np.ndarray:
    """(N,) bool: which colours `pixels` lie within the 99th percentile of the Gaussian of
    the colours `own`."""
    return squared_distance(pixels, *gaussian_of(own, ridge)) < WITHIN_99


def clamped_into(pixels: np.ndarray, own: np.ndarray, ridge: float) -> np.ndarray:
    """Colours (N, 3) beyond the 99th percentile of the Gaussian of the colours `own`
    brought back onto it, along the line to its mean; those within it unchanged."""
    mean, inverse = gaussian_of(own, ridge)
    distance = squared_distance(pixels, mean, inverse)
    scale = np.sqrt(WITHIN_99 / np.maximum(distance, WITHIN_99))[:, None]
    return (mean + (pixels.astype(np.float64) - mean) * scale).astype(pixels.dtype)
