"""Label masks made to look hand-painted: what the editor's users give the model, unlike
the machine-made masks it trains on. Used to train for them (`train --mask-noise P`) and
to measure how a model copes (`eval --mask-noise S`).

A person's mask differs from a parser's in four ways, each done here at a strength S
(1: about what a careful user paints at 256 px):
* boundaries moved and roughened: labels resampled along a smooth random displacement;
* boundaries smoothed: every pixel takes the commonest label of its neighbourhood;
* small parts dropped: components under a minimum area take the label around them;
* brush blobs: discs of a neighbouring label dabbed across boundaries.
"""

from __future__ import annotations

import cv2
import numpy as np

DISPLACEMENT = 0.012  # of the mask's side: how far a boundary moves at strength 1
SMOOTHING = 0.012  # of the side: the neighbourhood whose commonest label a pixel takes
MIN_PART = 0.0004  # of the area: smaller components are dropped
BLOBS = 12  # brush dabs at strength 1
BLOB_RADIUS = (0.008, 0.025)  # of the side


def displaced(mask: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Labels resampled along a smooth random displacement of up to about `amount` px."""
    h, w = mask.shape
    coarse = rng.normal(0, amount, (2, max(2, h // 24), max(2, w // 24))).astype(np.float32)
    dx, dy = (cv2.resize(c, (w, h), interpolation=cv2.INTER_CUBIC) for c in coarse)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, xs + dx, ys + dy, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)


def mode_filtered(mask: np.ndarray, radius: int) -> np.ndarray:
    """Each pixel's commonest label within a (2r + 1)^2 window."""
    if radius < 1:
        return mask
    labels = np.unique(mask)
    k = 2 * radius + 1
    votes = np.stack([cv2.boxFilter((mask == c).astype(np.float32), -1, (k, k)) for c in labels])
    return labels[votes.argmax(0)].astype(mask.dtype)


def without_small_parts(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Components smaller than `min_area` px take the commonest label on their outline."""
    out = mask.copy()
    ring_kernel = np.ones((3, 3), np.uint8)
    for c in np.unique(mask):
        count, parts, stats, _ = cv2.connectedComponentsWithStats((mask == c).astype(np.uint8), connectivity=4)
        for i in range(1, count):
            if stats[i, cv2.CC_STAT_AREA] >= min_area:
                continue
            part = parts == i
            ring = cv2.dilate(part.astype(np.uint8), ring_kernel).astype(bool) & ~part
            around = out[ring]
            around = around[around != c]
            if around.size:
                out[part] = np.bincount(around).argmax()
    return out


def brush_blobs(mask: np.ndarray, rng: np.random.Generator, count: int, radii: tuple[float, float]) -> np.ndarray:
    """Discs of a neighbouring label dabbed on boundary pixels."""
    out = mask.copy()
    edges = np.argwhere(cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0)
    if not len(edges):
        return out
    for y, x in edges[rng.integers(0, len(edges), count)]:
        r = int(round(rng.uniform(*radii)))
        window = mask[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1]
        neighbours = window[window != mask[y, x]]
        if neighbours.size:
            cv2.circle(out, (int(x), int(y)), max(r, 1), int(rng.choice(neighbours)), -1)
    return out


def hand_drawn(mask: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """`mask` (H, W) uint8 as a person might paint it; strength 0 returns it unchanged."""
    if strength <= 0:
        return mask.copy()
    side = min(mask.shape)
    out = displaced(mask, rng, DISPLACEMENT * side * strength)
    out = mode_filtered(out, int(round(SMOOTHING * side * strength)))
    out = without_small_parts(out, int(MIN_PART * mask.size * strength))
    radii = (BLOB_RADIUS[0] * side * strength, BLOB_RADIUS[1] * side * strength)
    return brush_blobs(out, rng, int(round(BLOBS * strength)), radii)
