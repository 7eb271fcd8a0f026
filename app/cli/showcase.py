"""What the project shows of a model: bundled sample styles and the README figure.

Only images our model synthesised, and masks, end up in the repository: dataset photos
are research data under non-commercial terms, so the figure leaves them out unless
asked (`--show-photos`, for looking at locally).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from app.editor.samples import sample_mask
from models.data.datasets import resize_crop
from models.data.files import save_image, save_mask
from models.inference.engine import Engine
from models.inference.styles import StyleMatrix

THUMB = 128


def photo_and_mask(engine: Engine, pair) -> tuple[np.ndarray, np.ndarray]:
    return resize_crop(*pair.read(engine.labels), engine.size)


def make_samples(engine: Engine, pairs: list, count: int, out_dir: Path) -> list[Path]:
    """Encode `count` photos spread over `pairs`; write NAME.npz (codes) and NAME.png, the
    style rendered by our model on the bundled sample mask (never the photo itself)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = engine.info.model
    mask = sample_mask(model, engine.labels, engine.size)
    save_mask(out_dir / "mask.png", mask, engine.labels)
    written = []
    for i, pair in enumerate(pairs[:: max(1, len(pairs) // count)][:count]):
        photo, photo_mask = photo_and_mask(engine, pair)
        style = engine.encode(photo, photo_mask)
        name = out_dir / f"style_{i + 1:02d}"
        style.save(name.with_suffix(".npz"), model, engine.labels.names)
        render = engine.synthesize(mask, style.filled_from(engine.mean_style))
        save_image(name.with_suffix(".png"), cv2.resize(render, (THUMB, THUMB), interpolation=cv2.INTER_AREA))
        written.append(name)
    return written


def interpolate(a: StyleMatrix, b: StyleMatrix, t: float) -> StyleMatrix:
    return StyleMatrix(((1 - t) * a.codes + t * b.codes).astype(np.float32), a.present | b.present)


def swap_region(base: StyleMatrix, donor: StyleMatrix, label: int) -> StyleMatrix:
    codes = base.codes.copy()
    codes[label] = donor.codes[label]
    return StyleMatrix(codes, base.present)


def make_figure(engine: Engine, pairs: list, swap_label: str, out: Path, rows: int = 3,
                steps: int = 3, show_photos: bool = False, refine_steps: int = 0) -> None:
    """Rows of: mask | [photo] | reconstruction | `swap_label` from the next row's photo |
    interpolation steps towards the next photo's style | the next photo's reconstruction.
    The codes are the encoder's, refined by `refine_steps` steps when asked."""
    label = engine.labels.names.index(swap_label)
    data = [photo_and_mask(engine, p) for p in pairs[:rows + 1]]
    styles = [engine.encode(photo, mask, refine_steps).filled_from(engine.mean_style) for photo, mask in data]
    lines = []
    for r in range(rows):
        (photo, mask), style, donor = data[r], styles[r], styles[r + 1]
        cells = [engine.labels.colorize(mask)] + ([photo] if show_photos else [])
        cells.append(engine.synthesize(mask, style))
        cells.append(engine.synthesize(mask, swap_region(style, donor, label)))
        cells += [engine.synthesize(mask, interpolate(style, donor, t)) for t in np.linspace(0, 1, steps + 2)[1:]]
        gap = np.full((engine.size, 4, 3), 255, np.uint8)
        lines.append(np.concatenate([c for cell in cells for c in (cell, gap)][:-1], axis=1))
    gap = np.full((4, lines[0].shape[1], 3), 255, np.uint8)
    save_image(out, np.concatenate([c for line in lines for c in (line, gap)][:-1], axis=0))
