"""Folder datasets: DIR/images/X.jpg with DIR/labels/X.png (uint8 class indices)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .imageio import check_labels, load_image, load_mask
from .labels import LabelScheme

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


@dataclass(frozen=True)
class Pair:
    image: Path
    label: Path


def find_pairs(root: str | Path) -> list[Pair]:
    """Image/label pairs of one dataset folder (images/ and labels/ inside)."""
    root = Path(root)
    if not (root / "images").is_dir() or not (root / "labels").is_dir():
        raise FileNotFoundError(f"{root}: a dataset folder needs images/ and labels/ inside")
    return match_pairs(root / "images", root / "labels")


def match_pairs(images: str | Path, labels: str | Path) -> list[Pair]:
    """Images and label PNGs matched by file stem, sorted."""
    images, labels = Path(images), Path(labels)
    for folder in (images, labels):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
    by_stem = {p.stem: p for p in labels.glob("*.png")}
    pairs = [Pair(p, by_stem[p.stem]) for p in sorted(images.iterdir())
             if p.suffix.lower() in IMAGE_SUFFIXES and p.stem in by_stem]
    if not pairs:
        raise FileNotFoundError(f"{images}: no images with matching labels in {labels}")
    return pairs


def holdout_split(pairs: list[Pair], n_val: int) -> tuple[list[Pair], list[Pair]]:
    """(train, val): the n_val pairs whose stem hashes lowest are held out.

    Hashing makes the split fixed for a folder, independent of file order or machine,
    and stable when files are added.
    """
    ranked = sorted(pairs, key=lambda p: hashlib.sha1(p.image.stem.encode()).hexdigest())
    val = {p.image for p in ranked[:n_val]}
    return [p for p in pairs if p.image not in val], [p for p in pairs if p.image in val]


def resize_crop(image: np.ndarray, mask: np.ndarray, size: int, scale: float = 1.0,
                offset: tuple[float, float] = (0.5, 0.5)) -> tuple[np.ndarray, np.ndarray]:
    """Resize so the shorter side is size * scale, then crop size x size at the relative offset."""
    h, w = mask.shape
    f = size * scale / min(h, w)
    nh, nw = max(size, round(h * f)), max(size, round(w * f))
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    image = cv2.resize(image, (nw, nh), interpolation=interp)
    mask = cv2.resize(mask, (nw, nh), interpolation=cv2.INTER_NEAREST)
    top, left = round((nh - size) * offset[0]), round((nw - size) * offset[1])
    return image[top:top + size, left:left + size], mask[top:top + size, left:left + size]


class FolderDataset(Dataset):
    """Pairs as tensors: image (3, S, S) in [-1, 1], label (S, S) int64.

    With `augment`: random scale (up to +15%) and crop, and a horizontal flip that swaps
    the scheme's left/right classes.
    """

    def __init__(self, pairs: list[Pair], scheme: LabelScheme, size: int, augment: bool = False):
        self.pairs, self.scheme, self.size, self.augment = pairs, scheme, size, augment
        self.flip_lut = scheme.flip_lut()

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        pair = self.pairs[i]
        image, mask = load_image(pair.image), load_mask(pair.label, self.scheme)
        if image.shape[:2] != mask.shape:
            image = cv2.resize(image, mask.shape[::-1], interpolation=cv2.INTER_AREA)
        return image, check_labels(mask, self.scheme, str(pair.label))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        image, mask = self.load(i)
        if self.augment:
            # Seeded from torch, which the DataLoader seeds differently in every worker.
            rng = np.random.default_rng(int(torch.randint(2 ** 31, ())))
            image, mask = resize_crop(image, mask, self.size, rng.uniform(1.0, 1.15),
                                      tuple(rng.uniform(0, 1, 2)))
            if rng.random() < 0.5:
                image, mask = image[:, ::-1], self.flip_lut[mask[:, ::-1]]
        else:
            image, mask = resize_crop(image, mask, self.size)
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(127.5).sub(1)
        return {"image": x, "label": torch.from_numpy(np.ascontiguousarray(mask)).long()}


def load_folders(roots: list[str], scheme: LabelScheme, holdout: list[int]) -> tuple[list[Pair], list[Pair]]:
    """Train and validation pairs over several folders; holdout[i] pairs of folder i are held out."""
    if len(holdout) not in (0, 1, len(roots)):
        raise ValueError(f"--holdout takes one number, or one per data folder ({len(roots)})")
    counts = holdout * len(roots) if len(holdout) == 1 else (holdout or [0] * len(roots))
    train, val = [], []
    for root, n in zip(roots, counts):
        t, v = holdout_split(find_pairs(root), n)
        train += t
        val += v
    return train, val
