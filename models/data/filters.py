"""Edge-aware filtering with box filters (numpy and OpenCV's core: `cv2.ximgproc` is only
in the contrib build)."""
from __future__ import annotations

import cv2
import numpy as np


def box(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r + 1)^2 window, edges replicated."""
    return cv2.boxFilter(image, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REPLICATE)


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He, Sun and Tang's guided filter (ECCV 2010) with a grey guide: `source` (H, W, C)
    smoothed so that its edges follow the guide's (H, W) in [0, 1]. Every output pixel
    is a local linear function a * guide + b, fitted over the window around it."""
    guide = guide.astype(np.float32)
    source = source.astype(np.float32)
    mean_i = box(guide, radius)
    var_i = box(guide * guide, radius) - mean_i * mean_i
    out = np.empty_like(source)
    for c in range(source.shape[2]):
        p = source[..., c]
        mean_p = box(p, radius)
        a = (box(guide * p, radius) - mean_i * mean_p) / (var_i + eps)
        b = mean_p - a * mean_i
        out[..., c] = box(a, radius) * guide + box(b, radius)
    return out
