"""Photo edits: the result is the user's photo, at its own size, changed only where the edit
changed something.

The model works on a 256 px square framed in the photo. Where a region's style changed
but its shape did not, the change itself is carried back: the difference between the
synthesis with the new styles and the one with the photo's own styles, brought to the
photo through the inverse framing and added to the original, so the photo's detail (hair
strands, skin texture) stays under the new colour. Where the mask changed (a painted
fringe), the synthesised pixels go in, upsampled and filtered with the photo as the guide.
A soft seam, its width scaled to the framed face, hides the border; every pixel further
out is the original, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from models.data.filters import guided_filter
from models.data.framing import Framing, stretched_photo, whole_photo
from models.inference.engine import Engine
from models.inference.styles import StyleMatrix

SEAM = 0.02          # half-width of the seam, as a share of the framed box's side
GUIDE_RADIUS = 0.01  # of the box's side: the guided filter's window, for synthesised pixels
GUIDE_EPS = 1e-3
EDGE_FADE = 0.08     # of the square's side: edits fade out towards the square's edges, where the
                     # model's view of the photo ends (hair that goes on past it keeps its look)


@dataclass(frozen=True)
class PhotoEdit:
    """A user's photo as an edit starts from it: the original at full resolution, where
    the model's square lies in it, the photo's own mask (as parsed, at the model's size)
    and the key of the source holding its own style codes."""
    original: np.ndarray
    framing: Framing
    mask: np.ndarray
    source_key: str
    file: bytes = b""      # the photo's file as it was read: a project keeps it losslessly, EXIF and all

    def scaled(self, max_side: int) -> PhotoEdit:
        """The same edit on a smaller copy of the photo (the editor's live preview)."""
        h, w = self.original.shape[:2]
        factor = min(1.0, max_side / max(h, w))
        if factor == 1.0:
            return self
        small = cv2.resize(self.original, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA)
        f = self.framing
        framing = replace(f, x=f.x * factor, y=f.y * factor, side=f.side * factor,
                          height=None if f.height is None else f.height * factor)
        return replace(self, original=small, framing=framing)


def restyled_classes(own: StyleMatrix, per_block: list[StyleMatrix]) -> np.ndarray:
    """(s,) bool: the classes whose code differs from the photo's own in any SEAN block."""
    return np.array([any(not np.allclose(block.codes[c], own.codes[c], atol=1e-6) for block in per_block)
                     for c in range(len(own.codes))])


def soft_mask(area: np.ndarray, seam: float) -> np.ndarray:
    """A binary area -> weights in [0, 1]: 1 deep inside, a ramp across the border `seam`
    pixels to each side, and exactly 0 further out."""
    inside = cv2.distanceTransform(area.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((~area).astype(np.uint8), cv2.DIST_L2, 3)
    return np.clip(0.5 + (inside - outside) / (2 * seam), 0, 1).astype(np.float32)


def edge_fade(size: int, sides: tuple[bool, bool, bool, bool] = (True,) * 4) -> np.ndarray:
    """(size, size) weights: 1 inside, falling linearly to 0 at the square's edges (top,
    bottom, left, right: those `sides` marks; an edge on or past the photo's border has
    nothing beyond it to blend into, so it needs no fade)."""
    up = np.clip((np.arange(size) + 0.5) / (EDGE_FADE * size), 0, 1)
    top, bottom, left, right = (ramp if on else np.ones(size)
                                for on, ramp in zip(sides, (up, up[::-1], up, up[::-1])))
    return np.minimum(np.minimum(top, bottom)[:, None], np.minimum(left, right)[None, :]).astype(np.float32)


def inner_edges(framing: Framing, shape: tuple[int, int]) -> tuple[bool, bool, bool, bool]:
    """Which edges of the framed box (top, bottom, left, right) lie inside the photo."""
    h, w = shape
    return (framing.y > 0, framing.y + framing.box_height < h, framing.x > 0, framing.x + framing.side < w)


def changed_box(area: np.ndarray, to_photo: np.ndarray, margin: float, shape: tuple[int, int]) -> tuple | None:
    """The photo-pixel box (y0, y1, x0, x1) around a model-size area, grown by `margin`."""
    rows, cols = np.flatnonzero(area.any(1)), np.flatnonzero(area.any(0))
    if rows.size == 0:
        return None
    corners = np.array([[cols[0], rows[0], 1], [cols[-1] + 1, rows[-1] + 1, 1]], np.float64) @ to_photo.T
    x0, y0 = np.floor(corners.min(0) - margin).astype(int)
    x1, y1 = np.ceil(corners.max(0) + margin).astype(int)
    y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, shape[0]), min(x1, shape[1])
    return (y0, y1, x0, x1) if y0 < y1 and x0 < x1 else None


def to_photo_pixels(image: np.ndarray, to_model: np.ndarray, box: tuple, interpolation: int,
                    border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """A model-size image resampled onto the photo pixels of `box` (outside the model's
    square: its edge replicated, or zeros with BORDER_CONSTANT)."""
    y0, y1, x0, x1 = box
    m = to_model.copy()
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)   # photo pixel (x0, y0) is the box's origin
    return cv2.warpAffine(image, m, (x1 - x0, y1 - y0), flags=interpolation | cv2.WARP_INVERSE_MAP,
                          borderMode=border)


def mask_in_photo(mask: np.ndarray, framing: Framing, shape: tuple[int, int]) -> np.ndarray:
    """A model-square label mask placed on a photo's pixels (nearest): background (0)
    outside the model's square."""
    return to_photo_pixels(mask, framing.to_model(mask.shape[0]), (0, shape[0], 0, shape[1]),
                           cv2.INTER_NEAREST, cv2.BORDER_CONSTANT)


def parsed_labels(engine: Engine, photo: np.ndarray) -> tuple[np.ndarray, bool]:
    """A photo's labels at its own size, from the model's parser: the photo framed (on its
    largest face), the square parsed and placed back; and whether a face was found."""
    framing, framed = engine.frame(photo)
    return mask_in_photo(engine.parser.parse(framed), framing, photo.shape[:2]), framing.found_face


def composite(edit: PhotoEdit, edited_mask: np.ndarray, base: np.ndarray, edited: np.ndarray,
              restyled: np.ndarray) -> np.ndarray:
    """The photo with the edit in it, at the photo's size. `base` is the synthesis of the
    photo's own mask with its own styles, `edited` that of `edited_mask` with the edit's
    styles, `restyled` the classes whose style changed."""
    photo, size = edit.original, base.shape[0]
    shape_area = edited_mask != edit.mask
    style_area = restyled[edited_mask] & ~shape_area
    seam = max(1.5, SEAM * edit.framing.side)
    box = changed_box(style_area | shape_area, edit.framing.to_photo(size), 2 * seam + 2, photo.shape[:2])
    if box is None:
        return photo.copy()
    to_model = edit.framing.to_model(size)
    # The areas end where the model's square ends: nothing outside it was edited.
    area_at = lambda a: to_photo_pixels(a.astype(np.float32), to_model, box, cv2.INTER_LINEAR,
                                        cv2.BORDER_CONSTANT) >= 0.5
    fade = to_photo_pixels(edge_fade(size, inner_edges(edit.framing, photo.shape[:2])), to_model, box,
                           cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)
    style_weight = (soft_mask(area_at(style_area), seam) * fade)[..., None]
    shape_weight = (soft_mask(area_at(shape_area), seam) * fade)[..., None]
    y0, y1, x0, x1 = box
    original = photo[y0:y1, x0:x1].astype(np.float32)
    delta = to_photo_pixels(edited.astype(np.float32) - base.astype(np.float32), to_model, box, cv2.INTER_LINEAR)
    out = original + style_weight * delta
    if shape_area.any():
        drawn = to_photo_pixels(edited.astype(np.float32), to_model, box, cv2.INTER_CUBIC)
        guide = cv2.cvtColor(photo[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
        radius = max(1, round(GUIDE_RADIUS * edit.framing.side))
        drawn = guided_filter(guide, drawn, radius, GUIDE_EPS)
        out = out * (1 - shape_weight) + drawn * shape_weight
    result = photo.copy()
    touched = (style_weight[..., 0] > 0) | (shape_weight[..., 0] > 0)
    result[y0:y1, x0:x1][touched] = np.clip(np.rint(out[touched]), 0, 255).astype(np.uint8)
    return result


def render_edit(engine: Engine, edit: PhotoEdit, mask: np.ndarray, per_block: list[StyleMatrix],
                own: StyleMatrix) -> np.ndarray:
    """The edited photo at the size of `edit.original`: `mask` with `per_block` styles
    (one, or one per SEAN block), composited into the photo whose own style is `own`."""
    own = own.filled_from(engine.mean_style)
    per_block = [style.filled_from(engine.mean_style) for style in per_block]
    base = engine.synthesize(edit.mask, own)
    edited = engine.synthesize(mask, per_block if len(per_block) > 1 else per_block[0])
    return composite(edit, mask, base, edited, restyled_classes(own, per_block))


def start_edit(engine: Engine, original: np.ndarray, source_key: str, mask: np.ndarray | None = None,
               refine_steps: int = 0, file: bytes = b"", face: int = 0,
               faces: list | None = None) -> tuple[PhotoEdit, StyleMatrix, np.ndarray]:
    """A photo as an edit starts from it, its own style, and the photo as the model sees
    it: framed and parsed, or, with the photo's own `mask` (at its size), the whole photo
    stretched to the square as the mask is; encoded, then refined when asked."""
    if mask is None:
        framing, framed = engine.frame(original, face, faces)
        own_mask = engine.parser.parse(framed)
    else:
        framing = whole_photo(original)
        framed = stretched_photo(original, engine.size)
        own_mask = cv2.resize(mask, (engine.size, engine.size), interpolation=cv2.INTER_NEAREST)
    own = engine.encode(framed, own_mask, refine_steps)
    return PhotoEdit(original, framing, own_mask, source_key, file), own, framed
