"""Painted shapes filled with the photo's own texture: texture by numbers.

A shape painted onto a photo (a fringe, a beard, skin over glasses) gets the texture of
the photo's own pixels of the same class (its own hair for a fringe), at the photo's
resolution, in the manner of image analogies' "texture by numbers" (Hertzmann et al.,
SIGGRAPH 2001): every painted pixel's patch is matched, by PatchMatch (Barnes et al.,
SIGGRAPH 2009), to a patch of the photo whose pixel has the class the shape was painted
with, then the matched patches vote for the colour. The distance between patches sees
the picture being made (the texture, and the photo's own pixels around the shape, so that
the fill continues what borders it) and a low-frequency guide: the model's picture of
the edit (its shading and the shape of the fringe) with each class's colours made the
photo's, blurred to the scale the patches do not see. Coarse to fine: the matches found
on a half-size copy start the next size's search.

A class the photo has too little of takes its texture from exemplars (the photos of a
segment bank that hold most of it, scaled to the photo's: `bank_exemplars`), laid beside
the photo as further sources; with none, the shape keeps the model's picture.

Everything is vectorised over the painted pixels (numpy: a patch distance is one gather
per patch offset), and seeded: the same edit fills the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from models.inference.colour_model import clamped_into, gaussian_of, squared_distance, within
from models.settings import (
    FILL_COHERENCE,
    FILL_GUIDE_WEIGHT,
    FILL_ITERATIONS,
    FILL_ORIENTATION_WEIGHT,
    FILL_PATCH,
    FILL_SEAM_BLEND,
    FILL_VOTE_SIGMA,
)

if TYPE_CHECKING:
    from models.data.bank import SegmentBank

UNKNOWN = 255  # a source label: the photo's class is not known here (outside every parse)
MEMBRANE_SIDE = 64  # the smooth colour correction across a shape is worked out this large
MIN_BORDER = 20  # pixels of a class along a shape's border that say how its colours meet it
CORE_DEPTH = 6  # pixels: a class's colours are told from its pixels this far inside its outline
MIN_CORE = 50  # pixels of a class's core (CORE_DEPTH inside) enough to tell its colours
GUIDE_DEPTH = 8.0  # pixels of the model's picture: a painted shape thinner than twice this is drawn blended
EXEMPLAR_SIDE = 384  # an exemplar is cropped to at most this square around its class's pixels
STRAND_SIGMA = 2.0  # px: the structure tensor that tells the strands' direction is averaged over this
# a shape painted over another class also copies from its class's pixels turned by these
# angles (degrees), so that a lock brushed across the strands can take them along its length
TURNS = (45.0, 90.0, 135.0)
TURN_WINDOW, TURN_WINDOW_MIN, TURN_WINDOW_MAX = 12.0, 96, 512  # the turned window's side (`turned_copies`)
# the fill's structure is found at a size where a pixel of the guide (the model's picture)
# is this many pixels, the size its settings were chosen at (512 px photos, a 256 px model);
# each finer size only adds its octave of the sources' texture (`Level.add_octave`)
STRUCTURE_PX = 2

# a picture (h, w, 3) and its labels, at the photo's scale (and, when known, its strands'
# directions, `strand_directions`)
Exemplar = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class FillSettings:
    """How a fill searches; the defaults were chosen by `lab eval-fill` (docs/RESULTS.md)."""

    patch: int = FILL_PATCH  # patch side, pixels at every level of the pyramid
    guide_weight: float = FILL_GUIDE_WEIGHT  # the guide's weight in the patch distance, against the texture's 1
    iterations: int = FILL_ITERATIONS  # PatchMatch sweeps (propagation + random search) per level
    coarsest: int = 24  # the pyramid stops when the painted area's box is about this small
    # sources are looked for within this many box sides around the shape (None: anywhere)
    search_margin: float | None = 1.0
    vote_at_finest: bool = True  # the finest level's colours: the mean of the covering patches, or the own match
    # a match that continues a neighbour's (a run of the source copied) counts as 1 + this
    # times closer, as image analogies' coherence (kappa): runs of strands, not grain
    coherence: float = FILL_COHERENCE
    # px: the vote weighs what each covering patch says by a Gaussian of this width round
    # its centre (0: all alike, the mean), so that fine strands average away less
    vote_sigma: float = FILL_VOTE_SIGMA
    # px (at the structure's size, `STRUCTURE_PX`) over which the fill takes the photo's
    # values where the shape meets its own class (`Level.seam_blended`); 0: not at all
    seam_blend: float = FILL_SEAM_BLEND
    # the weight of the strands' direction in the patch distance (`strand_directions`;
    # a direction is a unit vector in the structure tensor's doubled angle, so a patch of
    # strands across the wanted way costs up to 4 times this per pixel); 0: not looked at
    orientation_weight: float = FILL_ORIENTATION_WEIGHT
    seed: int = 0

    @property
    def enough(self) -> int:
        """Pixels of a class a fill needs to copy from (four patches' worth)."""
        return self.patch**2 * 4


DEFAULT_FILL = FillSettings()


@dataclass
class FillResult:
    """The picture with the shapes filled; the classes painted that neither the photo nor
    an exemplar has enough pixels of to copy from (their pixels keep the guide's
    picture), and those an exemplar gave."""

    image: np.ndarray
    lacking: list[int]
    from_exemplars: list[int]


def texture_fill(
    photo: np.ndarray,
    fill: np.ndarray,
    labels: np.ndarray,
    source_labels: np.ndarray,
    guide: np.ndarray | None = None,
    settings: FillSettings = DEFAULT_FILL,
    exemplars_for: Callable[[list[int]], Sequence[Exemplar]] | None = None,
    interrupt: Callable[[], bool] | None = None,
    unsure: int = 0,
    guide_px: float = 1.0,
) -> FillResult:
    """`photo` (H, W, 3) uint8 with its `fill` pixels (H, W) bool repainted with texture of
    the photo's pixels whose `source_labels` (H, W, the photo's own classes, UNKNOWN where
    not known) are the class `labels` (H, W, the edit's classes) gives the filled pixel.
    `guide` (H, W, 3) uint8, the model's picture of the edit, says the low frequencies;
    without one, each class's mean colour does. A class the photo lacks is copied from
    the exemplars `exemplars_for` gives for the classes lacking. Pixels beyond `fill`
    come back unchanged. `interrupt`, asked between PatchMatch's sweeps, gives the fill up
    (`Interrupted`) when it says the picture is no longer wanted. `unsure`: how many pixels
    the photo's classes may be off at their borders (a parse at the model's size on a
    larger photo); pixels that near another class are neither copied from nor say the
    colour a shape meets. `guide_px`: the photo's pixels per pixel of the guide's own
    resolution (the model's size), which says the scale of what the guide can tell."""
    out = photo.copy()
    if not fill.any():
        return FillResult(out, [], [])
    whole = (0, photo.shape[0], 0, photo.shape[1])
    box = whole if settings.search_margin is None else search_box(fill, settings.search_margin, photo.shape[:2])
    y0, y1, x0, x1 = box
    crop = lambda a: a[y0:y1, x0:x1]
    sure = sure_labels(crop(source_labels), unsure)
    region, target, own = crop(fill), crop(labels), sure.copy()
    r = settings.patch // 2
    # a source must not read the pixels under the shape: they are what is being replaced
    own[cv2.dilate(region.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0] = UNKNOWN
    classes = [int(c) for c in np.unique(target[region])]
    enough = settings.enough
    lacking = [c for c in classes if (own == c).sum() < enough]
    exemplars = exemplars_for(lacking) if exemplars_for is not None and lacking else ()
    given = [c for c in lacking if any((labels_of == c).sum() >= enough for _, labels_of in exemplars)]
    lacking = [c for c in lacking if c not in given]
    image = crop(photo).astype(np.float32) / 255
    guide_image = crop(guide).astype(np.float32) / 255 if guide is not None else None
    painted_over = region & (sure != UNKNOWN) & (sure != target)
    low, met_here = guide_in_photo_colours(image, region, target, sure, guide_image, unsure, painted_over, guide_px)
    # each exemplar offers its pixels of the classes it was asked for
    offered = [(picture, only(labels_of, given)) for picture, labels_of in exemplars] if given else []
    pictures = (image, region, target, own, low)
    # a shape painted over another class (a lock across the forehead) is asked for strands
    # along it, and offered its class's pixels turned; within its own class (a band of the
    # hair repainted) the directions changed nothing measured (docs/RESULTS.md)
    over_classes = [int(c) for c in np.unique(target[painted_over]) if c not in lacking]
    if settings.orientation_weight > 0 and over_classes:
        wanted = wanted_directions(image, region, target, own, painted_over, met_here)
        offered += turned_copies(image, own, over_classes, painted_over, wanted)
        pictures = (*pictures, wanted)
    canvas, painted, painted_as, sources, canvas_low, *directions = beside_exemplars(pictures, offered, settings.patch)

    def on_canvas(a: np.ndarray, fill) -> np.ndarray:  # the exemplars beside it hold `fill`
        out = np.full(painted_as.shape, fill, a.dtype)
        out[: a.shape[0], : a.shape[1]] = a
        return out

    filled = synthesise(
        canvas,
        painted & ~np.isin(painted_as, lacking),
        painted_as,
        sources,
        canvas_low,
        settings,
        interrupt,
        guide_px,
        on_canvas(met_here, UNKNOWN),
        on_canvas(painted_over, False),
        directions[0] if directions else None,
    )
    filled = filled[: image.shape[0], : image.shape[1]]
    # what has no source keeps the guide's picture (the model's synthesis)
    no_source = region & np.isin(target, lacking)
    if guide_image is not None:
        filled[no_source] = guide_image[no_source]
    out[y0:y1, x0:x1][region] = np.clip(np.rint(filled[region] * 255), 0, 255).astype(np.uint8)
    return FillResult(out, lacking, given)


def sure_labels(labels: np.ndarray, unsure: int) -> np.ndarray:
    """`labels` with the pixels within `unsure` of another class made UNKNOWN."""
    if unsure <= 0:
        return labels
    window = np.ones((2 * unsure + 1, 2 * unsure + 1), np.uint8)
    mixed = cv2.dilate(labels, window) != cv2.erode(labels, window)
    return np.where(mixed, UNKNOWN, labels).astype(labels.dtype)


def beside_exemplars(
    pictures: tuple[np.ndarray, ...], exemplars: Sequence[Exemplar], patch: int
) -> tuple[np.ndarray, ...]:
    """The fill's pictures (image, region, target, own, low[, directions]) with the
    exemplars laid to the right of them, in columns no taller than the canvas and a patch
    apart: their labelled pixels (UNKNOWN where they offer none) become sources, each
    one's own picture their low frequencies and its own strands their directions; nothing
    of them is painted. Without exemplars, the pictures as they are. (One exemplar per
    column, each padded to the crop's height, made a fill of a 12-megapixel photo with
    three small turned windows twice as slow.)"""
    if not exemplars:
        return pictures
    image, target, own = pictures[0], pictures[2], pictures[3]
    fills = (0.0, False, 0, UNKNOWN, 0.0, 0.0)[: len(pictures)]  # what the gaps and padding hold
    height = max([image.shape[0], *(exemplar[1].shape[0] for exemplar in exemplars)])
    blocks = []
    for picture, labels, *known in exemplars:
        picture = picture.astype(np.float32) / 255 if picture.dtype == np.uint8 else picture
        block = [picture, np.zeros(labels.shape, bool), np.zeros(labels.shape, target.dtype), labels.astype(own.dtype)]
        block.append(picture)
        if len(pictures) > 5:
            block.append(known[0] if known else strand_directions(picture))
        blocks.append(block)
    columns, column, used = [], [], 0
    for block in blocks:  # greedily, top to bottom, each block followed by a gap of a patch
        if column and used + block[0].shape[0] > height:
            columns.append(column)
            column, used = [], 0
        column.append(block)
        used += block[0].shape[0] + patch
    columns.append(column)
    out = [
        np.concatenate([a, np.full((height - a.shape[0], *a.shape[1:]), v, a.dtype)], 0)
        for a, v in zip(pictures, fills)
    ]
    for column in columns:
        width = max(block[0].shape[1] for block in column) + patch  # a gap of a patch on its left
        for i, value in enumerate(fills):
            stacked = [padded_to(block[i], block[i].shape[0] + patch, width, value) for block in column]
            out[i] = np.concatenate([out[i], padded_to(np.concatenate(stacked, 0)[:height], height, width, value)], 1)
    return tuple(out)


def padded_to(a: np.ndarray, height: int, width: int, value) -> np.ndarray:
    """`a` at the top right of a (height, width) array of `value`."""
    out = np.full((height, width, *a.shape[2:]), value, a.dtype)
    out[: a.shape[0], width - a.shape[1] :] = a
    return out


def only(labels: np.ndarray, classes: list[int]) -> np.ndarray:
    """`labels` with every class but `classes` UNKNOWN."""
    return np.where(np.isin(labels, classes), labels, UNKNOWN).astype(labels.dtype)


def strand_directions(image: np.ndarray) -> np.ndarray:
    """(h, w, 2) float32: the direction of the picture's grey gradients, as the structure
    tensor (averaged over STRAND_SIGMA px) in its doubled angle, (J11 - J22, 2 J12) / (J11
    + J22): a unit vector where every gradient there runs one way (strands, at right
    angles to them), near 0 where they run every way (skin's pores, a flat patch)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    return doubled_angle(gx, gy, STRAND_SIGMA)


def doubled_angle(gx: np.ndarray, gy: np.ndarray, sigma: float) -> np.ndarray:
    """(h, w, 2): the structure tensor of gradients (`gx`, `gy`), averaged over `sigma` px,
    in its doubled angle (see `strand_directions`)."""
    smooth = lambda a: cv2.GaussianBlur(a, (0, 0), sigma)
    j11, j22, j12 = smooth(gx * gx), smooth(gy * gy), smooth(gx * gy)
    norm = np.maximum(j11 + j22, 1e-8)
    return np.stack([(j11 - j22) / norm, 2 * j12 / norm], -1).astype(np.float32)


def wanted_directions(
    image: np.ndarray, region: np.ndarray, target: np.ndarray, own: np.ndarray, over: np.ndarray, met: np.ndarray
) -> np.ndarray:
    """(h, w, 2): the strands' directions a fill is asked for (`strand_directions`): the
    photo's own beyond the shape; inside it, those round it carried in (a band of hair
    continues the hair's flow); where it is painted over another class, along the shape:
    away from where it meets its class (a lock hangs from its root, a fringe falls from
    the hairline), or along its length where it meets none. A lock brushed across the
    forehead took the hair's strands as they lay, across it, in stripes (docs/RESULTS.md).
    Their strength is that of the class's own strands."""
    out = strand_directions(image)
    if not region.any():
        return out
    beside = cv2.dilate(region.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    out[region] = membrane(out, beside & ~region, region)[region]
    for c in np.unique(target[over]):
        shape = region & (target == c)
        strength = np.median(np.hypot(*np.moveaxis(out[own == c], -1, 0))) if (own == c).any() else 0.0
        root = met == c
        if root.any():  # along the distance from the root: the strands' gradients at right angles to it
            from_root = cv2.distanceTransform((~root).astype(np.uint8), cv2.DIST_L2, 5)
            dy, dx = np.gradient(from_root)
            gx, gy = -dy, dx
        else:  # at right angles to the outline: the distance from it changes across the shape
            inside = cv2.distanceTransform(shape.astype(np.uint8), cv2.DIST_L2, 5)
            gy, gx = np.gradient(inside)
        wanted = doubled_angle(gx.astype(np.float32), gy.astype(np.float32), STRAND_SIGMA)
        unit = wanted / np.maximum(np.hypot(wanted[..., 0], wanted[..., 1]), 1e-6)[..., None]
        here = shape & over
        out[here] = strength * unit[here]
    return out


def turned_copies(
    image: np.ndarray, own: np.ndarray, classes: list[int], over: np.ndarray, wanted: np.ndarray
) -> list[Exemplar]:
    """Further sources with their strands running other ways: a window of the photo's
    pixels of `classes` nearest the pixels painted `over` another class, turned by those of
    TURNS that bring the strands nearest the way they are `wanted` (`wanted_directions`)
    at a tenth or more of those pixels (a straight lock takes one turn, or none), its
    pixels of `classes` labelled (the rest, and what the turn brings in, UNKNOWN), with the
    strands' directions that chose it. The
    window is TURN_WINDOW times the painted part's width across, from TURN_WINDOW_MIN to
    TURN_WINDOW_MAX px: the whole crop three times over made a fill of a 12-megapixel
    photo four times slower."""
    labels = only(own, classes)
    mine = labels != UNKNOWN
    if not mine.any() or not over.any():
        return []
    width = 2 * float(cv2.distanceTransform(over.astype(np.uint8), cv2.DIST_L2, 3).max())
    side = int(np.clip(TURN_WINDOW * width, TURN_WINDOW_MIN, TURN_WINDOW_MAX))
    away = cv2.distanceTransform((~over).astype(np.uint8), cv2.DIST_L2, 3)
    cy, cx = np.unravel_index(np.argmin(np.where(mine, away, np.inf)), away.shape)
    h, w = labels.shape
    y0, x0 = int(np.clip(cy - side // 2, 0, max(0, h - side))), int(np.clip(cx - side // 2, 0, max(0, w - side)))
    window = (slice(y0, y0 + side), slice(x0, x0 + side))
    picture, labels = np.ascontiguousarray(image[window]), np.ascontiguousarray(labels[window])
    wh, ww = labels.shape
    asked = wanted[over] / np.maximum(np.hypot(*np.moveaxis(wanted[over], -1, 0)), 1e-6)[:, None]
    candidates = [(picture, labels, strand_directions(picture))]
    for angle in TURNS:
        turn = cv2.getRotationMatrix2D(((ww - 1) / 2, (wh - 1) / 2), angle, 1.0)
        turned = cv2.warpAffine(picture, turn, (ww, wh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        turned_labels = cv2.warpAffine(
            labels, turn, (ww, wh), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=UNKNOWN
        )
        candidates.append((turned, turned_labels, strand_directions(turned)))
    mean_way = lambda labelled, ways: ways[labelled].mean(0) if labelled.any() else np.zeros(2, np.float32)
    ways = [mean_way(turned_labels != UNKNOWN, directions) for _, turned_labels, directions in candidates]
    nearest = np.argmax(asked @ np.stack(ways).T, axis=1)
    share = np.bincount(nearest, minlength=len(candidates)) / len(nearest)
    return [candidates[k] for k in range(1, len(candidates)) if share[k] >= 0.1]


def bank_exemplars(bank: SegmentBank, classes: list[int], scale: float) -> list[Exemplar]:
    """For each class, the bank photo holding most of it, scaled by `scale` (the photo's
    pixels per bank pixel) and cropped to at most EXEMPLAR_SIDE around that class; classes
    the bank lacks give none."""
    arrays, out = bank.arrays, []
    for c in classes:
        mine = arrays["seg_label"] == c
        if not mine.any():
            continue
        areas = np.bincount(arrays["seg_photo"][mine], weights=arrays["seg_area"][mine])
        picture, labels = bank.photo(int(areas.argmax()))
        size = (max(1, round(labels.shape[1] * scale)), max(1, round(labels.shape[0] * scale)))
        picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        labels = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
        ys, xs = np.nonzero(labels == c)
        if not ys.size:
            continue
        y0 = int(np.clip(ys.mean() - EXEMPLAR_SIDE // 2, 0, max(0, labels.shape[0] - EXEMPLAR_SIDE)))
        x0 = int(np.clip(xs.mean() - EXEMPLAR_SIDE // 2, 0, max(0, labels.shape[1] - EXEMPLAR_SIDE)))
        window = (slice(y0, y0 + EXEMPLAR_SIDE), slice(x0, x0 + EXEMPLAR_SIDE))
        out.append((np.ascontiguousarray(picture[window]), np.ascontiguousarray(labels[window])))
    return out


def search_box(fill: np.ndarray, margin: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The painted area's box grown by `margin` of its larger side each way: where sources
    are looked for (the texture a shape continues is near it), within the photo."""
    ys, xs = np.nonzero(fill)
    return grown_box((ys.min(), ys.max() + 1, xs.min(), xs.max() + 1), margin, shape)


def grown_box(box: tuple[int, int, int, int], margin: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) grown by `margin` of its larger side (and 8 px) each way, within `shape`."""
    y0, y1, x0, x1 = box
    grow = int(np.ceil(margin * max(y1 - y0, x1 - x0))) + 8
    return max(0, y0 - grow), min(shape[0], y1 + grow), max(0, x0 - grow), min(shape[1], x1 + grow)


def guide_in_photo_colours(
    image: np.ndarray,
    region: np.ndarray,
    target: np.ndarray,
    own: np.ndarray,
    guide: np.ndarray | None,
    unsure: int = 0,
    over: np.ndarray | None = None,
    guide_px: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(low, met): the low-frequency picture the fill follows, and the border pixels that
    said its colour (each one's class, UNKNOWN elsewhere: where `Level.seam_blended`
    blends the fill into the photo). Low: inside the shape, the guide (each
    class's mean colour of the photo without one) moved, class by class, to meet the
    photo's pixels of the same class where the shape borders them: the difference
    between photo and guide along that border, carried smoothly across the shape (a
    membrane, as in Poisson blending; a fringe meets the hair it hangs from, not the
    forehead it covers). A class that borders nothing of its own moves by the difference
    of its means. The model's colours are not the photo's, and the light on a cheek is
    not the mean of the skin's; elsewhere the photo itself. The border reaches `unsure`
    pixels further, past the pixels whose class is not sure (see `texture_fill`). Where
    the shape is painted `over` another class, the guide is trusted only where the shape
    is wide enough for the model to draw it apart from what it covers (`guide_share`)."""
    low = image.copy()
    met = np.full(region.shape, UNKNOWN, own.dtype)
    reach = 2 + unsure
    trusted = guide is not None and over is not None and over.any()
    share = guide_share(region, guide_px) if trusted else None
    for c in np.unique(target[region]):
        inside, source = region & (target == c), own == c
        core = class_core(source)
        cored = core.sum() >= MIN_CORE
        colours = image[core if cored else source]
        if guide is not None:
            drawn = guide
            if cored:
                drawn = guide.copy()
                drawn[inside] = clamped_into(guide[inside], colours, ridge=1e-4)
        else:  # the class's mean colour everywhere: the border then says how the light varies
            drawn = np.broadcast_to(image[source].mean(0) if source.any() else image[~region].mean(0), image.shape)
        border = meeting(inside, source, reach)
        border &= of_its_colour(image, border, colours)
        met[border] = c
        if border.sum() >= MIN_BORDER:
            # the border lies within `reach` of the shape: its box, grown by that, is all the membrane sees
            ys, xs = np.nonzero(inside)
            h, w = inside.shape
            g = reach + 1
            y0, y1, x0, x1 = (
                max(0, ys.min() - g),
                min(h, ys.max() + g + 1),
                max(0, xs.min() - g),
                min(w, xs.max() + g + 1),
            )
            box = (slice(y0, y1), slice(x0, x1))
            shift = membrane(image[box] - drawn[box], border[box], inside[box])[inside[box]]
        elif source.any():
            shift = image[source].mean(0) - drawn[inside].mean(0)
        else:
            shift = 0.0
        low[inside] = drawn[inside] + shift
        thin = inside & over if trusted and len(colours) else None
        if thin is not None and thin.any():
            # after the shift: that corrects the guide's colours, and the class's own need none
            t = share[thin][:, None]
            low[thin] = t * low[thin] + (1 - t) * colours.mean(0)
    return np.clip(low, 0, 1), met


def guide_share(region: np.ndarray, guide_px: float) -> np.ndarray:
    """(h, w) in [0, 1]: how far the guide is trusted at the pixels of a shape painted over
    another class (the rest going to the class's mean colour, `guide_in_photo_colours`):
    the square of the shape's half-width there (the deepest of its pixels within
    GUIDE_DEPTH pixels of the model's picture each way, `guide_px` photo pixels each) over
    GUIDE_DEPTH. The model draws a shape thinner than that blended with what it covers: a
    lock of hair brushed over the forehead was drawn half skin, and held within the hair's
    colours (its light strands among them) it came out pale brown, twice the hair's light.
    A wide shape keeps the guide's light up to its outline."""
    reach = max(1, round(GUIDE_DEPTH * max(guide_px, 1.0)))
    depth = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3)
    # a square window: OpenCV dilates by a rectangle in time independent of its size
    square = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    return np.clip(cv2.dilate(depth, square) / reach, 0, 1) ** 2


def of_its_colour(image: np.ndarray, where: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """(h, w) bool: the pixels `where` whose colour lies within the 99th percentile of the
    Gaussian of the class's `colours` (N, 3: its pixels away from its outline, `class_core`;
    Mahalanobis, chi-square with 3 degrees of freedom). A border pixel says what colour a
    shape meets only if it looks like its class: at a soft hairline the parse calls hair
    pixels that are mostly skin, and a fringe that touched them took the skin's colour
    (docs/RESULTS.md)."""
    if len(colours) < 10:
        return where
    out = np.zeros_like(where)
    out[where] = within(image[where], colours, ridge=1e-4)
    return out


def stale_outline(
    image: np.ndarray, region: np.ndarray, labels: np.ndarray, own: np.ndarray, unsure: int = 0
) -> np.ndarray:
    """(h, w) bool: the photo's own pixels of a painted shape's class within `unsure` + 2
    px of where the shape meets them that are not of the class's colour (`of_its_colour`)
    and look more like a class the shape was painted over (nearer its colours' Gaussian):
    a soft hairline's skin-coloured pixels the parse calls hair. A fringe painted down
    from the hairline left them as a light line inside the new hair; they are filled with
    it. A hairline's shadow, darker than the hair and unlike the skin, is the hair's own
    and stays."""
    out = np.zeros(region.shape, bool)
    image = image.astype(np.float32) / 255 if image.dtype == np.uint8 else image
    for c in np.unique(labels[region]):
        mine = (own == c) & (labels == c) & ~region
        core = class_core(mine)
        if core.sum() < MIN_CORE:
            continue
        beside = meeting(region & (labels == c), mine, 2 + unsure)
        unlike = beside & ~of_its_colour(image, beside, image[core])
        if not unlike.any():
            continue
        colours = image[unlike]
        to_own = squared_distance(colours, *gaussian_of(image[core], 1e-4))
        to_covered = np.full(len(colours), np.inf)
        for k in np.unique(own[region & (labels == c)]):
            covered_core = class_core(own == k) if k not in (c, UNKNOWN) else None
            if covered_core is not None and covered_core.sum() >= MIN_CORE:
                to_covered = np.minimum(to_covered, squared_distance(colours, *gaussian_of(image[covered_core], 1e-4)))
        stale = np.zeros_like(out)
        stale[unlike] = to_covered < to_own
        # a line, not dots: its pixels of the class's colour between stale ones go with them
        # (some of a soft hairline's pixels pass for hair, and left between refilled ones
        # they read as dots along a lock's root)
        out |= beside & (cv2.morphologyEx(stale.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) > 0)
    return out


def meeting(shape: np.ndarray, source: np.ndarray, reach: int) -> np.ndarray:
    """(h, w) bool: the class's pixels `source` within `reach` px of the painted `shape`:
    where the shape meets its class."""
    near = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    return source & (cv2.dilate(shape.astype(np.uint8), near) > 0)


def class_core(source: np.ndarray) -> np.ndarray:
    """A class's pixels CORE_DEPTH or more inside its outline: where its colours are told
    apart from its neighbours' (a soft hairline's pixels the parse calls hair are mostly skin)."""
    return cv2.erode(source.astype(np.uint8), np.ones((2 * CORE_DEPTH + 1,) * 2, np.uint8)) > 0


def membrane(values: np.ndarray, border: np.ndarray, region: np.ndarray) -> np.ndarray:
    """`values` on the `border` pixels, carried smoothly into `region`: normalised
    convolution of the border's values, coarse to fine (each scale fills what the
    finer one could not reach), close to the harmonic interpolation Poisson blending
    solves for. Worked out on a copy at most MEMBRANE_SIDE px across the region (the
    field is smooth), then brought back to full size."""
    ys, xs = np.nonzero(region)
    side = max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
    factor = max(1, side // MEMBRANE_SIDE)
    full = region.shape[::-1]
    small = (max(1, full[0] // factor), max(1, full[1] // factor))
    weight = cv2.resize(border.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    v_small = cv2.resize(values * border[..., None], small, interpolation=cv2.INTER_AREA)
    out = np.zeros((*weight.shape, values.shape[2]), np.float32)
    filled = np.zeros(weight.shape, np.float32)
    sigma = side / factor / 2
    while sigma >= 0.5:
        # zeros beyond the box: no border value is mirrored in (the box is cut around the shape)
        w = cv2.GaussianBlur(weight, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
        v = cv2.GaussianBlur(v_small, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT) / np.maximum(w, 1e-8)[..., None]
        share = np.clip(w / (w.max() + 1e-8) * 4, 0, 1) * (1 - filled)
        out += share[..., None] * v
        filled += share
        sigma /= 2
    out /= np.maximum(filled, 1e-8)[..., None]
    return cv2.resize(out, full, interpolation=cv2.INTER_LINEAR) if factor > 1 else out


def carried_inwards(values: np.ndarray, seeds: np.ndarray, region: np.ndarray, width: float) -> np.ndarray:
    """(n, 3): `values` (h, w, 3), known at the `seeds` (h, w) bool, carried to the pixels of
    `region`, close to the harmonic interpolation Poisson blending solves for: at a pixel r
    px from the nearest seed, the seeds' normalised convolution over max(`width`, r) px.
    Differences that vary from pixel to pixel along the seeds (texture that does not line
    up) die out within a pixel or two, those that vary slowly reach far: one Gaussian's
    reach for all carried the pixel-level ones inwards as blotches (a rougher ring inside
    the outline, docs/RESULTS.md). Worked out on a pyramid: each level halves the size."""
    distance = cv2.distanceTransform((~seeds).astype(np.uint8), cv2.DIST_L2, 3)[region]
    size = seeds.shape[::-1]
    numerator, denominator = values * seeds[..., None], seeds.astype(np.float32)
    blur = lambda a: cv2.GaussianBlur(a, (0, 0), width, borderType=cv2.BORDER_CONSTANT)
    up = lambda a: cv2.resize(a, size, interpolation=cv2.INTER_LINEAR) if a.shape[1::-1] != size else a
    levels, reach = [], width
    while True:
        known = blur(denominator)
        spread = blur(numerator) / np.maximum(known, 1e-8)[..., None]
        levels.append(up(spread)[region])
        if reach >= distance.max() or min(known.shape) < 8:
            break
        half = (max(1, known.shape[1] // 2), max(1, known.shape[0] // 2))
        numerator = cv2.resize(numerator, half, interpolation=cv2.INTER_AREA)
        denominator = cv2.resize(denominator, half, interpolation=cv2.INTER_AREA)
        reach *= 2
    # each pixel between the two levels whose reach brackets its distance, in octaves
    t = np.clip(np.log2(np.maximum(distance, width) / width), 0, len(levels) - 1)
    below = np.floor(t).astype(int)
    above = np.minimum(below + 1, len(levels) - 1)
    stack = np.stack(levels)
    pick = np.arange(len(t))
    return stack[below, pick] * (1 - (t - below))[:, None] + stack[above, pick] * (t - below)[:, None]


def pyramid_levels(region: np.ndarray, coarsest: int) -> int:
    ys, xs = np.nonzero(region)
    side = max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
    return max(0, int(np.floor(np.log2(max(1, side) / coarsest))))


class Interrupted(Exception):
    """A fill given up because its picture is no longer wanted (a newer frame waits)."""


def synthesise(
    image: np.ndarray,
    region: np.ndarray,
    target: np.ndarray,
    own: np.ndarray,
    low: np.ndarray,
    settings: FillSettings,
    interrupt: Callable[[], bool] | None = None,
    guide_px: float = 1.0,
    met: np.ndarray | None = None,
    over: np.ndarray | None = None,
    directions: np.ndarray | None = None,
) -> np.ndarray:
    """The fill, coarse to fine: at each size PatchMatch finds each painted pixel's source
    patch, then the patches vote; the matches start the next size's search. Sizes finer
    than where a guide pixel is STRUCTURE_PX pixels keep the coarser size's fill and add
    their octave of the matched sources' texture: on a 1024 px photo of a 256 px model the
    guide, smooth below 4 px, had set the strands' scale, and fills came out flat. With
    `met` (the photo's sure classes beside the shape, UNKNOWN elsewhere), the full-size fill
    is blended into them where they are its class (`Level.seam_blended`). `over`: the
    painted pixels whose class the photo had otherwise (`Level.low_frequencies`).
    `directions` (h, w, 2): the strands' directions of the sources and those the painted
    pixels are asked for (`wanted_directions`), compared as part of each patch at the
    sizes that find the structure."""
    rng = np.random.default_rng(settings.seed)
    result = image.copy()
    if not region.any():
        return result
    levels = pyramid_levels(region, settings.coarsest)
    structure = min(levels, max(0, int(np.floor(np.log2(max(guide_px, 1.0) / STRUCTURE_PX)))))
    scales = [2**k for k in range(levels, -1, -1)]
    previous, estimate = None, None
    for scale in scales:
        level = Level(
            image,
            region,
            target,
            own,
            low,
            scale,
            settings,
            finest=scale <= 2**structure,
            over=over,
            # the strands' way is settled with the structure: a finer size that adds its
            # octave keeps the matches it is given (and on a 12-megapixel photo, the
            # directions there cost more than the whole fill had)
            directions=directions if scale >= 2**structure else None,
        )
        if not level.valid:
            continue
        if previous is not None and scale < 2**structure:
            level.add_octave(previous, estimate)
        start = level.initial_estimate() if estimate is None else level.upsampled(estimate)
        nnf = level.random_matches(rng) if previous is None else level.upsampled_matches(previous, rng)
        estimate = level.search_and_vote(start, nnf, rng, interrupt)
        previous = level
    if estimate is not None and met is not None and previous.scale == 1 and settings.seam_blend > 0:
        width = settings.seam_blend * max(1.0, guide_px / STRUCTURE_PX)
        estimate = previous.seam_blended(estimate, met, width)
    if estimate is not None:
        result[region] = estimate[region]
    return result


class Level:
    """One size of the pyramid: its pictures padded by half a patch, the painted pixels
    (targets) and, per class, the pixels that may be copied from (sources)."""

    def __init__(
        self,
        image,
        region,
        target,
        own,
        low,
        scale: int,
        settings: FillSettings,
        finest: bool = False,
        over=None,
        directions=None,
    ):
        self.scale, self.settings = scale, settings
        h, w = region.shape
        self.size = (max(1, round(w / scale)), max(1, round(h / scale)))
        down = lambda a, interp: cv2.resize(a, self.size, interpolation=interp) if scale > 1 else a
        self.image = down(image, cv2.INTER_AREA)
        # painted area and labels sampled at the same points: a coarse painted pixel has the
        # class painted there (a stroke thinner than the scale is left to the finer levels)
        self.region = down(region.astype(np.uint8), cv2.INTER_NEAREST) > 0
        self.target = down(target, cv2.INTER_NEAREST)
        self.over = (down(over.astype(np.uint8), cv2.INTER_NEAREST) > 0) & self.region if over is not None else None
        self.low = self.low_frequencies(down(low, cv2.INTER_AREA), settings.patch / 2)
        self.own = down(own, cv2.INTER_NEAREST)
        self.own[self.region] = UNKNOWN
        r = self.r = settings.patch // 2
        self.shape = self.region.shape
        self.width = self.shape[1] + 2 * r
        pad = lambda a: cv2.copyMakeBorder(a, r, r, r, r, cv2.BORDER_REFLECT_101)
        self.low_pad = pad(self.low).reshape(-1, 3)
        self.image_pad = pad(self.image).reshape(-1, 3)
        # what a source pixel gives a fill: its detail, the photo less its low frequencies,
        # added to the target's own low frequencies (the colour and light come from the guide)
        self.detail_pad = self.image_pad - self.low_pad
        # what a source patch is compared by: its texture and its weighted guide, in one array
        self.guide_scale = np.float32(np.sqrt(settings.guide_weight))
        self.source_features = np.concatenate([self.image_pad, self.guide_scale * self.low_pad], 1)
        ys, xs = np.nonzero(self.region)
        self.targets = (ys + r) * self.width + (xs + r)  # flat indices into the padded pictures
        self.target_class = self.target[ys, xs]
        self.sources = {}
        for c in np.unique(self.target_class):
            sy, sx = np.nonzero(self.own == c)
            self.sources[int(c)] = (sy + r) * self.width + (sx + r)
        self.valid = all(len(v) > 0 for v in self.sources.values()) and len(self.targets) > 0
        self.class_of = np.full(self.image_pad.shape[0], -1, np.int32)
        for c, idx in self.sources.items():
            self.class_of[idx] = c
        oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
        # the distance looks at every other pixel of the patch (and its corners): the same
        # reach for a quarter of the gathers
        sparse = ((oy % 2 == 0) & (ox % 2 == 0)) | ((np.abs(oy) == r) & (np.abs(ox) == r))
        self.compared = (oy * self.width + ox)[sparse].ravel()
        sigma = settings.vote_sigma  # what each compared pixel's say weighs in the vote
        self.compared_weights = (
            np.exp(-(oy**2 + ox**2)[sparse].ravel() / (2 * sigma**2)) if sigma > 0 else np.ones(sparse.sum())
        ).astype(np.float32)
        self.voting = None  # `vote_weighting`, worked out when the level first votes
        # the strands' directions, smooth over a patch, compared at its centre alone (for
        # every compared pixel: a third more gathers for the same distance)
        self.directions_pad = None
        if directions is not None:
            weight = np.float32(np.sqrt(settings.orientation_weight * len(self.compared)))
            self.directions_pad = weight * pad(down(directions, cv2.INTER_AREA)).reshape(-1, 2)
            self.target_directions = self.directions_pad[self.targets]
        self.last_nnf = None
        self.finest = finest  # the fill's structure is settled at this size or has been
        self.base, self.octave, self.octave_pad = self.low, None, None

    def low_frequencies(self, low: np.ndarray, sigma: float) -> np.ndarray:
        """`low` blurred to the scale the patches do not see; at the pixels painted over
        another class (`over`), within their own class alone (normalised convolution):
        a stroke of hair five pixels wide across the forehead took half its low
        frequencies from the skin round it and came out pale brown. Elsewhere across the
        class borders: a real hairline is soft, and blurred within each class it was drawn
        hard (docs/RESULTS.md)."""
        out = cv2.GaussianBlur(low, (0, 0), sigma)
        if self.over is None or not self.over.any():
            return out
        for c in np.unique(self.target[self.over]):
            mine = (self.target == c).astype(np.float32)
            within = (
                cv2.GaussianBlur(low * mine[..., None], (0, 0), sigma)
                / np.maximum(cv2.GaussianBlur(mine, (0, 0), sigma), 1e-6)[..., None]
            )
            here = self.over & (self.target == c)
            out[here] = within[here]
        return out

    def add_octave(self, coarser: Level, estimate: np.ndarray) -> None:
        """This size's fill: the `coarser` size's fill (`estimate`) brought up, plus the
        band of the sources' texture that size could not hold (the picture less its copy
        brought down and up again: a Laplacian pyramid's band), where the coarser fill
        covers a painted pixel and its neighbours; elsewhere (a stroke thinner than the
        coarser size) the guide's low frequencies and the detail, as at the coarser sizes."""
        up = lambda a: cv2.resize(a, (self.shape[1], self.shape[0]), interpolation=cv2.INTER_LINEAR)
        covered = up(coarser.region.astype(np.float32)) >= 0.999
        self.octave = covered & self.region
        self.base = np.where(self.octave[..., None], up(estimate), self.low)
        r = self.r
        band = self.image - up(coarser.image)
        self.octave_pad = cv2.copyMakeBorder(band, r, r, r, r, cv2.BORDER_REFLECT_101).reshape(-1, 3)

    def initial_estimate(self) -> np.ndarray:
        estimate = self.image.copy()
        estimate[self.region] = self.low[self.region]
        return estimate

    def upsampled(self, estimate: np.ndarray) -> np.ndarray:
        up = cv2.resize(estimate, (self.shape[1], self.shape[0]), interpolation=cv2.INTER_LINEAR)
        out = self.image.copy()
        out[self.region] = up[self.region]
        return out

    def random_matches(self, rng: np.random.Generator) -> np.ndarray:
        nnf = np.empty(len(self.targets), np.int64)
        for c, idx in self.sources.items():
            mine = self.target_class == c
            nnf[mine] = idx[rng.integers(0, len(idx), mine.sum())]
        return nnf

    def upsampled_matches(self, coarse: Level, rng: np.random.Generator) -> np.ndarray:
        """The half-size level's matches, doubled: each target takes its parent pixel's
        match shifted by its own offset from the parent; where that is no source of its
        class (or it has no parent), a random one."""
        r = self.r
        parent_match = np.full(len(coarse.class_of), -1, np.int64)
        parent_match[coarse.targets] = coarse.last_nnf
        ty, tx = np.divmod(self.targets, self.width)
        ty, tx = ty - r, tx - r
        cy = np.minimum(ty // 2, coarse.shape[0] - 1)
        cx = np.minimum(tx // 2, coarse.shape[1] - 1)
        parent = parent_match[(cy + r) * coarse.width + (cx + r)]
        nnf = self.random_matches(rng)
        have = parent >= 0
        py, px = np.divmod(parent[have], coarse.width)
        sy = np.clip((py - r) * 2 + ty[have] % 2, 0, self.shape[0] - 1) + r
        sx = np.clip((px - r) * 2 + tx[have] % 2, 0, self.shape[1] - 1) + r
        candidate = sy * self.width + sx
        ok = self.class_of[candidate] == self.target_class[have]
        nnf[np.flatnonzero(have)[ok]] = candidate[ok]
        return nnf

    def patch_pixels(self, centres: np.ndarray) -> np.ndarray:
        """(centres, compared): the flat indices of the compared pixels of each patch."""
        return centres[:, None] + self.compared[None, :]

    def target_patches(self, estimate: np.ndarray) -> np.ndarray:
        """Each target's patch (the compared pixels) of the picture being made, with the
        photo's own pixels around the shape, and of the weighted guide: (targets,
        compared, 6), gathered once per sweep, as the patches do not change within one."""
        r = self.r
        estimate_pad = cv2.copyMakeBorder(estimate, r, r, r, r, cv2.BORDER_REFLECT_101).reshape(-1, 3)
        features = np.concatenate([estimate_pad, self.guide_scale * self.low_pad], 1)
        return np.take(features, self.patch_pixels(self.targets), axis=0)

    def cost(self, patches: np.ndarray, nnf: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Each target's patch distance to its match, texture and guide together, and the
        strands' directions at the patches' centres; `rows`: which targets `patches` and
        `nnf` are of (all, in order, without)."""
        # np.take gathers rows several times faster than fancy indexing does
        difference = patches - np.take(self.source_features, self.patch_pixels(nnf), axis=0)
        cost = np.einsum("ijk,ijk->i", difference, difference)
        if self.directions_pad is not None:
            wanted = self.target_directions if rows is None else self.target_directions[rows]
            turn = wanted - np.take(self.directions_pad, nnf, axis=0)
            cost += np.einsum("ij,ij->i", turn, turn)
        return cost

    def search_and_vote(
        self, start: np.ndarray, nnf: np.ndarray, rng: np.random.Generator, interrupt: Callable[[], bool] | None = None
    ) -> np.ndarray:
        estimate = start
        neighbours = [d * s for s in (1, 4) for d in (1, -1, self.width, -self.width)]
        index_of = np.full(len(self.class_of), -1, np.int64)
        index_of[self.targets] = np.arange(len(self.targets))
        # the finest sizes start from matches that are nearly right: two sweeps refine them,
        # the first copying each pixel's match (texture for the second to match against);
        # a size that adds an octave copies in both (a mean of the covering patches would
        # average the octave away)
        sweeps = 2 if self.finest else self.settings.iterations
        coherent = np.float32(1 / (1 + self.settings.coherence))
        for sweep in range(sweeps):
            if interrupt is not None and interrupt():
                raise Interrupted
            patches = self.target_patches(estimate)
            cost = self.cost(patches, nnf)
            if coherent < 1:
                cost[self.continues_a_neighbour(nnf, index_of)] *= coherent
            # propagation: a neighbour's match, shifted back by the step to the neighbour
            for step in neighbours:
                j = index_of[np.clip(self.targets + step, 0, len(index_of) - 1)]
                has = j >= 0
                candidate = nnf.copy()
                candidate[has] = nnf[j[has]] - step
                nnf, cost = self.better(patches, nnf, cost, candidate, coherent)
            # random search around the match, then anywhere in the class
            radius = max(self.shape) // 4
            while radius >= 1:
                dy = rng.integers(-radius, radius + 1, len(nnf))
                dx = rng.integers(-radius, radius + 1, len(nnf))
                nnf, cost = self.better(patches, nnf, cost, nnf + dy * self.width + dx)
                radius //= 4
            nnf, cost = self.better(patches, nnf, cost, self.random_matches(rng))
            last = sweep == sweeps - 1
            voting = last and self.settings.vote_at_finest and self.octave is None
            estimate = self.vote(nnf, centre_only=self.finest and not voting)
        self.last_nnf = nnf
        return estimate

    def seam_blended(self, estimate: np.ndarray, met: np.ndarray, width: float) -> np.ndarray:
        """The full-size fill blended into the photo where the shape meets its own class,
        as Poisson blending does: at each photo pixel of `met` (those that said the fill's
        colour) beside a painted pixel of its class, the difference between the photo
        there and that painted pixel, carried into the shape (`carried_inwards`, from
        `width` px). The fill keeps its own gradients inside and meets the photo's values
        at its outline: a copied patch's pores ended on a step there (a circle round a
        patch of cheek at 100%; seam 1.55 times the photo's gradient at 1024 px,
        docs/RESULTS.md). Not the fill carried on by its source's step: the search picks
        sources that step down towards a darker outline, and half the step stayed.
        Where the shape meets another class (a fringe over the forehead) its edge stays."""
        h, w = self.shape
        ys, xs = np.nonzero(self.region)
        difference = np.zeros((h, w, 3), np.float32)
        count = np.zeros((h, w), np.float32)
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            qy, qx = ys + dy, xs + dx
            inside = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
            p, qy, qx = np.flatnonzero(inside), qy[inside], qx[inside]
            meets = ~self.region[qy, qx] & (met[qy, qx] == self.target_class[p])
            p, qy, qx = p[meets], qy[meets], qx[meets]
            np.add.at(difference, (qy, qx), self.image[qy, qx] - estimate[ys[p], xs[p]])
            np.add.at(count, (qy, qx), 1.0)
        if not count.any():
            return estimate
        seeds = count > 0
        difference[seeds] /= count[seeds, None]
        out = estimate.copy()
        out[self.region] = np.clip(estimate[self.region] + carried_inwards(difference, seeds, self.region, width), 0, 1)
        return out

    def continues_a_neighbour(self, nnf: np.ndarray, index_of: np.ndarray) -> np.ndarray:
        """(targets,) bool: the matches that are a pixel-neighbour's match shifted by the step
        to it (the fill copies a run of the source there)."""
        out = np.zeros(len(nnf), bool)
        for step in (1, -1, self.width, -self.width):
            j = index_of[np.clip(self.targets + step, 0, len(index_of) - 1)]
            has = j >= 0
            out[has] |= nnf[j[has]] - step == nnf[has]
        return out

    def better(self, patches, nnf, cost, candidate, factor: float = 1.0):
        """The candidates that are sources of the target's class and closer (their distance
        times `factor`), taken. Only the targets offered another patch are compared (a
        coherent match propagates to itself: most of a converged field)."""
        candidate = np.clip(candidate, 0, len(self.class_of) - 1)
        (tried,) = np.nonzero((self.class_of[candidate] == self.target_class) & (candidate != nnf))
        if not tried.size:
            return nnf, cost
        new_cost = self.cost(np.take(patches, tried, axis=0), candidate[tried], tried) * factor
        take = new_cost < cost[tried]
        nnf, cost = nnf.copy(), cost.copy()
        nnf[tried[take]], cost[tried[take]] = candidate[tried][take], new_cost[take]
        return nnf, cost

    def vote_weighting(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(where each target's compared pixels speak, what each say weighs, the weights'
        sum at each pixel): the same every sweep, so worked out once, and only at a level
        that votes (the finest sizes that add an octave copy each pixel's match)."""
        if self.voting is None:
            at = self.patch_pixels(self.targets).ravel()
            weights = np.tile(self.compared_weights, len(self.targets))[:, None]
            self.voting = (at, weights, np.bincount(at, weights[:, 0], minlength=len(self.image_pad)))
        return self.voting

    def vote(self, nnf: np.ndarray, centre_only: bool = False) -> np.ndarray:
        """Each painted pixel: the mean of what the matched patches covering it say, each
        weighed by how near the pixel is to its centre (`FillSettings.vote_sigma`); at the
        finest level (`centre_only`) what its own match says, so that strands a pixel out
        of step do not average away (coherent matches copy whole runs of the source)."""
        if centre_only:
            estimate = self.image.copy()
            ys, xs = np.nonzero(self.region)
            detail = self.detail_pad[nnf]
            if self.octave is not None:
                on = self.octave[ys, xs]
                detail[on] = self.octave_pad[nnf[on]]
            estimate[ys, xs] = np.clip(self.base[ys, xs] + detail, 0, 1)
            return estimate
        n = len(self.image_pad)
        at, weights, count = self.vote_weighting()
        colours = np.take(self.detail_pad, self.patch_pixels(nnf), axis=0).reshape(-1, 3) * weights
        total = np.stack([np.bincount(at, colours[:, channel], minlength=n) for channel in range(3)], 1)
        r = self.r
        voted = (
            (total / np.maximum(count, 1e-6)[:, None])
            .astype(np.float32)
            .reshape(self.shape[0] + 2 * r, self.shape[1] + 2 * r, 3)
        )
        estimate = self.image.copy()
        inner = voted[r:-r, r:-r] if r else voted
        estimate[self.region] = np.clip(self.low[self.region] + inner[self.region], 0, 1)
        return estimate
