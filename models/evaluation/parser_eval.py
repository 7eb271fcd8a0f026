"""The parser's evaluation: pixel accuracy and mIoU against label maps (and, for FASSEG,
against its human 6-class labels after mapping ours onto them)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from models.data.files import load_mask
from models.data.labels import LabelScheme
from models.evaluation.metrics import ConfusionMatrix
from models.inference.parser import Parser

# FASSEG's human labels: 0 background, 1 skin (incl. neck), 2 hair (incl. brows), 3 eyes,
# 4 nose, 5 mouth. Our 19 classes map onto them like this (glasses, ears and jewellery
# sit on skin; hat and clothes are background there).
TO_FASSEG = np.array([0, 1, 4, 1, 3, 3, 2, 2, 1, 1, 5, 5, 5, 2, 0, 1, 1, 1, 0], np.uint8)
FASSEG_NAMES = ("background", "skin", "hair", "eyes", "nose", "mouth")


def square(image: np.ndarray, size: int, interpolation: int) -> np.ndarray:
    return cv2.resize(image, (size, size), interpolation=interpolation) if size else image


def evaluate_parser(
    parser: Parser, pairs: list, fasseg_labels: Path | None = None, size: int = 0, progress: bool = True
) -> dict:
    """Pixel accuracy and mIoU against the label files (per class too); with
    `fasseg_labels`, also against FASSEG's human 6-class labels after mapping ours down.
    With `size`, photos and labels are first scaled to size x size (the face-parsing
    convention: scores at the resolution the parser works at)."""
    scheme = parser.info.labels
    fasseg_scheme = LabelScheme("fasseg", FASSEG_NAMES, ("#000000",) * 6, ())
    full, fasseg = ConfusionMatrix(scheme.num_classes), ConfusionMatrix(len(FASSEG_NAMES))
    for pair in tqdm(pairs, desc="parse", disable=not progress):
        photo, labels = pair.read(scheme)
        photo, labels = square(photo, size, cv2.INTER_AREA), square(labels, size, cv2.INTER_NEAREST)
        pred = parser.parse(photo)
        full.add(labels, pred)
        if fasseg_labels is not None:
            human = square(
                np.asarray(load_mask(fasseg_labels / f"{pair.stem}.png", fasseg_scheme)), size, cv2.INTER_NEAREST
            )
            fasseg.add(human, TO_FASSEG[pred])
    result = {
        "images": len(pairs),
        "size": size or None,
        "pixel_accuracy": full.pixel_accuracy(),
        "miou": full.mean_iou(),
        "iou_per_class": {n: (None if np.isnan(v) else float(v)) for n, v in zip(scheme.names, full.iou())},
    }
    if fasseg_labels is not None:
        result["fasseg"] = {
            "pixel_accuracy": fasseg.pixel_accuracy(),
            "miou": fasseg.mean_iou(),
            "iou_per_class": dict(zip(FASSEG_NAMES, map(float, fasseg.iou()))),
        }
    return result
