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


def guided_affine(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The guided filter with a colour guide (He et al., section 3.5), as its local affine
    model: `a` (H, W, C, 3) and `b` (H, W, C), already averaged over the windows, such
    that the filtered output is a @ guide + b. `guide` (H, W, 3) and `source` (H, W, C)
    are float in [0, 1]."""
    guide, source = guide.astype(np.float32), source.astype(np.float32)
    mean_i = box(guide, radius)  # (H, W, 3)
    products = guide[..., :, None] * guide[..., None, :]  # (H, W, 3, 3)
    cov_i = box(products.reshape(*guide.shape[:2], 9), radius).reshape(products.shape)
    cov_i -= mean_i[..., :, None] * mean_i[..., None, :]
    inverse = np.linalg.inv(cov_i + eps * np.eye(3, dtype=np.float32))
    mean_p = box(source, radius)  # (H, W, C)
    a = np.empty((*source.shape, 3), np.float32)
    for c in range(source.shape[2]):
        cov_ip = box(guide * source[..., c : c + 1], radius) - mean_i * mean_p[..., c : c + 1]
        a[..., c, :] = np.einsum("hwij,hwj->hwi", inverse, cov_ip)
    b = mean_p - np.einsum("hwcj,hwj->hwc", a, mean_i)
    a_mean = box(a.reshape(*source.shape[:2], -1), radius).reshape(a.shape)
    return a_mean, box(b, radius)


def guided_upsample(
    guide: np.ndarray, source: np.ndarray, full_guide: np.ndarray, radius: int, eps: float
) -> np.ndarray:
    """The colour-guided filter of `source` by `guide` (both at a working size), its local
    affine model carried to `full_guide`'s size and applied there (He and Sun's fast
    guided filter): the output has the full-size photo's edges. Float (H, W, C).
    One output channel at a time, so a 12-megapixel photo needs a few hundred MB, not GBs."""
    a, b = guided_affine(guide, source, radius, eps)
    h, w = full_guide.shape[:2]
    full_guide = full_guide.astype(np.float32)
    resized = lambda x: x if x.shape[:2] == (h, w) else cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR)
    out = np.empty((h, w, source.shape[2]), np.float32)
    for c in range(source.shape[2]):
        a_c = resized(np.ascontiguousarray(a[..., c, :]))
        out[..., c] = (a_c * full_guide).sum(-1) + resized(np.ascontiguousarray(b[..., c]))
    return out


MATTING_EPS = 1e-7  # the matting affinity's regulariser (Levin et al.)
SMOOTH_LAMBDA = 1e-4  # Li et al.'s lambda: alpha = 1 / (1 + lambda)


def matting_affinity(image: np.ndarray, eps: float = MATTING_EPS):
    """Levin et al.'s matting affinity W (scipy CSR, N x N) of a float (H, W, 3) image over
    3x3 windows: W_ij = sum over the windows k holding i and j of
    (1 + (I_i - mu_k)^T (Sigma_k + eps / 9 U)^-1 (I_j - mu_k)) / 9."""
    from scipy import sparse

    h, w, _ = image.shape
    index = np.arange(h * w).reshape(h, w)
    # every 3x3 window: its 9 pixel indices (n, 9) and colours (n, 9, 3)
    windows = np.lib.stride_tricks.sliding_window_view(index, (3, 3)).reshape(-1, 9)
    colours = image.reshape(-1, 3)[windows].astype(np.float64)
    mean = colours.mean(1, keepdims=True)
    centred = colours - mean
    cov = np.einsum("nki,nkj->nij", centred, centred) / 9 + eps / 9 * np.eye(3)
    values = (1 + np.einsum("nki,nij,nlj->nkl", centred, np.linalg.inv(cov), centred)) / 9
    rows = np.repeat(windows, 9, axis=1).ravel()
    cols = np.tile(windows, (1, 9)).ravel()
    return sparse.csr_matrix((values.ravel(), (rows, cols)), shape=(h * w, h * w))


def affinity_smooth(image: np.ndarray, source: np.ndarray, lam: float = SMOOTH_LAMBDA) -> np.ndarray:
    """Li et al.'s closed-form smoothing (ECCV 2018): the output R stays close to the
    stylised `source` Y while pixels with a high matting affinity W in the content `image`
    take similar colours, min sum_ij w_ij |r_i - r_j|^2 + lambda sum_i d_ii |r_i - y_i|^2,
    whose minimum solves (L + lambda D) R = lambda D Y, L = D - W. This is eq. 5's
    R = (1 - a)(I - a P)^-1 Y, a = 1 / (1 + lambda), with the random-walk normalisation
    P = D^-1 W instead of the symmetric D^-1/2 W D^-1/2: a flat colour stays at its level
    (the symmetric form scales each pixel by sqrt(d_ii), darkening the borders, where
    pixels lie in fewer windows). L + lambda D is symmetric positive definite; one sparse
    factorisation serves every channel."""
    from scipy.sparse import diags
    from scipy.sparse.linalg import factorized

    h, w, channels = source.shape
    affinity = matting_affinity(image)
    degree = np.asarray(affinity.sum(axis=1)).ravel()
    system = (diags((1 + lam) * degree) - affinity).tocsc()
    solve = factorized(system)
    out = np.empty(source.shape, np.float32)
    for c in range(channels):
        out[..., c] = solve(lam * degree * source[..., c].astype(np.float64).ravel()).reshape(h, w)
    return out
