"""Painted shapes, measured against the truth: on held-out photos at 512 px, a band of a
region (the hair along the forehead, a patch of cheek, the hair over a shoulder) is
blanked and marked as painted with its own label; each method repaints it, and the
result is compared with the real pixels.

Methods: `ours` (texture by numbers from the photo's own pixels, guided by the model's
picture: models/inference/texture_fill.py), `telea` (OpenCV's inpainting, Telea 2004)
and `synthesis` (the model's picture, upsampled, as painted shapes were filled before).
With a segment bank, `ours_bank` too: the photo's own pixels of the band's class are
hidden from the fill (a class the photo lacks), which copies from the bank's photos
instead; before, such a shape took the synthesis.
Measures, on 128 px crops around each band: a perceptual distance (VGG19 features,
unit-normalised per position, LPIPS without its learned weights; 0 best) to the real
crop, and KID of the methods' crops against the real ones (x1000, 0 best). And the seam:
the grey gradient's mean magnitude along the band's outline (a 3 px ring on it) against
the real photo's there (1: the outline is as visible as in the photo, which has none;
above 1, an edge the fill drew).
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import torch
from tqdm import tqdm

from models.data.files import load_image
from models.data.tensors import image_to_tensor
from models.inference.engine import Engine
from models.inference.texture_fill import DEFAULT_FILL, UNKNOWN, FillSettings, bank_exemplars, texture_fill
from models.inference.weights import load_vgg19

SIDE = 512  # the photos are measured at this size
CROP = 128  # the crops around each band
BLANK = 128  # what a blanked pixel holds (grey): no method may read the truth there
METHODS = ("ours", "telea", "synthesis")
BANDS = ("fringe", "cheek", "shoulder")
MIN_BAND = 400  # pixels: a smaller band is not measured


def disk(shape: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def bands_of(labels: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The bands a photo offers (those with at least MIN_BAND pixels): the hair within
    8% of the side of the skin in the upper half (a fringe), a disk of cheek (the skin
    pixel farthest from any other class, radius 6% of the side), the hair in the lowest
    third (over a shoulder)."""
    h, w = labels.shape
    hair, skin = labels == names.index("hair"), labels == names.index("skin")
    reach = int(0.08 * h) | 1
    fringe = hair & (cv2.dilate(skin.astype(np.uint8), np.ones((reach, reach), np.uint8)) > 0)
    fringe[h // 2 :] = False
    bands = {"fringe": fringe, "shoulder": hair & (np.arange(h)[:, None] >= 2 * h // 3)}
    if skin.any():
        inside = cv2.distanceTransform(skin.astype(np.uint8), cv2.DIST_L2, 5)
        centre = np.unravel_index(np.argmax(inside), inside.shape)
        bands["cheek"] = disk((h, w), centre, int(0.06 * h)) & skin
    return {name: band for name, band in bands.items() if band.sum() >= MIN_BAND}


def crop_around(image: np.ndarray, band: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(band)
    cy, cx = int(ys.mean()), int(xs.mean())
    y0 = int(np.clip(cy - CROP // 2, 0, image.shape[0] - CROP))
    x0 = int(np.clip(cx - CROP // 2, 0, image.shape[1] - CROP))
    return image[y0 : y0 + CROP, x0 : x0 + CROP]


class PerceptualDistance:
    """LPIPS without its learned weights: VGG19's relu1_1 to relu4_1, each unit-normalised
    per position, the mean squared difference, summed over the layers."""

    def __init__(self):
        self.vgg = load_vgg19()

    @torch.no_grad()
    def __call__(self, a: np.ndarray, b: np.ndarray) -> float:
        fa, fb = self.vgg(image_to_tensor(a)), self.vgg(image_to_tensor(b))
        total = 0.0
        for x, y in list(zip(fa, fb))[:4]:
            x = x / (x.norm(dim=1, keepdim=True) + 1e-10)
            y = y / (y.norm(dim=1, keepdim=True) + 1e-10)
            total += float(((x - y) ** 2).sum(1).mean())
        return total


def texture_ratio(out: np.ndarray, real: np.ndarray, band: np.ndarray) -> float:
    """How much fine texture the fill has against the photo it replaced: the deviation
    of the grey high-pass (the picture less its Gaussian blur of 1.5 px) over the band's
    pixels two or more inside its outline, `out`'s over `real`'s (1: as textured; a flat
    fill far below)."""
    inner = cv2.erode(band.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if not inner.any():
        inner = band
    return band_deviation(out, inner, 1.5) / max(band_deviation(real, inner, 1.5), 1e-6)


def band_deviation(image: np.ndarray, where: np.ndarray, fine: float, coarse: float | None = None) -> float:
    """The deviation at `where` of the grey picture's band between Gaussian blurs of `fine`
    and `coarse` px (without `coarse`: the picture less its `fine` blur)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    low = cv2.GaussianBlur(grey, (0, 0), fine)
    band = grey - low if coarse is None else low - cv2.GaussianBlur(grey, (0, 0), coarse)
    return float(band[where].std())


def seam_ratio(out: np.ndarray, real: np.ndarray, band: np.ndarray) -> float:
    """The mean gradient magnitude of `out` (grey) on the ring along `band`'s outline,
    over the real photo's there."""
    ring = cv2.morphologyEx(band.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    magnitude = lambda image: np.hypot(
        *(
            cv2.Sobel(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F, *d)
            for d in ((1, 0), (0, 1))
        )
    )[ring].mean()
    return float(magnitude(out) / max(magnitude(real), 1e-6))


def guide_of(engine: Engine, photo: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The model's picture of the photo's own mask in its own style, at the photo's size:
    what the editor has for a painted shape."""
    small = cv2.resize(photo, (engine.size, engine.size), interpolation=cv2.INTER_AREA)
    small_labels = cv2.resize(labels, (engine.size, engine.size), interpolation=cv2.INTER_NEAREST)
    picture = engine.synthesize(small_labels, engine.encode(small, small_labels).filled_from(engine.mean_style))
    return cv2.resize(picture, photo.shape[1::-1], interpolation=cv2.INTER_CUBIC)


def repaint(
    method: str,
    blanked: np.ndarray,
    band: np.ndarray,
    labels: np.ndarray,
    guide: np.ndarray,
    settings: FillSettings,
    bank=None,
    side: int = SIDE,
    guide_px: float = 1.0,
) -> np.ndarray:
    if method in ("ours", "ours_bank"):
        own = labels.copy()
        own[band] = UNKNOWN  # the photo's own classes are unknown under the band
        if method == "ours":
            return texture_fill(blanked, band, labels, own, guide, settings, guide_px=guide_px).image
        own[np.isin(own, np.unique(labels[band]))] = UNKNOWN  # as if the photo had none of the class
        exemplars_for = lambda classes: bank_exemplars(bank, classes, side / bank.size)
        return texture_fill(blanked, band, labels, own, guide, settings, exemplars_for, guide_px=guide_px).image
    if method == "telea":
        return cv2.inpaint(blanked, band.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    out = blanked.copy()
    out[band] = guide[band]
    return out


def evaluate_fills(
    engine: Engine,
    pairs: list,
    settings: FillSettings = DEFAULT_FILL,
    progress: bool = True,
    save_dir=None,
    bank=None,
    side: int = SIDE,
) -> dict:
    """Every band of every photo, at `side` px, repainted by every method (`ours_bank`
    too with a `bank`); the measures per method."""
    methods = (*METHODS, "ours_bank") if bank is not None else METHODS
    distance = PerceptualDistance()
    crops = {m: [] for m in ("real", *methods)}
    scores = {m: {b: [] for b in BANDS} for m in methods}
    seams = {m: [] for m in methods}
    textures = {m: [] for m in methods}
    seconds = {m: [] for m in methods}
    for i, pair in enumerate(tqdm(pairs, desc="fills", disable=not progress)):
        photo = cv2.resize(load_image(pair.image), (side, side), interpolation=cv2.INTER_AREA)
        labels = cv2.resize(pair.read(engine.labels)[1], (side, side), interpolation=cv2.INTER_NEAREST)
        guide = guide_of(engine, photo, labels)
        for name, band in bands_of(labels, engine.labels.names).items():
            blanked = photo.copy()
            blanked[band] = BLANK
            real = crop_around(photo, band)
            crops["real"].append(real)
            row = [real]
            for method in methods:
                start = time.perf_counter()
                out = repaint(method, blanked, band, labels, guide, settings, bank, side, side / engine.size)
                seconds[method].append(time.perf_counter() - start)
                crop = crop_around(out, band)
                crops[method].append(crop)
                scores[method][name].append(distance(crop, real))
                seams[method].append(seam_ratio(out, photo, band))
                textures[method].append(texture_ratio(out, photo, band))
                row.append(crop)
            if save_dir is not None:
                from models.data.files import save_image

                save_image(f"{save_dir}/{i:03d}_{name}.png", np.concatenate(row, 1))
    result = {
        "photos": len(pairs),
        "side": side,
        "bands": {b: len(scores["ours"][b]) for b in BANDS},
        "settings": vars(settings),
    }
    for method in methods:
        everything = [d for b in BANDS for d in scores[method][b]]
        result[method] = {
            "perceptual": float(np.mean(everything)) if everything else None,
            **{f"perceptual_{b}": float(np.mean(v)) for b, v in scores[method].items() if v},
            "seam": float(np.mean(seams[method])) if seams[method] else None,
            "texture": float(np.mean(textures[method])) if textures[method] else None,
            "seconds_median": float(np.median(seconds[method])) if seconds[method] else None,
        }
    result["kid"] = kid_of_crops(crops)
    return result


def kid_of_crops(crops: dict[str, list[np.ndarray]]) -> dict | None:
    """KID x1000 (and its spread) of each method's crops against the real ones; None
    without the Inception network (requirements-eval.txt) or with too few crops."""
    from models.data.files import InputError
    from models.evaluation.metrics import InceptionFeatures, kernel_inception_distance

    if len(crops["real"]) < 4:
        return None
    try:
        features = InceptionFeatures(torch.device("cpu"))
    except InputError:
        return None
    real = features(crops["real"])
    return {m: list(kernel_inception_distance(features(crops[m]), real)) for m in crops if m != "real"}


LOCK_WIDTH = 12 / 512  # of the side: a lock brushed over the forehead
LOCK_LENGTH = 0.16  # of the side
LOCK_SLOPE = np.deg2rad(30)  # below the horizontal, away from the face's middle


def lock_of(labels: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """A lock of hair brushed from the hairline down across the forehead: (the edited
    labels, the direction it runs, (dx, dy)); None where the photo shows no forehead
    under its hair (the lock must lie mostly over skin)."""
    h, w = labels.shape
    skin, hair = labels == names.index("skin"), labels == names.index("hair")
    ys, xs = np.nonzero(skin)
    if not ys.size or not hair.any():
        return None
    cx = int(np.median(xs))
    column = np.nonzero(skin[:, cx])[0]
    start = (cx - int(0.05 * w), int(column.min()) - 2)
    direction = np.array([np.cos(LOCK_SLOPE), np.sin(LOCK_SLOPE)])
    end = (int(start[0] + direction[0] * LOCK_LENGTH * w), int(start[1] + direction[1] * LOCK_LENGTH * w))
    edited = labels.copy()
    cv2.line(edited, start, end, names.index("hair"), max(2, round(LOCK_WIDTH * w)))
    lock = edited != labels
    if lock.sum() < MIN_BAND / 4 or (labels[lock] == names.index("skin")).mean() < 0.7:
        return None
    return edited, direction


def strands_along(image: np.ndarray, where: np.ndarray, direction: np.ndarray) -> float:
    """How far the picture's strands at `where` run along `direction` (dx, dy): the mean of
    the structure tensor of its fine texture (the grey less a 2 px blur, so that the lock's
    own outline does not count; in the doubled angle, as `strand_directions`) against that
    of gradients at right angles to `direction`; 1: every strand along it, -1: every one
    across, 0: no direction (a flat fill, or grain)."""
    from models.inference.texture_fill import doubled_angle

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    fine = grey - cv2.GaussianBlur(grey, (0, 0), 2.0)
    tensor = doubled_angle(cv2.Sobel(fine, cv2.CV_32F, 1, 0), cv2.Sobel(fine, cv2.CV_32F, 0, 1), 1.5)
    normal = np.array([-direction[1], direction[0]])
    along = np.array([normal[0] ** 2 - normal[1] ** 2, 2 * normal[0] * normal[1]])
    return float((tensor[where] @ along).mean())


def lock_fills(
    engine: Engine, photo: np.ndarray, labels: np.ndarray, settings: dict[str, FillSettings]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None:
    """A lock brushed over the photo's forehead (`lock_of`) and the photo with it filled by
    each of `settings` (name: settings) and by the model's synthesis ("synthesis"), guided
    by the model's picture of the edited labels as the editor's is: (the lock's pixels,
    the direction it runs, the pictures); None where the photo has no forehead for one."""
    found = lock_of(labels, engine.labels.names)
    if found is None:
        return None
    edited, direction = found
    lock = edited != labels
    guide = guide_of(engine, photo, edited)
    guide_px = photo.shape[0] / engine.size
    outs = {
        name: texture_fill(photo, lock, edited, labels, guide, s, guide_px=guide_px).image
        for name, s in settings.items()
    }
    outs["synthesis"] = np.where(lock[..., None], guide, photo)
    return lock, direction, outs


def around(image: np.ndarray, where: np.ndarray, margin: int = 24) -> np.ndarray:
    """`image` cropped to the box of `where` grown by `margin` px."""
    ys, xs = np.nonzero(where)
    return image[max(0, ys.min() - margin) : ys.max() + margin, max(0, xs.min() - margin) : xs.max() + margin]


def evaluate_locks(
    engine: Engine,
    pairs: list,
    settings: dict[str, FillSettings],
    progress: bool = True,
    save_dir=None,
    side: int = SIDE,
) -> dict:
    """A lock of hair brushed over each photo's forehead, filled by each of `settings` and
    by the model's synthesis (`lock_fills`): how far its strands run along it
    (`strands_along`), and its fine (below 1.5 px) and middle (1.5 to 6 px) texture
    against that of the photo's own hair (1: as textured as the hair; a flat lock far
    below). There is no truth to compare with: the photo had skin there."""
    hair_id = engine.labels.names.index("hair")
    rows = {name: {"along": [], "fine": [], "middle": []} for name in (*settings, "synthesis")}
    used = 0
    for i, pair in enumerate(tqdm(pairs, desc="locks", disable=not progress)):
        photo = cv2.resize(load_image(pair.image), (side, side), interpolation=cv2.INTER_AREA)
        labels = cv2.resize(pair.read(engine.labels)[1], (side, side), interpolation=cv2.INTER_NEAREST)
        filled = lock_fills(engine, photo, labels, settings)
        if filled is None:
            continue
        lock, direction, outs = filled
        used += 1
        # its middle: 3 px or more from its outline, where the outline's own gradient is not seen
        inner = cv2.distanceTransform(lock.astype(np.uint8), cv2.DIST_L2, 5) >= 3
        core = cv2.erode((labels == hair_id).astype(np.uint8), np.ones((13, 13), np.uint8)) > 0
        bands = {"fine": (1.5, None), "middle": (1.5, 6.0)}
        own = {key: max(band_deviation(photo, core, *blurs), 1e-6) for key, blurs in bands.items()}
        for name, out in outs.items():
            rows[name]["along"].append(strands_along(out, inner, direction))
            for key, blurs in bands.items():
                rows[name][key].append(band_deviation(out, inner, *blurs) / own[key])
        if save_dir is not None:
            from models.data.files import save_image

            strip = [around(photo, lock), *(around(o, lock) for o in outs.values())]
            save_image(f"{save_dir}/{i:03d}_lock.png", np.concatenate(strip, 1))
    summary = {name: {k: float(np.mean(v)) if v else None for k, v in row.items()} for name, row in rows.items()}
    return {"photos": len(pairs), "locks": used, "side": side, **summary}
