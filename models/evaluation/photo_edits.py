"""Photo edits, measured on held-out photos placed on a larger canvas, as a camera photo
would frame a face (mirrored borders: hair and shoulders go on past the model's square).

* A restyle with the photo's own style must give the photo back, bit for bit.
* A restyle of one region (hair, or the skin group) from the next photo, by four methods:
  `anchored` (ours: the region's colour map applied to the photo's own pixels,
  models/inference/recolour.py, anchored to the style photo's colours of the region),
  `transform` (the same from the model's syntheses alone, as for codes without a photo),
  `difference` (the change of the synthesis added to the
  photo, as before, inside the square) and `reinhard` (a per-region Lab transfer from the
  style photo's region, Reinhard et al. 2001), and `gain` (one gain per RGB channel that
  takes the region's mean colour to the style photo's: it keeps every shape of the
  original's detail, so its detail figures are the ceiling the 8-bit output allows a
  recolour by that much: rounding and clipping alone lower them). Per method: the Lab distance between the
  restyled region's mean colour and the style photo's (CIE76, 0 best), the correlation of
  the region's luminance Laplacians with the original's (detail kept, 1 best), and the
  share of the region's pixels that changed, inside and outside the model's square, and
  the halo: the mean colour change (CIE76) just outside the region's true outline, from
  the dataset's labels (2 px to two seams out; strands the labels miss count too), and
  the share of the region's true pixels (those labels, a seam in from their outline, in the
  photo itself: the canvas's mirrored copies are other faces) that changed: a region the
  parse cuts off, or a line where it stops, shows there. And the slack's lag
  (`slack_lag`): how far the skin-coloured pixels of the loosely labelled classes (the
  dataset's brows) lag the region's change; a pale patch round a light brow shows there.
* For ours (anchored), the share of pixels beyond the restyled regions and their seam that stay
  bit-identical (the bar: 100%); a shaded region's loosely labelled neighbours (the brows,
  whose skin-coloured pixels it takes) count as the region.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from models.data.files import load_image, load_mask
from models.evaluation.metrics import psnr
from models.evaluation.stylization import from_lab, reinhard, to_lab
from models.inference.colour_model import within
from models.inference.composite import (
    SEAM,
    PhotoEdit,
    composite,
    recolour,
    restyled_area,
    restyled_classes,
    square_weight,
    start_edit,
    to_photo_pixels,
)
from models.inference.engine import Engine
from models.inference.styles import StyleMatrix

CANVAS = (0.35, 0.2)  # border added on each side, as a share of the photo's width and height
METHODS = ("anchored", "transform", "difference", "reinhard", "gain")


def on_canvas(photo: np.ndarray, border: int | None = None) -> np.ndarray:
    """The photo with mirrored borders: a wider, taller picture with the face off its edges
    (or, given a `border` value, the borders filled with it)."""
    h, w = photo.shape[:2]
    dx, dy = int(w * CANVAS[0]), int(h * CANVAS[1])
    if border is not None:
        return cv2.copyMakeBorder(photo, dy, dy, dx, dx, cv2.BORDER_CONSTANT, value=border)
    return cv2.copyMakeBorder(photo, dy, dy, dx, dx, cv2.BORDER_REFLECT_101)


def grown(area: np.ndarray, grow: float) -> np.ndarray:
    k = 2 * int(np.ceil(grow)) + 1
    return cv2.dilate(area.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0


def shrunk(area: np.ndarray, by: float) -> np.ndarray:
    return ~grown(~area, by)


def difference_composite(edit: PhotoEdit, base: np.ndarray, edited: np.ndarray, restyled: np.ndarray) -> np.ndarray:
    """The method before the colour maps (a baseline): the difference of the two syntheses,
    brought to the photo and added to it inside the square, faded at its inner edges."""
    photo = edit.original
    placed = square_weight(edit, restyled[edit.mask], max(1.5, SEAM * edit.framing.side))
    if placed is None:
        return photo.copy()
    box, weight = placed
    y0, y1, x0, x1 = box
    to_model = edit.framing.to_model(base.shape[0])
    delta = to_photo_pixels(edited.astype(np.float32) - base.astype(np.float32), to_model, box, cv2.INTER_LINEAR)
    result = photo.copy()
    result[y0:y1, x0:x1] = np.clip(np.rint(photo[y0:y1, x0:x1] + weight * delta), 0, 255).astype(np.uint8)
    return result


def reinhard_restyle(photo: np.ndarray, area: np.ndarray, style: np.ndarray, style_area: np.ndarray) -> np.ndarray:
    """A baseline: the region's Lab means and deviations made the style photo's region's."""
    out = to_lab(photo)
    reinhard(photo, style, area, style_area, into=out)
    result = photo.copy()
    result[area] = from_lab(out)[area]
    return result


