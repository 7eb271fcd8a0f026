"""Photo edits, measured on held-out photos placed on a larger canvas, as a camera photo
would frame a face: a restyle with the photo's own style must give the photo back, and a
restyle of one region (hair) from another photo must change that region and leave every
pixel beyond its seam bit-identical."""
from __future__ import annotations

import cv2
import numpy as np
from tqdm import tqdm

from models.data.files import load_image
from models.evaluation.metrics import psnr
from models.inference.composite import SEAM, render_edit, start_edit, to_photo_pixels
from models.inference.engine import Engine
from models.inference.styles import StyleMatrix

CANVAS = (0.35, 0.2)   # border added on each side, as a share of the photo's width and height


def on_canvas(photo: np.ndarray) -> np.ndarray:
    """The photo with mirrored borders: a wider, taller picture with the face off its edges."""
    h, w = photo.shape[:2]
    dx, dy = int(w * CANVAS[0]), int(h * CANVAS[1])
    return cv2.copyMakeBorder(photo, dy, dy, dx, dx, cv2.BORDER_REFLECT_101)


def region_in_photo(edit, region: np.ndarray, grow: float) -> np.ndarray:
    """A model-size area as photo pixels, grown by `grow` pixels."""
    h, w = edit.original.shape[:2]
    area = to_photo_pixels(region.astype(np.float32), edit.framing.to_model(region.shape[0]), (0, h, 0, w),
                           cv2.INTER_LINEAR, cv2.BORDER_CONSTANT) >= 0.5
    k = 2 * int(np.ceil(grow)) + 1
    return cv2.dilate(area.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0


def evaluate_photo_edits(engine: Engine, pairs: list, region: str = "hair", refine_steps: int = 0,
                         progress: bool = True) -> dict:
    label = engine.labels.names.index(region)
    photos = [on_canvas(load_image(p.image)) for p in pairs]
    own_psnr, own_identical, outside, inside, changed_share, sizes = [], [], [], [], [], []
    for i, photo in enumerate(tqdm(photos, desc="photo edits", disable=not progress)):
        edit, own, _ = start_edit(engine, photo, "own", refine_steps=refine_steps)
        same = render_edit(engine, edit, edit.mask, [own], own)
        own_identical.append(bool(np.array_equal(same, photo)))
        own_psnr.append(psnr(same, photo))
        donor = photos[(i + 1) % len(photos)]
        _, donor_style, _ = start_edit(engine, donor, "donor", refine_steps=refine_steps)
        codes = own.filled_from(engine.mean_style).codes.copy()
        if donor_style.present[label]:
            codes[label] = donor_style.codes[label]
        out = render_edit(engine, edit, edit.mask, [StyleMatrix(codes, own.present)], own)
        changed = (out != photo).any(-1)
        hair = edit.mask == label
        band = region_in_photo(edit, hair, 2 * max(1.5, SEAM * edit.framing.side) + 2)
        core = region_in_photo(edit, hair, 0)
        outside.append(1 - changed[~band].mean())
        inside.append(changed[core].mean() if core.any() else np.nan)
        changed_share.append(changed.mean())
        sizes.append(photo.shape[:2])
    return {"images": len(photos), "region": region, "refine_steps": refine_steps,
            "photo_size": [int(np.mean([s[1] for s in sizes])), int(np.mean([s[0] for s in sizes]))],
            "own_style_identical": float(np.mean(own_identical)),
            # PSNR of the own-style restyle; None when every photo came back bit for bit (infinite)
            "own_style_psnr_min": None if np.isinf(np.min(own_psnr)) else float(np.min(own_psnr)),
            "restyle_outside_seam_identical_mean": float(np.mean(outside)),
            "restyle_outside_seam_identical_min": float(np.min(outside)),
            "restyle_region_changed_mean": float(np.nanmean(inside)),
            "restyle_pixels_changed_mean": float(np.mean(changed_share))}
