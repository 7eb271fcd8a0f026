"""What the project shows of a model: bundled sample styles and the README figure.

Only images our model synthesised, and masks, end up in the repository: dataset photos
are research data under non-commercial terms, so the figure leaves them out unless
asked (`--show-photos`, for looking at locally).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from app.editor.samples import load_samples, sample_mask
from models.data.datasets import resize_crop
from models.data.files import save_image, save_mask
from models.inference.engine import Engine
from models.inference.styles import StyleMatrix

THUMB = 128


def photo_and_mask(engine: Engine, pair) -> tuple[np.ndarray, np.ndarray]:
    return resize_crop(*pair.read(engine.labels), engine.size)


def make_samples(engine: Engine, pairs: list, count: int, out_dir: Path) -> list[Path]:
    """Encode `count` photos spread over `pairs`; write NAME.npz (codes) and NAME.png, the
    style rendered by our model on the bundled sample mask (never the photo itself), at the
    aspect the editor paints that mask at (a street's 2:1), THUMB px high."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = engine.info.model
    mask = sample_mask(model, engine.labels, engine.size)
    save_mask(out_dir / "mask.png", mask, engine.labels)
    layout = engine.scene_layout(mask)
    thumb_size = (round(THUMB * layout.shape[1] / layout.shape[0]), THUMB)
    written = []
    for i, pair in enumerate(pairs[:: max(1, len(pairs) // count)][:count]):
        photo, photo_mask = photo_and_mask(engine, pair)
        style = engine.encode(photo, photo_mask)
        name = out_dir / f"style_{i + 1:02d}"
        style.save(name.with_suffix(".npz"), model, engine.labels.names)
        render = engine.synthesize(layout, style.filled_from(engine.mean_style))
        save_image(name.with_suffix(".png"), cv2.resize(render, thumb_size, interpolation=cv2.INTER_AREA))
        written.append(name)
    return written


def interpolate(a: StyleMatrix, b: StyleMatrix, t: float) -> StyleMatrix:
    return StyleMatrix(((1 - t) * a.codes + t * b.codes).astype(np.float32), a.present | b.present)


def swap_region(base: StyleMatrix, donor: StyleMatrix, label: int) -> StyleMatrix:
    codes = base.codes.copy()
    codes[label] = donor.codes[label]
    return StyleMatrix(codes, base.present)


def make_figure(
    engine: Engine,
    pairs: list,
    swap_label: str,
    out: Path,
    rows: int = 3,
    steps: int = 3,
    show_photos: bool = False,
    refine_steps: int = 0,
    at_aspect: bool = False,
) -> None:
    """Rows of: mask | [photo] | reconstruction | `swap_label` from the next row's photo |
    interpolation steps towards the next photo's style | the next photo's reconstruction.
    The codes are the encoder's, refined by `refine_steps` steps when asked; with
    `at_aspect` a scene's pictures are painted at its street's aspect (`Engine.scene_layout`)."""
    label = engine.labels.names.index(swap_label)
    data = [photo_and_mask(engine, p) for p in pairs[: rows + 1]]
    styles = [engine.encode(photo, mask, refine_steps).filled_from(engine.mean_style) for photo, mask in data]
    lines = []
    for r in range(rows):
        (photo, square), style, donor = data[r], styles[r], styles[r + 1]
        mask = engine.scene_layout(square) if at_aspect else square
        if show_photos:
            photo = cv2.resize(photo, mask.shape[::-1], interpolation=cv2.INTER_CUBIC)
        cells = [engine.labels.colorize(mask)] + ([photo] if show_photos else [])
        cells.append(engine.synthesize(mask, style))
        cells.append(engine.synthesize(mask, swap_region(style, donor, label)))
        cells += [engine.synthesize(mask, interpolate(style, donor, t)) for t in np.linspace(0, 1, steps + 2)[1:]]
        lines.append(cells)
    save_image(out, grid(lines))


def grid(rows: list[list[np.ndarray]], gap: int = 4) -> np.ndarray:
    """Rows of same-sized pictures joined into one, white gaps between them."""

    def joined(parts: list[np.ndarray], axis: int) -> np.ndarray:
        shape = list(parts[0].shape)
        shape[axis] = gap
        space = np.full(shape, 255, np.uint8)
        return np.concatenate([p for part in parts for p in (part, space)][:-1], axis=axis)

    return joined([joined(cells, 1) for cells in rows], 0)


def make_compare_figure(
    engines: list[Engine], pairs: list, out: Path, mask_noise: float = 0.0, show_photos: bool = False
) -> None:
    """The same photos through several models (before and after a training run), rows of:
    mask | [photo] | each model's reconstruction | and with `mask_noise` S: the mask made
    to look hand-painted (seeded per row) | each model drawing it, codes from the photo."""
    from models.data.mask_noise import hand_drawn

    first = engines[0]
    lines = []
    for row, pair in enumerate(pairs):
        photo, mask = photo_and_mask(first, pair)
        styles = [engine.encode(photo, mask) for engine in engines]
        cells = [first.labels.colorize(mask)] + ([photo] if show_photos else [])
        cells += [engine.synthesize(mask, style) for engine, style in zip(engines, styles)]
        if mask_noise:
            painted = hand_drawn(mask, np.random.default_rng(row), mask_noise)
            cells += [first.labels.colorize(painted)]
            cells += [engine.synthesize(painted, style) for engine, style in zip(engines, styles)]
        lines.append(cells)
    save_image(out, grid(lines))


def make_bank_figure(painter, pairs: list, out: Path, show_canvas: bool = False, show_photos: bool = False) -> None:
    """Rows of: mask | [photo] | canvas | ours from the bank | the mean style, each from
    the mask alone. The canvas is dataset pixels, so by default it is shown as where
    segments were pasted (the mask's colours there, grey where the network fills in);
    `show_canvas` shows the pixels, for looking at locally."""
    engine = painter.engine
    lines = []
    for pair in pairs:
        photo, mask = photo_and_mask(engine, pair)
        canvas = painter.canvas(mask)
        pasted = (
            canvas.image
            if show_canvas
            else np.where(
                canvas.filled[..., None],
                engine.labels.colorize(cv2.resize(mask, canvas.filled.shape[::-1], interpolation=cv2.INTER_NEAREST)),
                96,
            ).astype(np.uint8)
        )
        size = (engine.size, engine.size)
        cells = [engine.labels.colorize(mask)] + ([photo] if show_photos else [])
        cells += [
            cv2.resize(pasted, size, interpolation=cv2.INTER_NEAREST),
            painter.paint(mask, canvas),
            engine.synthesize(mask, engine.mean_style),
        ]
        lines.append(cells)
    save_image(out, grid(lines))


def synthetic_photo(engine: Engine, megapixels: float = 12.0) -> str:
    """A camera-sized photo made by our model (no dataset needed): the sample face
    synthesised with a sample style, enlarged into a 4:3 frame with fine texture."""
    import os
    import tempfile

    from PIL import Image

    labels = engine.labels
    samples = load_samples(engine.info.model, labels.num_classes, engine.info.config.style_dim)
    style = next(iter(samples.values())).style if samples else engine.mean_style
    face = engine.synthesize(sample_mask(engine.info.model, labels, engine.size), style)
    w = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    h = w * 3 // 4
    rng = np.random.default_rng(0)
    photo = np.clip(rng.normal(110, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    side = h * 2 // 3
    photo[(h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2] = cv2.resize(
        face, (side, side), interpolation=cv2.INTER_CUBIC
    )
    path = os.path.join(tempfile.mkdtemp(), "photo.jpg")
    Image.fromarray(photo).save(path, quality=92)
    return path


def make_edit_figure(engine: Engine, out: Path, hair_style: int = 3, skin_style: int = 1, crop: int = 384) -> None:
    """Crops at 100% of a 12-megapixel photo edit: original | hair restyled by the method
    before (the syntheses' difference added) | hair restyled now (a colour transform of
    the photo's own pixels) | a skin tone from another sample. The photo is one our model
    made (dataset photos stay out of the repository); the crop sits where hair meets
    forehead."""
    from models.data.files import load_image
    from models.evaluation.photo_edits import difference_composite
    from models.inference.composite import render_edit, restyled_classes, start_edit

    photo = load_image(synthetic_photo(engine))
    edit, own, _ = start_edit(engine, photo, "own")
    labels = engine.labels
    samples = list(load_samples(engine.info.model, labels.num_classes, engine.info.config.style_dim).values())
    own = own.filled_from(engine.mean_style)

    def styles_of(classes: list[int], sample: int) -> StyleMatrix:
        style = samples[sample].style
        given = [c for c in classes if style.present[c]]  # a class the sample lacks keeps the photo's own
        codes = own.codes.copy()
        codes[given] = style.codes[given]
        return StyleMatrix(codes, own.present)

    hair, skin = labels.names.index("hair"), labels.names.index("skin")
    new_hair = styles_of([hair], hair_style)
    before = difference_composite(
        edit,
        engine.synthesize(edit.mask, own),
        engine.synthesize(edit.mask, new_hair),
        restyled_classes(own, [new_hair]),
    )
    panels = [
        photo,
        before,
        render_edit(engine, edit, edit.mask, [new_hair], own),
        render_edit(engine, edit, edit.mask, [styles_of(list(labels.group_of(skin)), skin_style)], own),
    ]
    # the crop: centred on the hair's lowest row above the forehead, in photo pixels
    rows, cols = np.nonzero(edit.mask == skin)
    top = rows.min() if rows.size else engine.size // 3
    cx = cols.mean() if cols.size else engine.size / 2
    x, y = edit.framing.to_photo(engine.size) @ np.array([cx, top, 1.0])
    x0 = int(np.clip(x - crop / 2, 0, photo.shape[1] - crop))
    y0 = int(np.clip(y - crop / 2, 0, photo.shape[0] - crop))
    save_image(out, np.concatenate([p[y0 : y0 + crop, x0 : x0 + crop] for p in panels], axis=1))


GRADES = {  # made-up looks for the style pictures: per-channel gains and a gamma
    "sunset": ((1.25, 0.92, 0.65), 1.25),
    "blue hour": ((0.62, 0.78, 1.15), 1.45),
}


def graded(image: np.ndarray, grade: str) -> np.ndarray:
    """A picture given a colour grade (gains, then a gamma: darker and tinted)."""
    gains, gamma = GRADES[grade]
    out = (image.astype(np.float32) / 255) ** gamma * np.array(gains, np.float32)
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


STYLIZE_COLUMNS = ("ours", "ours_network", "reinhard_smoothed")  # after content | style


def stylize_figure_row(
    stylizer,
    content: np.ndarray,
    style: np.ndarray,
    content_labels: np.ndarray,
    style_labels: np.ndarray,
    framing: str | None = None,
) -> np.ndarray:
    """content | style | ours (the colour transfer, smoothed as the scheme's `framing`
    ships it) | the WCT network | per-class Reinhard with our smoothing, side by side."""
    from models.evaluation.stylization import stylize_pair
    from models.inference.stylize import class_plan

    plan = class_plan(content_labels, style_labels)
    looks = [
        stylize_pair(stylizer, m, content, style, content_labels, style_labels, plan, framing) for m in STYLIZE_COLUMNS
    ]
    return np.concatenate([content, style, *looks], axis=1)


def make_stylize_photo_figure(stylizer, engine: Engine, pairs: list, out: Path, size: int = 256) -> None:
    """The same rows from real photos (held-out pairs, photo i with photo i + 1's look), to
    look at: the figure stays out of the repository, as the photos do."""
    photos = [resize_crop(*pair.read(engine.labels), size) for pair in pairs]
    rows = []
    for i, (content, content_labels) in enumerate(photos):
        style, style_labels = photos[(i + 1) % len(photos)]
        rows.append(stylize_figure_row(stylizer, content, style, content_labels, style_labels, engine.labels.framing))
    save_image(out, np.concatenate(rows, axis=0))


def make_stylize_figure(stylizer, engines: list[Engine], out: Path, seed: int = 3) -> None:
    """Rows per model as `stylize_figure_row`. The content is our model's synthesis with
    one sample style; the style picture is its synthesis of the mirrored mask with
    another sample style, colour-graded (a sunset, a blue hour): all pictures our models
    made, none from a dataset."""
    rows = []
    for engine, grade in zip(engines, GRADES):
        labels = engine.labels
        samples = list(load_samples(engine.info.model, labels.num_classes, engine.info.config.style_dim).values())
        rng = np.random.default_rng(seed)
        styles = [s.style.filled_from(engine.mean_style) for s in samples] or [engine.mean_style]
        a, b = rng.choice(len(styles), 2, replace=False) if len(styles) > 1 else (0, 0)
        mask = sample_mask(engine.info.model, labels, engine.size)
        mirrored = np.ascontiguousarray(labels.flip_lut()[mask[:, ::-1]])
        content = engine.synthesize(mask, styles[a])
        style = graded(engine.synthesize(mirrored, styles[b]), grade)
        rows.append(stylize_figure_row(stylizer, content, style, mask, mirrored, labels.framing))
    save_image(out, np.concatenate(rows, axis=0))


def make_fill_figure(engine: Engine, out: Path, samples_shown: int = 3) -> None:
    """Painted shapes at 100%, on faces our model made (dataset photos stay out of the
    repository): per band (a fringe, a cheek) of each sample face at 512 px, blanked and
    repainted: real | the model's synthesis (before) | OpenCV's Telea | ours."""
    from models.evaluation.fills import SIDE, bands_of, crop_around, guide_of, repaint
    from models.inference.texture_fill import DEFAULT_FILL

    labels = engine.labels
    samples = list(load_samples(engine.info.model, labels.num_classes, engine.info.config.style_dim).values())
    mask = sample_mask(engine.info.model, labels, engine.size)
    rows = []
    for sample in samples[:samples_shown]:
        face = cv2.resize(engine.synthesize(mask, sample.style), (SIDE, SIDE), interpolation=cv2.INTER_CUBIC)
        face_labels = cv2.resize(mask, (SIDE, SIDE), interpolation=cv2.INTER_NEAREST)
        guide = guide_of(engine, face, face_labels)
        for name in ("fringe", "cheek"):
            band = bands_of(face_labels, labels.names).get(name)
            if band is None:
                continue
            blanked = face.copy()
            blanked[band] = 128
            row = [crop_around(face, band)]
            for method in ("synthesis", "telea", "ours"):
                filled = repaint(method, blanked, band, face_labels, guide, DEFAULT_FILL, guide_px=SIDE / engine.size)
                row.append(crop_around(filled, band))
            rows.append(np.concatenate(row, 1))
    save_image(out, np.concatenate(rows, 0))
