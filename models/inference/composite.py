"""Photo edits: the result is the user's photo, at its own size, changed only where the edit
changed something.

The model works on a 256 px square framed in the photo. Where a region's style changed
but its shape did not, the photo's own pixels are recoloured: a locally affine colour map
from the synthesis with the photo's own styles to the one with the new styles, fitted per
region at the model's size, carried (its coefficients, not its pixels) to the photo's
resolution and applied to the original (models/inference/recolour.py), over the whole
region: past the square, where a wider parse of the photo (the edit's `surround`) finds
it connected to the edited face. The weight of a region follows the photo's own edges (a
guided feather, its width scaled to the framed face). Where the mask changed (a painted
fringe), the synthesised pixels go in, upsampled and filtered with the photo as the guide.
Every pixel beyond the edited regions and their seam is the original, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property

import cv2
import numpy as np

from models.data.bank import SegmentBank
from models.data.filters import guided_filter
from models.data.framing import Framing, stretched_photo, whole_photo
from models.inference.colour_model import WITHIN_99, gaussian_of, squared_distance
from models.inference.engine import Engine
from models.inference.recolour import (
    BAND_ROWS,
    FIT_RADIUS,
    IDENTITY,
    WORK_SIDE,
    ColourAdjust,
    ColourMap,
    affine,
    anchor_map,
    apply_coefficients,
    bend_highlights,
    compose,
    fit_colour_map,
    highlight_peak,
    shaded_light,
    then_affine,
    warp,
)
from models.inference.styles import StyleMatrix, blended_colours
from models.inference.texture_fill import (
    DEFAULT_FILL,
    UNKNOWN,
    FillSettings,
    Interrupted,
    bank_exemplars,
    grown_box,
    stale_outline,
    texture_fill,
)

SEAM = 0.02  # half-width of the seam, as a share of the framed box's side
GUIDE_RADIUS = 0.01  # of the box's side: the guided filter's window, for synthesised pixels
GUIDE_EPS = 1e-3
EDGE_FADE = 0.08  # of the square's side: painted shapes fade out towards the square's edges,
# where the model's view of the photo ends, and a region's local colour
# map fades into its global one
SURROUND = 2.0  # the wider parse that finds where regions go on: twice the square's side
FEATHER_EPS = 1e-3  # the guided feather of a region's weight (grey levels in [0, 1])
PARSE_PRIOR = 0.8  # how likely the wider parse's label is before colour is looked at: where
# colour cannot tell (black hair on a dark wall) the parse stands
SURFACE_SHARE = 0.05  # a class this much of the square may lie past it though the wider parse missed it
# past the square a class competes with a region's colour where the wider parse finds it
# near, its odds falling by e over this share of the square's side (a surface, which the
# wider parse may have misread, anywhere): a neck's colour is not told from a chest's,
# and no neck lies down there
RIVAL_REACH = 0.05
# past the square, a region fades out over this share of the square's side towards where
# the wider parse says it goes on inside the square and the square's own parse does not
DISAGREEMENT_RAMP = 0.1
POSTERIOR_BLUR = 1.0  # grid pixels: colour's say beside a region, smoothed
UNSURE_RAMP = 3.0  # past the square, the weight follows colour's confidence over this many seams
SURE = 0.75  # past the square, colour's confidence from which a region takes its whole new colour
OUTLINE_SIGMA = 1.0  # photo pixels: a painted shape's outline against another class, antialiased
MAX_REACH = 8.0  # box sides: how far around a painted shape its class is looked for at most


@dataclass(frozen=True)
class Surround:
    """The photo parsed at a wider framing than the model's square: where each region goes
    on past it (hair over the shoulders, the neck, clothes)."""

    framing: Framing
    mask: np.ndarray  # at the model's size


@dataclass(frozen=True)
class PhotoEdit:
    """A user's photo as an edit starts from it: the original at full resolution, where
    the model's square lies in it, the photo's own mask (as parsed, at the model's size)
    and the key of the source holding its own style codes."""

    original: np.ndarray
    framing: Framing
    mask: np.ndarray
    source_key: str
    file: bytes = b""  # the photo's file as it was read: a project keeps it losslessly, EXIF and all
    surround: Surround | None = None  # None: regions end at the square (a scene, or an old project)

    def scaled(self, max_side: int) -> PhotoEdit:
        """The same edit on a smaller copy of the photo (the editor's live preview)."""
        h, w = self.original.shape[:2]
        factor = min(1.0, max_side / max(h, w))
        if factor == 1.0:
            return self
        small = cv2.resize(self.original, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA)
        surround = self.surround and replace(self.surround, framing=self.surround.framing.scaled(factor))
        return replace(self, original=small, framing=self.framing.scaled(factor), surround=surround)


def restyled_classes(own: StyleMatrix, per_block: list[StyleMatrix]) -> np.ndarray:
    """(s,) bool: the classes whose code differs from the photo's own in any SEAN block."""
    return np.array(
        [
            any(not np.allclose(block.codes[c], own.codes[c], atol=1e-6) for block in per_block)
            for c in range(len(own.codes))
        ]
    )


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
    top, bottom, left, right = (ramp if on else np.ones(size) for on, ramp in zip(sides, (up, up[::-1], up, up[::-1])))
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


def overlap(a: tuple, b: tuple) -> tuple | None:
    """The box (y0, y1, x0, x1) two boxes share, None when they share nothing."""
    y0, y1, x0, x1 = max(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), min(a[3], b[3])
    return (y0, y1, x0, x1) if y0 < y1 and x0 < x1 else None


def to_photo_pixels(
    image: np.ndarray, to_model: np.ndarray, box: tuple, interpolation: int, border: int = cv2.BORDER_REPLICATE
) -> np.ndarray:
    """A model-size image resampled onto the photo pixels of `box` (outside the model's
    square: its edge replicated, or zeros with BORDER_CONSTANT)."""
    y0, y1, x0, x1 = box
    m = to_model.copy()
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)  # photo pixel (x0, y0) is the box's origin
    return cv2.warpAffine(image, m, (x1 - x0, y1 - y0), flags=interpolation | cv2.WARP_INVERSE_MAP, borderMode=border)


def smooth_labels_in_photo(mask: np.ndarray, to_model: np.ndarray, box: tuple) -> np.ndarray:
    """A model-size label mask on the photo pixels of `box` with smooth outlines: each
    class's share interpolated (bilinear) and the likeliest taken, where nearest
    neighbours would draw the mask's pixels as stairs (16 px ones for a 256 px mask on a
    4,000 px photo). Background (0) outside the model's square."""
    nearest = to_photo_pixels(mask, to_model, box, cv2.INTER_NEAREST, cv2.BORDER_CONSTANT)
    classes = np.unique(nearest)
    if len(classes) < 2:
        return nearest
    labels, best = nearest.copy(), np.zeros(nearest.shape, np.float32)  # outside the square: all shares 0
    for c in classes:
        share = to_photo_pixels((mask == c).astype(np.float32), to_model, box, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)
        likelier = share > best
        labels[likelier], best[likelier] = c, share[likelier]
    return labels


def mask_in_photo(mask: np.ndarray, framing: Framing, shape: tuple[int, int]) -> np.ndarray:
    """A model-square label mask placed on a photo's pixels (nearest): background (0)
    outside the model's square."""
    return to_photo_pixels(
        mask, framing.to_model(mask.shape[0]), (0, shape[0], 0, shape[1]), cv2.INTER_NEAREST, cv2.BORDER_CONSTANT
    )


def parsed_labels(engine: Engine, photo: np.ndarray) -> tuple[np.ndarray, bool]:
    """A photo's labels at its own size, from the model's parser: the photo framed (on its
    largest face), the square parsed and placed back; and whether a face was found."""
    framing, framed = engine.frame(photo)
    return mask_in_photo(engine.parser.parse(framed), framing, photo.shape[:2]), framing.found_face


def composite(
    edit: PhotoEdit,
    edited_mask: np.ndarray,
    base: np.ndarray,
    edited: np.ndarray | None,
    restyled: np.ndarray,
    recoloured: np.ndarray | None = None,
    fill: FillSettings | None = DEFAULT_FILL,
    fill_pixels: int | None = None,
    grid: RegionGrid | None = None,
    live: LiveFill | None = None,
    afresh: bool = True,
    bank: SegmentBank | None = None,
    interrupt: Callable[[], bool] | None = None,
) -> np.ndarray:
    """The photo with the edit in it, at the photo's size. `base` is the synthesis of the
    photo's own mask with its own styles, `edited` that of `edited_mask` with the edit's
    styles, `restyled` the classes whose style changed. `recoloured`: `recolour`'s photo,
    from the synthesis of the photo's own mask with the edit's styles; a caller that keeps
    it between frames passes it, and it is made here from `edited` otherwise (the same
    thing while the mask is the photo's own). `edited` is needed only where the mask was
    painted, or to make `recoloured`. Painted shapes take the photo's own texture
    (`fill_shapes`, at most `fill_pixels` worked out: the live view) unless `fill` is
    None, which draws the model's synthesis. `grid`: the edit's RegionGrid, when the
    caller keeps it between frames; `live`: the view's fill kept between its frames (a
    stroke refills what it changed; `afresh`, once it has ended, fills every shape
    anew; `interrupt` may give that up: see `texture_fill`); `bank`: the segment bank
    that gives texture to classes the photo lacks."""
    if recoloured is None:
        recoloured = recolour(edit, base, edited, restyled)
    shape_area = edited_mask != edit.mask
    if not shape_area.any():
        return recoloured
    if fill is not None and live is not None:
        return live.fill(recoloured, edit, edited_mask, edited, fill, fill_pixels, grid, afresh, bank, interrupt)
    result = recoloured.copy()
    if fill is None:
        paint_shapes(result, edit, shape_area, edited, seam_of(edit))
    else:
        fill_shapes(result, edit, edited_mask, edited, fill, fill_pixels, grid=grid, bank=bank, interrupt=interrupt)
    return result


def seam_of(edit: PhotoEdit) -> float:
    """The half-width of an edit's seams, in photo pixels."""
    return max(1.5, SEAM * edit.framing.side)


class RegionGrid:
    """The part of the photo that the model's square and the surround cover, at most
    WORK_SIDE px large: where regions are found and colour maps resampled before they are
    applied to the photo's own pixels, a band of rows at a time."""

    def __init__(self, edit: PhotoEdit):
        h, w = edit.original.shape[:2]
        boxes = [edit.framing] + ([edit.surround.framing] if edit.surround else [])
        self.x0 = max(0, int(np.floor(min(f.x for f in boxes))))
        self.y0 = max(0, int(np.floor(min(f.y for f in boxes))))
        self.x1 = min(w, int(np.ceil(max(f.x + f.side for f in boxes))))
        self.y1 = min(h, int(np.ceil(max(f.y + f.box_height for f in boxes))))
        self.inner_sides = (self.y0 > 0, self.y1 < h, self.x0 > 0, self.x1 < w)  # edges inside the photo
        self.scale = min(1.0, WORK_SIDE / max(self.x1 - self.x0, self.y1 - self.y0, 1))
        self.shape = (max(1, round((self.y1 - self.y0) * self.scale)), max(1, round((self.x1 - self.x0) * self.scale)))
        self.to_grid = affine(self.scale, self.scale, -self.x0 * self.scale, -self.y0 * self.scale)
        size = edit.mask.shape[0]
        self.from_model = compose(self.to_grid, edit.framing.to_photo(size))
        self.in_square = self.in_square_of(edit.framing, size)
        labels = np.full(self.shape, UNKNOWN, np.uint8)
        self.wider_px = 0.0  # a pixel of the wider parse, in grid pixels
        if edit.surround is not None:
            s = edit.surround
            labels = warp(
                s.mask,
                compose(self.to_grid, s.framing.to_photo(s.mask.shape[0])),
                self.shape,
                cv2.INTER_NEAREST,
                cv2.BORDER_CONSTANT,
            )
            labels[~self.in_square_of(edit.surround.framing, s.mask.shape[0])] = UNKNOWN
            self.wider_px = s.framing.side / s.mask.shape[0] * self.scale
        self.wider = labels.copy()  # the wider parse alone, inside the square too
        own = warp(edit.mask, self.from_model, self.shape, cv2.INTER_NEAREST)
        labels[self.in_square] = own[self.in_square]
        self.labels = labels
        photo = edit.original[self.y0 : self.y1, self.x0 : self.x1]
        small = cv2.resize(photo, self.shape[::-1], interpolation=cv2.INTER_AREA) if self.scale < 1 else photo
        self.grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
        self.rgb = small.astype(np.float32) / 255
        self.lab = cv2.cvtColor(self.rgb, cv2.COLOR_RGB2LAB)

    def in_square_of(self, framing: Framing, size: int) -> np.ndarray:
        return (
            warp(
                np.ones((size, size), np.uint8),
                compose(self.to_grid, framing.to_photo(size)),
                self.shape,
                cv2.INTER_NEAREST,
            )
            > 0
        )

    def from_model_size(
        self, image: np.ndarray, interpolation: int = cv2.INTER_LINEAR, border: int = cv2.BORDER_CONSTANT
    ) -> np.ndarray:
        return warp(image, self.from_model, self.shape, interpolation, border)

    def colour_confidence(self, label: int, kin: tuple[int, ...] = ()) -> np.ndarray:
        """(gh, gw) in [0, 1]: 1 inside the square where the edit's mask says `label`; past
        it, where the wider parse says `label`, the posterior of `label` or its `kin` (the
        classes that take the same colour map: skin and neck need not be told apart)
        against the likeliest other class by colour (a Gaussian in Lab of each class's
        pixels inside the square, where the parse is sure), with the parse's label as the
        prior. The wider parse sees the face small and misreads flat surroundings (a grey
        wall as blonde hair); colour tells them apart."""
        confidence = (self.in_square & (self.labels == label)).astype(np.float32)
        outside = ~self.in_square & (self.labels == label)
        if outside.any():
            confidence[outside] = self.colour_posterior((label, *kin), outside, PARSE_PRIOR)
        return confidence

    @cached_property
    def class_colours(self) -> dict[int, tuple[np.ndarray, np.ndarray, float]]:
        """Each class with 50 pixels or more inside the square: the Gaussian in Lab of
        those pixels (mean, inverse covariance, log-determinant), worked out once per grid
        for every region's `colour_posterior`."""
        inside, out = self.in_square, {}
        for c in np.unique(self.labels[inside]):
            own = self.lab[inside & (self.labels == c)]
            if len(own) >= 50:
                mean, inverse = gaussian_of(own, ridge=1.0)
                out[int(c)] = (mean, inverse, -float(np.linalg.slogdet(inverse)[1]))
        return out

    @cached_property
    def rivals_past(self) -> set[int]:
        """The classes that may lie past the square: those the wider parse finds there, and
        the surfaces it may have misread (each SURFACE_SHARE of the square or more: a wall)."""
        past = ~self.in_square & (self.labels != UNKNOWN)
        return set(np.unique(self.labels[past]).tolist()) | self.surfaces

    @cached_property
    def surfaces(self) -> set[int]:
        """The classes of SURFACE_SHARE of the square or more."""
        inside = self.in_square
        return {c for c in self.class_colours if (self.labels[inside] == c).sum() >= SURFACE_SHARE * inside.sum()}

    @cached_property
    def rival_odds(self) -> dict[int, np.ndarray]:
        """For each of `rivals_past` but the surfaces, (gh, gw): -2 log of its prior odds at
        each pixel past the square (added to its colour distance there): 0 where the wider
        parse (or the square) finds it, growing by 2 every RIVAL_REACH of the square's side
        away. A surface competes anywhere (a wall the wider parse misread as hair; with
        its odds lowered too, more wall was taken as hair: halo 1.20 -> 1.44)."""
        reach = max(1.0, RIVAL_REACH * float(self.in_square.any(1).sum()))
        away = lambda c: cv2.distanceTransform((self.labels != c).astype(np.uint8), cv2.DIST_L2, 3) / reach
        return {c: (2 * away(c)).astype(np.float32) for c in self.rivals_past - self.surfaces}

    def colour_posterior(self, labels: tuple[int, ...], where: np.ndarray, prior: float) -> np.ndarray:
        """(n,) for the grid's pixels `where`: the posterior of the likeliest of `labels`
        against the likeliest other class by colour (`class_colours`), given the `prior`
        that it is one of `labels`; the prior alone where the square has too few of their
        pixels to tell.
        Past the square, only `rivals_past` compete: hair in shadow, near black, is
        likelier a pupil than hair by colour, but no eye lies out there."""
        if not any(c in self.class_colours for c in labels):
            return np.full(int(where.sum()), prior, np.float32)
        pixels = self.lab[where]
        past = ~self.in_square[where]
        distance = {}
        for c, (mean, inverse, log_det) in self.class_colours.items():
            distance[c] = squared_distance(pixels, mean, inverse) + log_det
            if c not in labels and c not in self.rivals_past:
                distance[c][past] = np.inf
            elif c not in labels and c in self.rival_odds:
                distance[c][past] += self.rival_odds[c][where][past]
        others = [d for c, d in distance.items() if c not in labels]
        own = np.min([d for c, d in distance.items() if c in labels], axis=0)
        margin = (np.min(others, axis=0) if others else np.full(len(pixels), np.inf)) - own
        # margin is twice the log-likelihood ratio (Gaussians' -2 log densities): the posterior's log-odds
        log_odds = margin / 2 + np.log(prior / (1 - prior))
        return (1 / (1 + np.exp(-np.clip(log_odds, -30, 30)))).astype(np.float32)

    def colour_likeness(self, labels: tuple[int, ...], where: np.ndarray) -> np.ndarray:
        """(n,) for the grid's pixels `where`: 1 for a colour well within the distribution
        of one of `labels` (`class_colours`), falling to 0 past its 99th percentile. Not a
        posterior against the pixel's own class: a brow's label that holds mostly skin
        (a light brow) has a Gaussian of skin colour itself."""
        known = [self.class_colours[c] for c in labels if c in self.class_colours]
        if not known:
            return np.zeros(int(where.sum()), np.float32)
        pixels = self.lab[where]
        distance = np.min([squared_distance(pixels, mean, inverse) for mean, inverse, _ in known], axis=0)
        return (1 / (1 + np.exp(np.clip((distance - WITHIN_99) / 2, -30, 30)))).astype(np.float32)

    def unit_region(self, unit: tuple[int, ...], mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(region, confidence) of a unit (classes that take one colour map): its classes'
        pixels that connect to the unit's in the square (`mask`: the edit's, model size),
        past the square where colour bears one of them out against the classes outside the
        unit. Skin on a chest below the square joins the neck inside it."""
        confidence = np.maximum.reduce([self.colour_confidence(c, tuple(k for k in unit if k != c)) for c in unit])
        return self.region(np.isin(mask, unit), confidence), confidence

    def region(self, seeds: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """The grid's pixels where `confidence` is at least even that connect to `seeds`
        (model size: the region as the edit sees it in the square)."""
        area = (confidence >= 0.5).astype(np.uint8)
        count, components = cv2.connectedComponents(area, connectivity=8)
        seeded = self.from_model_size(seeds.astype(np.uint8), cv2.INTER_NEAREST).astype(bool) & (area > 0)
        keep = np.unique(components[seeded])
        return np.isin(components, keep[keep > 0])

    @cached_property
    def labels_at_photo_scale(self) -> np.ndarray:
        """The grid's labels over its box of the photo, a label per photo pixel: made once
        for the boxes `photo_labels` cuts from it (a fill's search grows its box several
        times, and the view's grid serves every frame)."""
        return cv2.resize(self.labels, (self.x1 - self.x0, self.y1 - self.y0), interpolation=cv2.INTER_NEAREST)

    def photo_labels(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """The photo's own classes (square and surround) in a photo box, UNKNOWN where no
        parse reaches."""
        y0, y1, x0, x1 = box
        out = np.full((y1 - y0, x1 - x0), UNKNOWN, np.uint8)
        labels = self.labels_at_photo_scale
        shared = overlap(box, (self.y0, self.y1, self.x0, self.x1))
        if shared is not None:
            gy0, gy1, gx0, gx1 = shared
            out[gy0 - y0 : gy1 - y0, gx0 - x0 : gx1 - x0] = labels[
                gy0 - self.y0 : gy1 - self.y0, gx0 - self.x0 : gx1 - self.x0
            ]
        return out

    def to_photo(self, area: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """A grid area as photo pixels (nearest), False beyond the grid."""
        out = np.zeros(shape, bool)
        size = (self.x1 - self.x0, self.y1 - self.y0)
        out[self.y0 : self.y1, self.x0 : self.x1] = (
            cv2.resize(area.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        )
        return out

    def feather(
        self,
        region: np.ndarray,
        seam: float,
        confidence: np.ndarray,
        labels: tuple[int, ...],
        recoloured: np.ndarray | None = None,
        loose: tuple[int, ...] = (),
        shaded: bool = False,
    ) -> np.ndarray:
        """The weight in [0, 1] of a region (of the classes `labels`, which take one
        colour map): a ramp `seam` photo pixels to each side of its border, bent to the
        photo's own edges (a guided filter with the photo as guide), eased into exactly 1
        over the ramp's inner quarter (the filter's value there is well under 1: a step
        where the ramp ends drew a line of the old tone and lost the photo's detail,
        docs/RESULTS.md) and 0 beyond the ramp; past the square, it fades where
        colour is unsure of the region (`sureness`), smoothly over a wider ramp within
        the region (no line, and no fade inwards from where the region ends). On pixels
        beside it that no layer recolours (`recoloured`: every layer's region; the region
        alone when None), the ramp is scaled by colour's posterior of `labels`, so that a
        wall beside dark hair keeps its colour (no halo) while strands the parse missed
        take the new one. Between two recoloured regions the ramps stay complementary,
        so that their seam keeps its sum (no line of the old colour between skin and
        nose). The pixels of the `loose` classes beside it (of a shaded region: the brows
        round skin) take the weight as far as their colour is like the region's
        (`colour_likeness`): the skin a brow's label takes in round a light brow then
        changes with the skin instead of staying a pale patch. A `shaded` region (skin)
        past the square fades towards where the square's parse and the wider one disagree
        about it (`away_from_disagreement`): a chest the square calls background ended on
        the square's straight edge. Hair does not: the wider parse's coarse hair runs into
        the square's background at every lock, and the fade left a lock in its old colour
        (docs/RESULTS.md)."""
        seam_here = max(1.0, seam * self.scale)
        ramp = soft_mask(region, seam_here)
        recoloured = region if recoloured is None else recoloured
        beside = (ramp > 0) & ~recoloured  # the seam's outer half on pixels no layer recolours
        if beside.any():
            # smoothed over a grid pixel: a photo many times the grid's size would show its steps
            posterior = np.ones(ramp.shape, np.float32)
            posterior[beside] = self.colour_posterior(labels, beside, 1 - PARSE_PRIOR)
            ramp[beside] *= cv2.GaussianBlur(posterior, (0, 0), POSTERIOR_BLUR)[beside]
        slack = np.isin(self.labels, loose) & ~recoloured
        if slack.any():
            likeness = np.zeros(ramp.shape, np.float32)
            likeness[slack] = self.colour_likeness(labels, slack)
            ramp[slack] = np.maximum(ramp[slack], cv2.GaussianBlur(likeness, (0, 0), POSTERIOR_BLUR)[slack])
        sure = np.where(self.in_square, 1.0, sureness(confidence)).astype(np.float32)
        # blurred within the region (and the square) alone: the ramp fades its outline, and
        # the zeros beyond it would lower the weight of sure hair up to three seams inside
        support = (region | self.in_square).astype(np.float32)
        blur = lambda a: cv2.GaussianBlur(a, (0, 0), UNSURE_RAMP * seam_here)
        sure = blur(sure * support) / np.maximum(blur(support), 1e-6) * self.edge_fade(UNSURE_RAMP * seam_here)
        if shaded:
            sure *= self.away_from_disagreement(region, labels)
        ramp = np.where(self.in_square, ramp, ramp * sure)
        bent = guided_filter(self.grey, ramp[..., None], max(1, round(seam_here)), FEATHER_EPS)[..., 0]
        # beside the region no higher than colour allows: the filter would spread the weight of
        # the parse's own slack (a wall taken into the region) onto the wall beside it
        bent = np.where(recoloured, bent, np.minimum(bent, ramp))
        t = np.clip(4 * ramp - 3, 0, 1)  # the ramp's inner quarter, 0 to 1
        bent = np.where(region, bent + (1 - bent) * t * t * (3 - 2 * t), bent)
        return np.where(ramp >= 1, 1, np.where(ramp <= 0, 0, np.clip(bent, 0, 1))).astype(np.float32)

    def away_from_disagreement(self, region: np.ndarray, labels: tuple[int, ...]) -> np.ndarray:
        """(gh, gw) in [0, 1]: 1, falling to 0 over DISAGREEMENT_RAMP of the square's side
        towards where the wider parse says `labels` inside the square and the square's own
        parse does not (`region` holds what it says): there a region past the square would
        end on the square's straight edge (a shoulder the square calls background). Slivers
        a wider-parse pixel or two across, its usual offset at class borders, do not count."""
        disagree = (self.in_square & np.isin(self.wider, labels) & ~region).astype(np.uint8)
        k = 2 * max(1, round(2 * self.wider_px)) + 1
        disagree = cv2.morphologyEx(disagree, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        if not disagree.any():
            return np.ones(self.shape, np.float32)
        width = max(1.0, DISAGREEMENT_RAMP * float(self.in_square.any(1).sum()))
        return np.clip(cv2.distanceTransform(1 - disagree, cv2.DIST_L2, 3) / width, 0, 1).astype(np.float32)

    def edge_fade(self, width: float) -> np.ndarray:
        """(gh, gw): 1 inside, falling to 0 over `width` grid pixels at the grid's edges that
        lie inside the photo, so that a region that goes on past the grid fades out there
        instead of ending on a line."""
        ramp = lambda n: np.clip((np.arange(n) + 0.5) / max(width, 1.0), 0, 1)
        top, bottom, left, right = self.inner_sides
        gh, gw = self.shape
        rows = np.minimum(ramp(gh) if top else 1.0, ramp(gh)[::-1] if bottom else 1.0) * np.ones(gh)
        cols = np.minimum(ramp(gw) if left else 1.0, ramp(gw)[::-1] if right else 1.0) * np.ones(gw)
        return np.minimum(rows[:, None], cols[None, :]).astype(np.float32)

    def apply(
        self,
        photo: np.ndarray,
        layers: list[tuple[np.ndarray, np.ndarray]],
        interrupt: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """`photo` with each (coefficients (gh, gw, 12), weight (gh, gw)) layer's colour map
        applied where its weight is above 0, its highlights bent under white as its region's
        colours peak on the grid (`bend_highlights`), blended by the weight; the rest bit
        for bit. `interrupt`: see `recolour`."""
        peaks = [highlight_peak(apply_coefficients(self.rgb[w >= 1], c[w >= 1])) for c, w in layers]
        result = photo.copy()
        width = self.x1 - self.x0
        for r0 in range(self.y0, self.y1, BAND_ROWS):
            if interrupt is not None and interrupt():
                raise Interrupted
            r1 = min(self.y1, r0 + BAND_ROWS)
            to_band = affine(1 / self.scale, 1 / self.scale, 0, self.y0 - r0)
            band = photo[r0:r1, self.x0 : self.x1].astype(np.float32) / 255
            total, weights = np.zeros_like(band), np.zeros(band.shape[:2], np.float32)
            for (coefficients, weight), peak in zip(layers, peaks):
                # replicated: the grid's last row and column lie half a grid pixel inside the
                # photo's, and a zero border would fade the weight there (a line at the photo's edge)
                w = warp(weight, to_band, (r1 - r0, width), cv2.INTER_LINEAR, cv2.BORDER_REPLICATE)
                here = w > 0
                if not here.any():
                    continue
                c = warp(coefficients, to_band, (r1 - r0, width), cv2.INTER_LINEAR, cv2.BORDER_REPLICATE)
                mapped = bend_highlights(apply_coefficients(band[here], c[here]), peak)
                total[here] += w[here, None] * (mapped - band[here])
                weights[here] += w[here]
            touched = weights > 0
            if touched.any():
                # where layers overlap past a full weight (each shaded layer takes a light
                # brow's skin-coloured pixels), their changes are averaged, not added
                change = total[touched] / np.maximum(weights[touched], 1)[:, None]
                out = np.clip(np.rint((band[touched] + change) * 255), 0, 255).astype(np.uint8)
                result[r0:r1, self.x0 : self.x1][touched] = out
        return result


def sureness(confidence: np.ndarray) -> np.ndarray:
    """Colour's confidence in a region past the square as the share of its new colour a
    pixel takes: 0 up to even odds (where the region ends), eased into 1 at SURE. Taken
    as it is, the confidence left a quarter of the hair over the shoulders (posterior
    0.5-0.76) partly in its old colour: a lighter, blended tone below the square."""
    t = np.clip((confidence - 0.5) / (SURE - 0.5), 0, 1)
    return t * t * (3 - 2 * t)


def restyled_area(edit: PhotoEdit, classes: list[int], groups: tuple[tuple[int, ...], ...] = ()) -> np.ndarray:
    """(H, W) bool at the photo's size: the pixels of `classes` that a restyle of them
    recolours (before its seam), past the square where they go on; those of one of
    `groups` take one map."""
    grid = RegionGrid(edit)
    area = np.zeros(grid.shape, bool)
    for unit in restyled_units(classes, groups):
        area |= grid.unit_region(unit, edit.mask)[0]
    return grid.to_photo(area, edit.original.shape[:2])


def recolour(
    edit: PhotoEdit,
    base: np.ndarray,
    restyled_synthesis: np.ndarray,
    restyled: np.ndarray,
    adjustments: dict[int, ColourAdjust] | None = None,
    targets: np.ndarray | None = None,
    groups: tuple[tuple[int, ...], ...] = (),
    interrupt: Callable[[], bool] | None = None,
    shaded: tuple[int, ...] = (),
    loose: tuple[int, ...] = (),
) -> np.ndarray:
    """The photo with each restyled region's colour map (from `base`, the synthesis of the
    photo's own mask and styles, to `restyled_synthesis`, the same mask with the new
    styles) applied to its own pixels, over the whole region (see the module's docstring),
    anchored to the style photo's colours where `targets` (s, COLOUR_STATS: the new
    styles' `colour_rows()`) knows them, each of `groups` (regions that took one style)
    as one (`restyled_units`; a unit with a region of `shaded` scales its light as a new
    albedo would: `anchor_map`, and takes the pixels of its colour in the `loose` classes
    beside it: `RegionGrid.feather`), and followed by the region's hand adjustment (`adjustments`: class
    -> ColourAdjust) if any. It depends on the styles alone, not on what is painted:
    painted shapes go over it. `interrupt`, asked between bands of the photo's rows, gives
    it up (`Interrupted`) when it says the picture is no longer wanted."""
    adjustments = {c: a for c, a in (adjustments or {}).items() if not a.is_identity}
    classes = [int(c) for c in range(len(restyled)) if (restyled[c] or c in adjustments) and (edit.mask == c).any()]
    if not classes:
        return edit.original.copy()
    size, seam = base.shape[0], seam_of(edit)
    grid = RegionGrid(edit)
    x, y = base.astype(np.float32) / 255, restyled_synthesis.astype(np.float32) / 255
    # where the local maps give way to each region's global one: towards the square's inner edges
    # replicated past the square: a zero border drew the local maps towards zero in the grid
    # rows past a square that reaches the photo's edge (a dark, reddened last row)
    fade = grid.from_model_size(
        edge_fade(size, inner_edges(edit.framing, edit.original.shape[:2])), border=cv2.BORDER_REPLICATE
    )
    radius = max(1, round(FIT_RADIUS * size))
    colour_maps, anchors = {}, {}
    # the photo's regions as the model sees them, at the model's size: the scale at which
    # the style photo's colours were measured (for the anchors)
    framed = edit.framing.crop(edit.original, size) if targets is not None else None
    for unit in restyled_units([c for c in classes if restyled[c]], groups):
        colour_map = fit_colour_map(x, y, np.isin(edit.mask, unit), radius)
        is_shaded = any(c in shaded for c in unit)
        if is_shaded:
            colour_map = shaded_light(colour_map)
        colour_maps.update(dict.fromkeys(unit, colour_map))
        if targets is not None:
            anchor = unit_anchor(edit.mask, framed, unit, colour_map, targets, is_shaded)
            anchors.update(dict.fromkeys(unit, anchor))
    found = {}
    # one layer per unit: a seam inside it (skin to nose) would be a seam of one map with itself
    for unit in map_units(classes, restyled, adjustments, groups):
        region, confidence = grid.unit_region(unit, edit.mask)
        if region.any():
            found[unit] = (region, confidence)
    # every pixel some layer recolours: there seams meet seams and keep their sum, and
    # colour's say on the outline is not asked
    recoloured = np.logical_or.reduce([region for region, _ in found.values()]) if found else None
    layers = []
    for unit, (region, confidence) in found.items():
        c = unit[0]
        if restyled[c]:
            colour_map = colour_maps[c]
            local = grid.from_model_size(colour_map.stacked(), border=cv2.BORDER_REPLICATE)
            coefficients = fade[..., None] * local + (1 - fade[..., None]) * colour_map.global_stacked()
            if anchors.get(c) is not None:
                coefficients = then_affine(coefficients, *anchors[c])
        else:
            coefficients = np.broadcast_to(IDENTITY, (*grid.shape, 12))
        if c in adjustments:
            coefficients = adjustments[c].applied_after(coefficients)
        is_shaded = any(k in shaded for k in unit)
        weight = grid.feather(region, seam, confidence, unit, recoloured, loose if is_shaded else (), is_shaded)
        layers.append((np.ascontiguousarray(coefficients, np.float32), weight))
    return grid.apply(edit.original, layers, interrupt)


def map_units(
    classes: list[int], restyled: np.ndarray, adjustments: dict[int, ColourAdjust], groups: tuple[tuple[int, ...], ...]
) -> list[tuple[int, ...]]:
    """`classes` (restyled, or adjusted by hand) in the units that take one and the same
    colour map: the classes of a restyled unit (`restyled_units`) with the same hand
    adjustment together, and each class adjusted but not restyled alone."""
    units = []
    for unit in restyled_units([c for c in classes if restyled[c]], groups):
        alike: dict[ColourAdjust | None, list[int]] = {}
        for c in unit:
            alike.setdefault(adjustments.get(c), []).append(c)
        units += [tuple(same) for same in alike.values()]
    return units + [(c,) for c in classes if not restyled[c]]


def restyled_units(restyled: list[int], groups: tuple[tuple[int, ...], ...]) -> list[tuple[int, ...]]:
    """The restyled classes in the units that take one colour map: those of a group (of
    regions that took one style: skin, nose, ears and neck) together, so that they change
    as one skin with no seam where the model draws them apart; any other alone."""
    units, seen = [], set()
    for c in restyled:
        if c not in seen:
            group = next((g for g in groups if c in g), (c,))
            unit = tuple(k for k in restyled if k not in seen and (k == c or k in group))
            seen.update(unit)
            units.append(unit)
    return units


def unit_anchor(
    mask: np.ndarray,
    framed: np.ndarray,
    unit: tuple[int, ...],
    colour_map: ColourMap,
    targets: np.ndarray,
    shaded: bool = False,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The affine map that anchors a unit's colours to the style photo's (`anchor_map`),
    measured on its largest class whose style photo's colours `targets` knows (a region
    the style photo lacked, ears under hair, follows it); None when it knows none. `mask`
    and `framed`: the edit's mask and its photo at the model's size."""
    known = [c for c in unit if np.isfinite(targets[c]).all() and (mask == c).any()]
    if not known:
        return None
    lead = max(known, key=lambda c: int((mask == c).sum()))
    inside = mask == lead
    return anchor_map(framed[inside] / 255.0, colour_map.stacked()[inside], targets[lead], shaded)


def square_weight(edit: PhotoEdit, area: np.ndarray, seam: float) -> tuple[tuple, np.ndarray] | None:
    """(the photo box around a model-size `area`, its weight there (h, w, 1)): a soft seam
    `seam` px to each side of its border, faded towards the square's inner edges; None
    when the area is empty."""
    photo, size = edit.original, area.shape[0]
    box = changed_box(area, edit.framing.to_photo(size), 2 * seam + 2, photo.shape[:2])
    if box is None:
        return None
    to_model = edit.framing.to_model(size)
    inside = to_photo_pixels(area.astype(np.float32), to_model, box, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT) >= 0.5
    fade = to_photo_pixels(
        edge_fade(size, inner_edges(edit.framing, photo.shape[:2])),
        to_model,
        box,
        cv2.INTER_LINEAR,
        cv2.BORDER_CONSTANT,
    )
    return box, (soft_mask(inside, seam) * fade)[..., None]


def paint_shapes(result: np.ndarray, edit: PhotoEdit, shape_area: np.ndarray, edited: np.ndarray, seam: float) -> None:
    """The painted shapes (where the mask changed) drawn into `result` in place: the
    synthesis upsampled and filtered with the photo as the guide, behind a soft seam."""
    placed = square_weight(edit, shape_area, seam)
    if placed is None:
        return
    box, weight = placed
    photo, to_model = edit.original, edit.framing.to_model(edited.shape[0])
    y0, y1, x0, x1 = box
    drawn = to_photo_pixels(edited.astype(np.float32), to_model, box, cv2.INTER_CUBIC)
    guide = cv2.cvtColor(photo[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    drawn = guided_filter(guide, drawn, max(1, round(GUIDE_RADIUS * edit.framing.side)), GUIDE_EPS)
    under = result[y0:y1, x0:x1].astype(np.float32)
    out = under * (1 - weight) + drawn * weight
    touched = weight[..., 0] > 0
    result[y0:y1, x0:x1][touched] = np.clip(np.rint(out[touched]), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class PhotoMaps:
    """Painted shapes told at the photo's size (`restyle --edited-mask`): the edited labels,
    the photo's own, and how many pixels the photo's own may be off at class borders (0
    for a label map given with the photo; a parse's: one parse pixel)."""

    edited: np.ndarray
    own: np.ndarray
    unsure: int = 0


@dataclass
class ShapeMaps:
    """A photo edit's painted shapes on the photo's pixels, in the box the fill searches:
    where they lie (`area`), the classes painted (`labels`), the photo's own classes
    (`own`, UNKNOWN where not known) and the model's picture of the edit (`guide`)."""

    box: tuple[int, int, int, int]  # y0, y1, x0, x1
    area: np.ndarray
    labels: np.ndarray
    own: np.ndarray
    guide: np.ndarray
    shape_area: np.ndarray  # where the model-size mask was painted
    unsure: int = 0  # photo pixels the photo's classes (`own`) may be off at their borders
    reach: float = DEFAULT_FILL.search_margin  # box sides around the shapes the fill searches
    guide_px: float = 1.0  # photo pixels per pixel of the model's picture (`guide`'s own resolution)

    @classmethod
    def of(
        cls,
        edit: PhotoEdit,
        edited_mask: np.ndarray,
        edited: np.ndarray,
        shape: tuple[int, int],
        settings: FillSettings = DEFAULT_FILL,
        photo_maps: PhotoMaps | None = None,
        grid: RegionGrid | None = None,
        around: np.ndarray | None = None,
    ) -> ShapeMaps | None:
        """The maps of `edited_mask`'s shapes on a photo of `shape`, in the box the fill
        searches around them (or around the model-size area `around`: what changed), None
        where there is nothing; `photo_maps` (the edited labels and the photo's own at the
        photo's size) say where and what was painted, to the pixel."""
        size, seam = edited_mask.shape[0], seam_of(edit)
        shape_area = edited_mask != edit.mask
        if photo_maps is not None:
            painted = photo_maps.edited != photo_maps.own
            rows, cols = np.flatnonzero(painted.any(1)), np.flatnonzero(painted.any(0))
            box = (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) if rows.size else None
        else:
            box = changed_box(
                shape_area if around is None else around, edit.framing.to_photo(size), 2 * seam + 2, shape
            )
        if box is None:
            return None
        if photo_maps is None:
            grid = grid or RegionGrid(edit)
            own_in = grid.photo_labels
            painted_classes = np.unique(edited_mask[shape_area])
        else:
            own_in = lambda b: photo_maps.own[b[0] : b[1], b[2] : b[3]]
            painted_classes = np.unique(photo_maps.edited[painted])
        # the sources lie around the shape: the box the fill searches (texture_fill.search_box)
        box, reach, own = reaching_box(box, painted_classes, own_in, settings, shape)
        y0, y1, x0, x1 = box
        to_model = edit.framing.to_model(size)
        guide = np.clip(to_photo_pixels(edited.astype(np.float32), to_model, box, cv2.INTER_CUBIC), 0, 255)
        if photo_maps is not None:
            labels = photo_maps.edited[y0:y1, x0:x1]
            area = labels != own
        else:
            labels = to_photo_pixels(edited_mask, to_model, box, cv2.INTER_NEAREST, cv2.BORDER_CONSTANT)
            area = labels != to_photo_pixels(edit.mask, to_model, box, cv2.INTER_NEAREST, cv2.BORDER_CONSTANT)
            # outlines smooth at the photo's size, not the mask's stairs, worked out around
            # the shapes alone (the box the fill searches is 9 times larger)
            shapes = changed_box(shape_area, edit.framing.to_photo(size), 2 * seam + 2, shape)
            inner = overlap(shapes, box) if shapes is not None else None
            if inner is not None:
                iy0, iy1, ix0, ix1 = inner
                here = (slice(iy0 - y0, iy1 - y0), slice(ix0 - x0, ix1 - x0))
                labels[here] = smooth_labels_in_photo(edited_mask, to_model, inner)
                area[here] = labels[here] != smooth_labels_in_photo(edit.mask, to_model, inner)
        # the photo's classes from a parse at the model's size: a model pixel is this many photo pixels
        guide_px = float(edit.framing.to_photo(size)[0, 0])
        unsure = photo_maps.unsure if photo_maps is not None else int(np.ceil(guide_px))
        return cls(box, area, labels, own, guide.astype(np.uint8), shape_area, unsure, reach, guide_px)


def reaching_box(
    box: tuple[int, int, int, int],
    classes: np.ndarray,
    own_in: Callable[[tuple[int, int, int, int]], np.ndarray],
    settings: FillSettings,
    shape: tuple[int, int],
) -> tuple[tuple[int, int, int, int], float, np.ndarray]:
    """The box a fill of shapes in `box` searches, its margin (box sides) and the photo's
    classes in it: the
    settings' margin, doubled (up to MAX_REACH) while one of the painted `classes` has too
    few pixels in it to copy (`own_in`: the photo's classes in a box). A dab painted far
    from its class took the model's flat picture, though the photo had the class a little
    further away."""
    margin = settings.search_margin
    while True:
        grown = grown_box(box, margin, shape)
        own = own_in(grown)
        whole = grown == (0, shape[0], 0, shape[1])
        if whole or margin >= MAX_REACH or all((own == c).sum() >= 2 * settings.enough for c in classes):
            return grown, margin, own
        margin *= 2


def fill_in_box(
    result: np.ndarray,
    maps: ShapeMaps,
    region: np.ndarray,
    own: np.ndarray,
    settings: FillSettings,
    max_pixels: int | None,
    exemplars_at: Callable[[float], Callable[[list[int]], list]] | None = None,
    interrupt: Callable[[], bool] | None = None,
) -> list[int]:
    """`region` (a part of `maps.area`, in its box) of `result` filled in place with
    texture of the pixels `own` says are of each one's class, on a copy scaled down to at
    most `max_pixels` filled pixels when given; the classes lacking a source returned."""
    y0, y1, x0, x1 = maps.box
    under = result[y0:y1, x0:x1]
    region = region | stale_outline(under, region, maps.labels, own, maps.unsure)
    scale = min(1.0, np.sqrt(max_pixels / max(1, region.sum()))) if max_pixels else 1.0
    small = lambda a, interp: cv2.resize(a, None, fx=scale, fy=scale, interpolation=interp) if scale < 1 else a
    filled = texture_fill(
        small(under, cv2.INTER_AREA),
        small(region.astype(np.uint8), cv2.INTER_NEAREST) > 0,
        small(maps.labels, cv2.INTER_NEAREST),
        small(own, cv2.INTER_NEAREST),
        small(maps.guide, cv2.INTER_AREA),
        # a box grown past the margin for a class it lacked: the fill searches all of it
        settings if maps.reach <= settings.search_margin else replace(settings, search_margin=None),
        exemplars_at(scale) if exemplars_at is not None else None,
        interrupt,
        round(maps.unsure * scale),
        maps.guide_px * scale,
    )
    image = filled.image if scale == 1 else cv2.resize(filled.image, under.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    # no feather: the fill meets the photo in its own colours (texture_fill's membrane),
    # and a ramp into the pixels under the shape would bring back what was painted over;
    # only where it meets another class is its outline antialiased (a pixel's width)
    alpha = outline_alpha(region, maps.labels)[region][:, None]
    under[region] = np.clip(np.rint(under[region] * (1 - alpha) + image[region] * alpha), 0, 255).astype(np.uint8)
    return filled.lacking


def outline_alpha(region: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(h, w) in [0, 1]: how much of each painted pixel (`region`) is its painted class
    (`labels`), 1 but where the shape meets another class, where it falls to about 0.6 on
    the outline's pixel and less on a stair's corner: the outline antialiased, as a
    camera's is. Painted hair on skin cut out pixel by pixel read as a sticker."""
    alpha = np.ones(region.shape, np.float32)
    for c in np.unique(labels[region]):
        mine = region & (labels == c)
        share = cv2.GaussianBlur((labels == c).astype(np.float32), (0, 0), OUTLINE_SIGMA)
        alpha[mine] = np.clip(1.5 * share[mine] - 0.4, 0, 1)
    return alpha


def fill_shapes(
    result: np.ndarray,
    edit: PhotoEdit,
    edited_mask: np.ndarray,
    edited: np.ndarray,
    settings: FillSettings = DEFAULT_FILL,
    max_pixels: int | None = None,
    photo_maps: PhotoMaps | None = None,
    grid: RegionGrid | None = None,
    bank: SegmentBank | None = None,
    interrupt: Callable[[], bool] | None = None,
) -> list[int]:
    """The painted shapes (where `edited_mask` differs from the photo's own) filled in
    `result` in place with texture of its own pixels of each shape's class, guided by the
    model's picture `edited` (models/inference/texture_fill.py), at the photo's
    resolution or, with `max_pixels`, on a copy scaled down to that many painted pixels.
    `photo_maps`: the edited labels and the photo's own at the photo's size (`restyle
    --edited-mask`), which then say where and what was painted, to the pixel. A class the
    photo has too little of is copied from `bank`'s photos that hold it; one neither has
    takes the synthesis (`paint_shapes`); those classes are returned. `interrupt`: see
    `texture_fill`."""
    maps = ShapeMaps.of(edit, edited_mask, edited, result.shape[:2], settings, photo_maps, grid)
    if maps is None:
        return []
    exemplars = exemplars_from(bank, edit, edited_mask.shape[0])
    lacking = fill_in_box(result, maps, maps.area, maps.own, settings, max_pixels, exemplars, interrupt)
    paint_lacking(result, maps.shape_area, edit, edited_mask, edited, lacking)
    return lacking


def exemplars_from(
    bank: SegmentBank | None, edit: PhotoEdit, size: int
) -> Callable[[float], Callable[[list[int]], list]] | None:
    """For a fill at a scale of the photo, the exemplars of the classes it lacks: `bank`'s
    photos that hold most of each, at the photo's scale (photo pixels per bank pixel)."""
    if bank is None:
        return None
    per_bank_pixel = edit.framing.to_photo(size)[0, 0] * size / bank.size
    return lambda scale: lambda classes: bank_exemplars(bank, classes, per_bank_pixel * scale)


def paint_lacking(
    result: np.ndarray, shape_area: np.ndarray, edit: PhotoEdit, edited_mask: np.ndarray, edited: np.ndarray, lacking
) -> None:
    """Painted classes with no texture to copy take the model's synthesis (in the
    model-size `shape_area`)."""
    if lacking:
        paint_shapes(result, edit, shape_area & np.isin(edited_mask, lacking), edited, seam_of(edit))


class LiveFill:
    """The live view's fill, kept from frame to frame on the thread that makes frames: a
    stroke refills only what it changed (the pixels newly painted or painted another
    class, and a ring of the fill around them, so that the new part joins the old), and
    the rest of the shapes keep the texture they were given. The refilled part may read
    the kept fill as a source, so a fringe grows from itself. What a stroke leaves is
    the same kind of picture as a whole fill, but not the same pixels: the export fills
    the shapes afresh (`fill_shapes`)."""

    RING = 1  # patch sides of kept fill refilled around what changed
    SWEEPS = 1  # PatchMatch sweeps per coarser level while a stroke goes on (the finest: two)

    def __init__(self) -> None:
        self._base: np.ndarray | None = None  # the picture the kept fill lies on
        self._painted: np.ndarray | None = None  # (H, W) bool: where the last frame filled
        self._labels: np.ndarray | None = None  # (H, W) the classes it filled them with
        self._picture: np.ndarray | None = None  # the last frame's picture
        self._mask: np.ndarray | None = None  # the model-size mask it was made for
        self._bank: SegmentBank | None = None  # where classes the photo lacks were copied from

    def fill(
        self,
        recoloured: np.ndarray,
        edit: PhotoEdit,
        edited_mask: np.ndarray,
        edited: np.ndarray,
        settings: FillSettings,
        max_pixels: int | None,
        grid: RegionGrid | None = None,
        afresh: bool = False,
        bank: SegmentBank | None = None,
        interrupt: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """`recoloured` (the photo of this view with its regions recoloured; a new one
        starts afresh) with `edited_mask`'s shapes filled, refilling at most `max_pixels`
        pixels' worth at full detail (more: on a smaller copy); `afresh`: every shape
        filled anew, as `fill_shapes` fills it (a stroke has ended); `bank`: where the
        classes the photo lacks take their texture from; `interrupt`: see `texture_fill`
        (an interrupted fill changes nothing kept). Only the box around
        what the mask changed since the last frame is looked at: the rest of the picture
        is the last frame's."""
        shape = recoloured.shape[:2]
        stale = self._painted is None or self._painted.shape != shape or self._base is not recoloured
        if afresh or stale or self._bank is not bank:  # nothing painted yet
            picture, mask = recoloured, edit.mask
            painted, labels = np.zeros(shape, bool), np.zeros(shape, np.uint8)
        else:
            picture, mask, painted, labels = self._picture, self._mask, self._painted.copy(), self._labels.copy()
        moved = edited_mask != mask
        maps = ShapeMaps.of(edit, edited_mask, edited, shape, settings, grid=grid, around=moved)
        result = picture.copy()
        if maps is not None:
            box = (slice(maps.box[0], maps.box[1]), slice(maps.box[2], maps.box[3]))
            kept = maps.area & painted[box] & (maps.labels == labels[box])
            # erased, or about to be refilled; the rest stays the last frame's (the box may be
            # most of the view where it grew to reach a class: `reaching_box`)
            stale = (painted[box] | maps.area) & ~kept
            result[box][stale] = recoloured[box][stale]
            changed = maps.area & ~kept
            if changed.any():
                ring = np.ones((2 * self.RING * settings.patch + 1,) * 2, np.uint8)
                region = maps.area & (cv2.dilate(changed.astype(np.uint8), ring) > 0)
                own = maps.own.copy()
                own[kept] = maps.labels[kept]  # the kept fill is a source of its painted class
                quick = replace(settings, iterations=self.SWEEPS) if not afresh else settings
                exemplars = exemplars_from(bank, edit, edited_mask.shape[0])
                lacking = fill_in_box(result, maps, region, own, quick, max_pixels, exemplars, interrupt)
                # what lacks a source takes the synthesis, where the stroke changed the mask
                near = cv2.dilate(moved.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
                paint_lacking(result, maps.shape_area & near, edit, edited_mask, edited, lacking)
                result[box][kept] = picture[box][kept]
            painted[box], labels[box] = maps.area, maps.labels
        # kept only once the frame is made: an interrupted one leaves the last frame's
        self._base, self._bank, self._picture, self._mask = recoloured, bank, result, edited_mask.copy()
        self._painted, self._labels = painted, labels
        return result

    def adopt(self, picture: np.ndarray, recoloured: np.ndarray, edited_mask: np.ndarray) -> None:
        """The last frame's picture replaced by `picture`, a finer one of the same edit (the
        photo-size fill scaled to the view), when the last frame was made from `recoloured`
        and `edited_mask`: the next stroke then grows from what is on screen."""
        same = self._base is recoloured and self._mask is not None and np.array_equal(self._mask, edited_mask)
        if same and self._picture is not None and picture.shape == self._picture.shape:
            self._picture = picture


def render_edit(
    engine: Engine,
    edit: PhotoEdit,
    mask: np.ndarray,
    per_block: list[StyleMatrix],
    own: StyleMatrix,
    adjustments: dict[int, ColourAdjust] | None = None,
    photo_maps: PhotoMaps | None = None,
    bank: SegmentBank | None = None,
    lacking: list[int] | None = None,
) -> np.ndarray:
    """The edited photo at the size of `edit.original`: `mask` with `per_block` styles
    (one, or one per SEAN block), composited into the photo whose own style is `own`,
    with the regions' hand `adjustments` (class -> ColourAdjust); painted shapes take the
    photo's own texture, or `bank`'s where the photo has too little of a class
    (`fill_shapes`, where `photo_maps` says at the photo's size). `lacking`, when given,
    is extended with the painted classes neither had (their shapes take the synthesis)."""
    own = own.filled_from(engine.mean_style)
    per_block = [style.filled_from(engine.mean_style) for style in per_block]
    styles = per_block if len(per_block) > 1 else per_block[0]
    base = engine.synthesize(edit.mask, own)
    restyled = restyled_classes(own, per_block)
    recoloured = recolour(
        edit,
        base,
        engine.synthesize(edit.mask, styles),
        restyled,
        adjustments,
        blended_colours(per_block),
        engine.labels.groups,
        shaded=engine.labels.shaded,
        loose=engine.labels.loose,
    )
    edited = engine.synthesize(mask, styles) if (mask != edit.mask).any() else None
    if edited is None:
        return recoloured
    result = recoloured.copy()
    said = fill_shapes(result, edit, mask, edited, DEFAULT_FILL, None, photo_maps, bank=bank)
    if lacking is not None:
        lacking.extend(said)
    return result


def start_edit(
    engine: Engine,
    original: np.ndarray,
    source_key: str,
    mask: np.ndarray | None = None,
    refine_steps: int = 0,
    file: bytes = b"",
    face: int = 0,
    faces: list | None = None,
) -> tuple[PhotoEdit, StyleMatrix, np.ndarray]:
    """A photo as an edit starts from it, its own style, and the photo as the model sees
    it: framed and parsed, or, with the photo's own `mask` (at its size), the whole photo
    stretched to the square as the mask is; encoded, then refined when asked."""
    surround = None
    if mask is None:
        framing, framed = engine.frame(original, face, faces)
        own_mask = engine.parser.parse(framed)
        if engine.labels.framing == "face":
            wide = framing.widened(SURROUND)
            surround = Surround(wide, engine.parser.parse(wide.crop(original, engine.size)))
    else:
        framing = whole_photo(original)
        framed = stretched_photo(original, engine.size)
        own_mask = cv2.resize(mask, (engine.size, engine.size), interpolation=cv2.INTER_NEAREST)
    own = engine.encode(framed, own_mask, refine_steps)
    return PhotoEdit(original, framing, own_mask, source_key, file, surround), own, framed
