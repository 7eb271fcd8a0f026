"""Canvases: real pixels laid on a layout, away from its borders. `models.inference.sims`
makes them from retrieved segments; training simulates them from a photo itself, as SIMS
does (its section 3.4): each segment stenciled from the photo by its own mask, some
dropped, some moved and rescaled a little (retrieval never fits exactly), some recoloured
with the statistics of another segment of the same class, and the borders elided."""

from __future__ import annotations

import cv2
import numpy as np

from models.data.bank import components, min_area

DROP = 0.15  # share of segments left out (regions the bank has nothing for)
RECOLOUR = 0.3  # share recoloured like another segment of their class (the shipped street
# network's first 440 steps used 0.6: its pictures kept the mean style's colours)
MISALIGN = 0.4  # share shifted and rescaled inside their region
MAX_SHIFT = 0.06  # of the segment's box, each way
MAX_RESCALE = 0.15  # +- of its size
EXTRA_ELISION = 0.5  # chance of eliding one pixel more along every border


def simulation_settings() -> dict:
    """What a training session's canvases were simulated with (kept in its record)."""
    return {
        "drop": DROP,
        "recolour": RECOLOUR,
        "misalign": MISALIGN,
        "max_shift": MAX_SHIFT,
        "max_rescale": MAX_RESCALE,
        "extra_elision": EXTRA_ELISION,
    }


def border_width(size: int) -> int:
    """Pixels left out along every region's border, for the synthesis to fill (SIMS's
    boundary elision): 2 at 256."""
    return max(1, round(size / 128))


def interiors(layout: np.ndarray, extra: int = 0) -> np.ndarray:
    """Pixels at least border_width (+ extra) from another class (the photo's edge is no border)."""
    kernel = np.ones((2 * (border_width(layout.shape[0]) + extra) + 1,) * 2, np.uint8)
    inside = np.zeros(layout.shape, bool)
    for label in np.unique(layout):
        inside |= cv2.erode((layout == label).astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE) > 0
    return inside


class ColourStats:
    """Colour statistics (RGB mean and spread) of real segments per class, for recolouring:
    a bank's `seg_mean` and `seg_std`."""

    def __init__(self, labels: np.ndarray, means: np.ndarray, stds: np.ndarray):
        self.by_label = {
            int(c): (means[labels == c].astype(np.float32), stds[labels == c].astype(np.float32))
            for c in np.unique(labels)
        }

    def sample(self, label: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
        if label not in self.by_label:
            return None
        means, stds = self.by_label[label]
        i = rng.integers(len(means))
        return means[i], stds[i]


def recoloured(pixels: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 pixels moved to another mean and spread per channel (the spread's
    change kept within 2x: a flat segment stretched to a busy one's spread is noise)."""
    own_mean, own_std = pixels.mean(0), pixels.std(0) + 1.0
    gain = np.clip((std + 1.0) / own_std, 0.5, 2.0)
    return np.clip((pixels - own_mean) * gain + mean, 0, 255).astype(np.uint8)


def misaligned(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The crop shifted and rescaled about its centre, edges replicated."""
    h, w = crop.shape[:2]
    scale = 1 + rng.uniform(-MAX_RESCALE, MAX_RESCALE)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 0, scale)
    m[:, 2] += rng.uniform(-MAX_SHIFT, MAX_SHIFT, 2) * (w, h)
    return cv2.warpAffine(crop, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def simulated_canvas(
    image: np.ndarray, labels: np.ndarray, rng: np.random.Generator, colours: ColourStats | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(canvas, filled) made from a photo and its labels the way retrieval's would look."""
    canvas = np.zeros_like(image)
    filled = np.zeros(labels.shape, bool)
    inside = interiors(labels, extra=int(rng.random() < EXTRA_ELISION))
    for comp in components(labels, min_area(labels.shape[0])):
        if rng.random() < DROP:
            continue
        top, bottom, left, right = comp.box
        crop = image[top:bottom, left:right]
        if rng.random() < MISALIGN:
            crop = misaligned(crop, rng)
        where = comp.mask & inside[top:bottom, left:right]
        pixels = crop[where]
        target = colours.sample(comp.label, rng) if colours is not None and rng.random() < RECOLOUR else None
        if target is not None and len(pixels):
            pixels = recoloured(pixels, *target)
        canvas[top:bottom, left:right][where] = pixels
        filled[top:bottom, left:right] |= where
    return canvas, filled