def gain_restyle(photo: np.ndarray, area: np.ndarray, style: np.ndarray, style_area: np.ndarray) -> np.ndarray:
    """A reference: the region's pixels times one gain per channel, its mean colour made
    the style photo's region's (in linear light, where a change of albedo is a gain)."""
    linear = lambda im: (im / 255.0) ** 2.2
    gain = linear(style)[style_area].mean(0) / np.maximum(linear(photo)[area].mean(0), 1e-6)
    result = photo.copy()
    scaled = linear(photo[area]) * gain
    result[area] = np.clip(np.rint(255 * np.clip(scaled, 0, 1) ** (1 / 2.2)), 0, 255).astype(np.uint8)
    return result


def true_labels(path: str | Path, engine: Engine, shape: tuple[int, int]) -> np.ndarray:
    """The dataset's label map of a photo, at the photo's size `shape`."""
    mask = load_mask(path, engine.labels)
    return mask if mask.shape == shape else cv2.resize(mask, shape[::-1], interpolation=cv2.INTER_NEAREST)


def outline_surround(truth: np.ndarray, seam: float) -> np.ndarray:
    """The pixels just outside a region's true outline (from 2 px, a label's own
    slack, to two seams out): where a recolour's colour carried past the region shows as
    a halo."""
    return grown(truth, 2 * seam) & ~grown(truth, 2)


def delta_e(a: np.ndarray, b: np.ndarray, area: np.ndarray) -> float:
    """The mean CIE76 colour difference of two pictures over `area` (nan when empty)."""
    return float(np.linalg.norm(to_lab(a)[area] - to_lab(b)[area], axis=-1).mean()) if area.any() else float("nan")


def region_lab(image: np.ndarray, area: np.ndarray) -> np.ndarray:
    return to_lab(image)[area].mean(0)


def laplacian_correlation(a: np.ndarray, b: np.ndarray, area: np.ndarray, tone: str = "lightness") -> float:
    """Correlation of the two pictures' Laplacians of `tone` over `area`: 1 when the
    restyled region keeps every detail of the original's. "lightness" is CIE L*, which a
    transfer linear in Lab (Reinhard's) keeps by construction; "luma" is Y' (BT.601 of
    the encoded RGB), which a map affine in RGB keeps by construction. Each favours one
    kind of method, so both are reported."""
    tones = {
        "lightness": lambda im: to_lab(im)[..., 0],
        "luma": lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32),
    }
    lap = lambda im: cv2.Laplacian(tones[tone](im), cv2.CV_32F)[area]
    x, y = lap(a), lap(b)
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denominator) if denominator > 0 else float("nan")


def loose_slack(photo: np.ndarray, loose: np.ndarray, true_core: np.ndarray) -> np.ndarray:
    """The pixels of the loosely labelled classes (`loose`, in the dataset's labels: the
    brows) whose colour is the region's own (within the 99th percentile of its true
    pixels' Gaussian in Lab): the skin a brow's label takes in round a light brow, which a
    restyle of the skin should change with it."""
    if not loose.any() or true_core.sum() < 50:
        return loose
    lab = to_lab(photo)
    slack = np.zeros_like(loose)
    slack[loose] = within(lab[loose], lab[true_core], ridge=1.0)
    return slack


