"""Tiny data generated in code: the suite never needs ../shared or shipped weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from models.data.labels import LabelScheme
from models.nets.sean import SEANConfig

TOY = LabelScheme(
    name="toy",
    names=("background", "skin", "l_eye", "r_eye"),
    colors=("#000000", "#cc0000", "#3333ff", "#cc00cc"),
    flip_pairs=((2, 3),),
    framing="face",
    groups=((2, 3),),
)  # both eyes take a dropped style together
STREET = LabelScheme(
    name="street", names=("road", "sky", "car"), colors=("#804080", "#4682b4", "#00008e"), flip_pairs=(), aspect=2.0
)  # a toy scene model: no parser, photos are stretched, square layouts read as 2:1 streets (as Cityscapes')
SIZE = 32


def tiny_config(num_classes: int = 4, **overrides) -> SEANConfig:
    """The lite code path at toy widths (fast enough for CI on two cores)."""
    base = SEANConfig.lite(num_classes)
    small = dict(style_dim=16, ngf=2, max_channels=16, enc_ngf=4, mask_hidden=4, style_hidden=8)
    return SEANConfig(**{**base.to_dict(), **small, **overrides})


def toy_mask(size: int = SIZE, shift: int = 0) -> np.ndarray:
    """Background, a face rectangle and two eyes: every class of TOY appears."""
    m = np.zeros((size, size), np.uint8)
    q = size // 4
    m[q : 3 * q, q + shift : 3 * q + shift] = 1
    m[q + 2 : q + 5, q + 2 + shift : q + 5 + shift] = 2
    m[q + 2 : q + 5, 3 * q - 5 + shift : 3 * q - 2 + shift] = 3
    return m


def toy_photo(mask: np.ndarray, seed: int = 0) -> np.ndarray:
    """A photo-like image: one colour per class plus a little noise."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (int(mask.max()) + 1, 3))
    img = colours[mask] + rng.normal(0, 8, mask.shape + (3,))
    return np.clip(img, 0, 255).astype(np.uint8)


def make_dataset(root: Path, n: int, size: int = 48, num_classes: int = 19) -> Path:
    """A folder dataset (images/ + labels/) of n generated faces-like pictures."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        mask = toy_mask(size, shift=i % 5 - 2) % num_classes
        Image.fromarray(toy_photo(mask, seed=0)).save(root / "images" / f"img{i:03d}.jpg", quality=95)
        Image.fromarray(mask).save(root / "labels" / f"img{i:03d}.png")
    return root