def slack_lag(photo: np.ndarray, out: np.ndarray, slack: np.ndarray, core: np.ndarray) -> float:
    """How far the change of the `slack` pixels (`loose_slack`) lags the region's mean
    change (CIE76 of the difference of the Lab changes; 0: they change as the region
    does, the region's change when they do not change at all; nan with under 50)."""
    if slack.sum() < 50 or not core.any():
        return float("nan")
    change = to_lab(out) - to_lab(photo)
    return float(np.linalg.norm(change[slack] - change[core].mean(0), axis=-1).mean())


def square_area(edit: PhotoEdit) -> np.ndarray:
    h, w = edit.original.shape[:2]
    size = edit.mask.shape[0]
    return (
        to_photo_pixels(
            np.ones((size, size), np.float32),
            edit.framing.to_model(size),
            (0, h, 0, w),
            cv2.INTER_NEAREST,
            cv2.BORDER_CONSTANT,
        )
        > 0
    )


def evaluate_photo_edits(
    engine: Engine, pairs: list, region: str = "hair", refine_steps: int = 0, progress: bool = True, save_dir=None
) -> dict:
    """Each held-out photo restyled in `region` (and the regions of its group) from the next."""
    labels = list(engine.labels.group_of(engine.labels.names.index(region)))
    originals = [load_image(p.image) for p in pairs]
    photos = [on_canvas(photo) for photo in originals]
    truths = [on_canvas(true_labels(p.label, engine, photo.shape[:2])) for p, photo in zip(pairs, originals)]
    scores = {
        m: {
            "lab_distance": [],
            "detail_correlation": [],
            "detail_correlation_luma": [],
            "changed_in_square": [],
            "changed_past_square": [],
            "surround_delta_e": [],
            "true_region_changed": [],
            "slack_lag": [],
        }
        for m in METHODS
    }
    own_psnr, own_identical, outside, region_past = [], [], [], []
    lab_before, sizes = [], []
    for i, photo in enumerate(tqdm(photos, desc="photo edits", disable=not progress)):
        edit, own, _ = start_edit(engine, photo, "own", refine_steps=refine_steps)
        own = own.filled_from(engine.mean_style)
        base = engine.synthesize(edit.mask, own)
        same = composite(edit, edit.mask, base, base, np.zeros(engine.labels.num_classes, bool))
        own_identical.append(bool(np.array_equal(same, photo)))
        own_psnr.append(psnr(same, photo))
        donor_edit, donor_style, donor_framed = start_edit(
            engine, photos[(i + 1) % len(photos)], "donor", refine_steps=refine_steps
        )
        given = [
            c for c in labels if donor_style.present[c] and (edit.mask == c).any() and (donor_edit.mask == c).sum() > 50
        ]
        if not given:
            continue
        codes = own.codes.copy()
        codes[given] = donor_style.codes[given]
        styles = StyleMatrix(codes, own.present)
        edited = engine.synthesize(edit.mask, styles)
        restyled = restyled_classes(own, [styles])
        area = restyled_area(edit, given, engine.labels.groups)
        seam = max(1.5, SEAM * edit.framing.side)
        core = shrunk(area, seam)
        if core.sum() < 100:
            continue
        square = square_area(edit)
        truth = np.isin(truths[i], given)
        surround = outline_surround(truth, seam)
        in_photo = on_canvas(np.ones(originals[i].shape[:2], np.uint8), border=0) > 0
        true_core = shrunk(truth, seam) & in_photo
        slack = loose_slack(photo, np.isin(truths[i], engine.labels.loose) & in_photo, true_core)
        donor_area = np.isin(donor_edit.mask, given)
        target = region_lab(donor_framed, donor_area)
        lab_before.append(float(np.linalg.norm(region_lab(photo, core) - target)))
        targets = own.colour_rows().copy()
        targets[given] = donor_style.colour_rows()[given]
        outputs = {
            "anchored": recolour(
                edit,
                base,
                edited,
                restyled,
                targets=targets,
                groups=engine.labels.groups,
                shaded=engine.labels.shaded,
                loose=engine.labels.loose,
            ),
            "transform": recolour(edit, base, edited, restyled, groups=engine.labels.groups),
            "difference": difference_composite(edit, base, edited, restyled),
            "reinhard": reinhard_restyle(photo, area, donor_framed, donor_area),
            "gain": gain_restyle(photo, area, donor_framed, donor_area),
        }
        for method, out in outputs.items():
            changed = (out != photo).any(-1)
            s = scores[method]
            s["lab_distance"].append(float(np.linalg.norm(region_lab(out, core) - target)))
            s["detail_correlation"].append(laplacian_correlation(photo, out, core))
            s["detail_correlation_luma"].append(laplacian_correlation(photo, out, core, "luma"))
            s["surround_delta_e"].append(delta_e(photo, out, surround))
            s["true_region_changed"].append(float(changed[true_core].mean()) if true_core.any() else np.nan)
            s["slack_lag"].append(slack_lag(photo, out, slack, core))
            s["changed_in_square"].append(float(changed[core & square].mean()) if (core & square).any() else np.nan)
            s["changed_past_square"].append(
                float(changed[core & ~square].mean()) if (core & ~square).sum() > 50 else np.nan
            )
        changed = (outputs["anchored"] != photo).any(-1)
        taken = (
            restyled_area(edit, [*given, *engine.labels.loose], engine.labels.groups)
            if set(given) & set(engine.labels.shaded)
            else area
        )
        outside.append(float(1 - changed[~grown(taken, 2 * seam + 2)].mean()))
        region_past.append(float((core & ~square).sum() / core.sum()))
        sizes.append(photo.shape[:2])
        if save_dir is not None:
            from models.data.files import save_image

            strip = np.concatenate(
                [photo, outputs["difference"], outputs["anchored"], outputs["reinhard"], outputs["gain"]], 1
            )
            save_image(f"{save_dir}/{i:03d}_{region}.jpg", strip, 90)
    finite = lambda v: [x for x in v if np.isfinite(x)]
    summary = lambda v: {"mean": float(np.mean(finite(v))), "min": float(np.min(finite(v)))} if finite(v) else None
    return {
        "images": len(photos),
        "restyled": len(outside),
        "region": region,
        "regions": [engine.labels.names[c] for c in labels],
        "refine_steps": refine_steps,
        "photo_size": [int(np.mean([s[1] for s in sizes])), int(np.mean([s[0] for s in sizes]))] if sizes else None,
        "own_style_identical": float(np.mean(own_identical)),
        # PSNR of the own-style restyle; None when every photo came back bit for bit (infinite)
        "own_style_psnr_min": None if np.isinf(np.min(own_psnr)) else float(np.min(own_psnr)),
        "outside_regions_and_seam_identical": summary(outside),
        "share_of_region_past_square": summary(region_past),
        "lab_distance_unchanged": float(np.mean(lab_before)) if lab_before else None,
        **{m: {k: summary(v) for k, v in s.items()} for m, s in scores.items()},
        # each restyled photo's figures, in order, to find the photos behind a minimum
        "per_photo": {
            m: {
                k: [round(x, 4) for x in v]
                for k, v in s.items()
                if k
                in (
                    "lab_distance",
                    "detail_correlation",
                    "detail_correlation_luma",
                    "surround_delta_e",
                    "true_region_changed",
                    "slack_lag",
                )
            }
            for m, s in scores.items()
        },
    }
