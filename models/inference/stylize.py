"""Photorealistic stylisation: a picture given the look of a reference photo (light, time
of day, colour grading) while it stays a photograph, region by region when both have
label masks. The SPADE + PIS sibling of SEAN's per-region codes: it works on any photo.

Two steps, as in Li et al. (ECCV 2018):
1. stylisation, by one of two methods (`LOOK_METHODS`):
   - "transfer" (the default): per class, an affine colour map that moves the content's
     colours to the style photo's: their means, the colour differences' covariance (the
     linear Monge-Kantorovich map, Pitie and Kokaram 2007), luma's spread within
     LUMA_GAIN of its own (`look_map`). Only the photo's own pixels move, so nothing
     appears that the photo did not have; on 50 held-out face pairs KID x1000 is 8.5
     against the network's 25.4 (docs/RESULTS.md).
   - "network": whitening and colouring transforms (WCT) of VGG features, decoded by our
     decoder (`models.nets.stylizer`), at the deepest level and again after each decoder
     block (PhotoWCT2's progressive way). Its decoder draws low-frequency blotches on
     faces that no smoothing removes (they are smooth); it stays for research.
   Per class when both photos have masks; a class is transformed only where both photos
   have enough of it and the two areas are not wildly different (FastPhotoStyle's rule),
   the rest keep their look.
2. smoothing (`models.data.filters`): the output made a locally affine function of the
   content photo, so its edges are the content's: a guided filter (default), Li et al.'s
   closed-form affinity solve (exact, for pictures up to about half a megapixel), or none.

Both run at a working size (`NET_SIDE` by default); the smoothing's local affine model
carries the result to the content's own size, so a 12-megapixel photo keeps every edge,
and `strength` blends the result with the content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from models.data import filters
from models.data.files import InputError
from models.data.framing import Framing
from models.inference.composite import mask_in_photo
from models.inference.recolour import BAND_ROWS, IDENTITY, OPPONENT, affine, apply_coefficients, distribution_map, warp
from models.inference.weights import WEIGHTS_DIR, build_for_weights, load_vgg19, read_weights
from models.nets.stylizer import StylizerConfig, StylizerDecoder, StylizerEncoder, pad_to_multiple
from models.settings import NET_SIDE, SMOOTHING

STYLIZER_NAME = "stylizer"
# The working size (NET_SIDE, longer side): the guided filter carries its local affine
# model to the picture's own size. 12 held-out CelebA-HQ pairs at 512 px: edges kept 0.872
# and colour 2.59 Lab units from the style's with the network at 384, against 0.876 and
# 2.53 at 512, in 0.94 s instead of 2.08.
MIN_SIDE = 16
MIN_SHARE = 0.0002  # a class takes the style only if it covers this share of both photos...
MAX_AREA_RATIO = 100.0  # ...and neither share is more than this many times the other
SHRINK = 4.0  # a class's feature covariance is shrunk towards the photo's by SHRINK x channels pseudo-pixels
MIN_FEATURE_PIXELS = 10  # a level transforms a class only where both have this many feature pixels
MIN_COLOUR_PIXELS = 10  # the colour transfer moves a class only where both have this many pixels
# `smooth="feather"` (faces' default: `default_smoothing`): the colour transfer's class maps
# as per-pixel coefficients, each class's weight its mask bent to the photo's edges by a
# guided filter of this share of the working size's longer side (2 px at 256) and eps,
# applied at the photo's own size. 50 held-out pairs at 256 px (edges, colour, KID x1000):
# faces 0.914, 2.28, 4.2 against 0.933, 2.73, 8.5 by the guided filter of the mapped
# picture, which drew a light rim round the head and a dark line along the jaw; streets
# 0.965, 3.87, 11.4 against 0.976, 4.77, 9.8 (their floor 10.8, spreads 5-6), so streets
# keep the guided filter. A window of 4 px and eps 2e-4: faces 0.920, 3.59, 3.1 (small
# classes, eyes and lips, diluted by their neighbours' maps). docs/RESULTS.md.
FEATHER = 2 / 256
FEATHER_EPS = 1e-4
# A look scales the spread of a region's light by at most this, either way. 50 held-out
# pairs (edges, colour, KID x1000): faces 0.933, 2.73, 8.5 against 0.916, 2.57, 7.7 for a
# free gain and 0.939, 2.88, 8.6 for none; streets 0.976, 4.77, 9.8 against 0.960, 4.74,
# 9.6 and 0.982, 4.87, 10.1. The figures cannot tell them apart (spreads 4-5); a stubbled
# portrait given a smooth-skinned look can: a free gain halves the stubble's contrast.
LUMA_GAIN = (0.8, 1.25)
WCT_EPS = 1e-5  # added to the covariances' diagonals (and the smallest eigenvalue kept)
EXACT_MAX_PIXELS = 600_000


@dataclass(frozen=True)
class StylizerInfo:
    """The JSON beside the decoder's weights."""

    name: str
    config: StylizerConfig
    training: dict

    def to_dict(self) -> dict:
        return {
            "format": 1,
            "kind": "stylizer",
            "name": self.name,
            "config": self.config.to_dict(),
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "StylizerInfo":
        if d.get("kind") != "stylizer":
            raise ValueError("not a stylizer's weights")
        return cls(str(d["name"]), StylizerConfig.from_dict(d["config"]), dict(d.get("training", {})))


@dataclass
class ClassPlan:
    """Which of the content's classes take the style photo's look, and which keep their own."""

    styled: list[int]
    kept: list[int]


def class_plan(content_labels: np.ndarray | None, style_labels: np.ndarray | None) -> ClassPlan:
    """FastPhotoStyle's rule with shares of each photo instead of pixel counts (the two
    photos may differ in size). Without masks the whole picture is one region (class 0)."""
    if content_labels is None or style_labels is None:
        return ClassPlan([0], [])
    share = lambda labels: np.bincount(labels.ravel(), minlength=256)[:256] / labels.size
    c, s = share(content_labels), share(style_labels)
    present = [int(k) for k in np.flatnonzero(c)]
    ok = lambda k: c[k] >= MIN_SHARE and s[k] >= MIN_SHARE and max(c[k] / s[k], s[k] / c[k]) <= MAX_AREA_RATIO
    styled = [k for k in present if ok(k)]
    return ClassPlan(styled, [k for k in present if k not in styled])


Colouring = tuple[torch.Tensor, torch.Tensor]  # a style region's mean (C, 1) and colouring matrix (C, C)


def kept_names(names: tuple[str, ...] | list[str], content_labels: np.ndarray, style_labels: np.ndarray | None) -> str:
    """The names of the content's classes that keep their look (`class_plan`), comma
    separated; "" when every class takes the style."""
    return ", ".join(names[k] for k in class_plan(content_labels, style_labels).kept)


def covariance(f: torch.Tensor) -> torch.Tensor:
    """(C, N) features -> their (C, C) covariance, float64."""
    centred = f - f.mean(1, keepdim=True)
    return (centred @ centred.T / max(f.shape[1] - 1, 1)).double()


def eigen(
    f: torch.Tensor, prior: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(C, N) features centred, their mean, and the eigenvalues (at least WCT_EPS) and
    eigenvectors of their covariance. The pixel-sized work in float32, the C x C
    decomposition in float64 (near-singular covariances of small regions). With `prior`
    (the whole photo's covariance), a class's covariance is shrunk towards it by
    SHRINK * C pseudo-pixels: a class of few pixels has a covariance of low rank, whose
    whitening multiplies noise in the directions it never saw (blotches)."""
    mean = f.mean(1, keepdim=True)
    centred = f - mean
    cov = (centred @ centred.T / max(f.shape[1] - 1, 1)).double()
    if prior is not None and SHRINK > 0:
        n, tau = f.shape[1], SHRINK * f.shape[0]
        cov = (n * cov + tau * prior) / (n + tau)
    values, vectors = torch.linalg.eigh(cov + WCT_EPS * torch.eye(len(cov), dtype=cov.dtype, device=cov.device))
    return centred, mean, values.clamp_min(WCT_EPS), vectors


def colouring(style: torch.Tensor, prior: torch.Tensor | None = None) -> Colouring:
    """What WCT needs of (C, M) style features: their mean and Sigma^1/2 (float64)."""
    _, mean, values, vectors = eigen(style, prior)
    return mean.double(), vectors @ torch.diag(values.sqrt()) @ vectors.T


def coloured(content: torch.Tensor, colour: Colouring, prior: torch.Tensor | None = None) -> torch.Tensor:
    """WCT (Li et al., NeurIPS 2017) of (C, N) content features: their covariance whitened
    away (Sigma_c^-1/2), the style's put in its place (`colour`), the style's mean added;
    the two C x C maps are multiplied first, so the pixels are transformed once."""
    centred, _, values, vectors = eigen(content, prior)
    transform = colour[1] @ vectors @ torch.diag(values.rsqrt()) @ vectors.T
    return transform.float() @ centred + colour[0].float()


def whiten_and_colour(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """WCT of (C, N) content features with (C, M) style ones."""
    return coloured(content, colouring(style))


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """(H, W) labels -> a (h, w) long tensor, nearest."""
    return torch.from_numpy(cv2.resize(labels, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)).long()


@dataclass
class StyleFeatures:
    """A style photo as a look, kept while it is the look: the photo at the working size
    with its labels (for the colour transfer), and for the network its VGG features at
    every level (None for the transfer). Its colour statistics and colouring transforms
    are worked out once per class (and level), on first use: the editor reuses them for
    every frame."""

    photo: np.ndarray
    labels: np.ndarray | None  # at `photo`'s size
    features: list[torch.Tensor] | None = None
    _colourings: dict = field(default_factory=dict)

    def colours(self, label: int | None) -> tuple[np.ndarray, np.ndarray] | None:
        """The mean (3,) and covariance (3, 3) of class `label`'s pixels (None: the whole
        photo), RGB in [0, 1]; None when the photo has fewer than MIN_COLOUR_PIXELS of it."""
        key = ("colours", label)
        if key not in self._colourings:
            pixels = self.photo.reshape(-1, 3) if label is None else self.photo[self.labels == label]
            self._colourings[key] = colour_stats(pixels)
        return self._colourings[key]

    def colouring(self, level: int, label: int | None) -> Colouring | None:
        """The transform of class `label` (None: the whole photo) at `level` (an index of
        `features`); None when the photo has too few feature pixels of it there."""
        key = (level, label)
        if key not in self._colourings:
            flat = self.features[level][0].flatten(1)
            prior = None
            if label is not None:
                prior = self.photo_covariance(level)
                flat = flat[:, resize_labels(self.labels, self.features[level].shape[-2:]).flatten() == label]
            self._colourings[key] = colouring(flat, prior) if flat.shape[1] >= MIN_FEATURE_PIXELS else None
        return self._colourings[key]

    def photo_covariance(self, level: int) -> torch.Tensor:
        """The whole style photo's feature covariance at `level` (the classes' prior)."""
        key = (level, "covariance")
        if key not in self._colourings:
            self._colourings[key] = covariance(self.features[level][0].flatten(1))
        return self._colourings[key]


def colour_stats(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """uint8 (N, 3) pixels -> their mean and covariance in [0, 1] (float64), or None when
    there are too few of them to say."""
    if len(pixels) < MIN_COLOUR_PIXELS:
        return None
    x = pixels.astype(np.float64) / 255
    return x.mean(0), np.cov(x.T)


# class -> (A (3, 3), b (3,)): y = A x + b, RGB in [0, 1]. Not clipped to the style's range
# of the class: that flattened a stubbled chin given a clean-shaven look (the stubble,
# labelled skin, lies below any skin the style photo has) for no measured gain.
ClassMaps = dict[int, tuple[np.ndarray, np.ndarray]]


def class_maps(
    content: np.ndarray, content_labels: np.ndarray | None, style: StyleFeatures, plan: ClassPlan
) -> ClassMaps:
    """The colour transfer's map of each planned class (`look_map`), from the content's
    colours there to the style photo's; a class either photo has too
    few pixels of keeps its colours. Without masks, one map for the whole picture (key 0)."""
    whole = content_labels is None or style.labels is None
    maps = {}
    for k in [0] if whole else plan.styled:
        label = None if whole else k
        ours = colour_stats(content.reshape(-1, 3) if whole else content[content_labels == k])
        theirs = style.colours(label)
        if ours is not None and theirs is not None:
            maps[k] = look_map(*ours, *theirs)
    return maps


def look_map(mx: np.ndarray, cx: np.ndarray, my: np.ndarray, cy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The affine map (A, b) of RGB that takes colours of mean `mx` and covariance `cx` to
    the mean `my` and, for the colour differences, the covariance `cy` (BT.601 luma and
    colour differences: the linear Monge-Kantorovich map, `distribution_map`, of the two
    colour-difference channels); luma's mean moves to the style's, its spread within
    LUMA_GAIN of the photo's own. The spread of light in a region is its texture and
    shading: matched to a style photo's smoother skin it halves a stubbled face's
    contrast (a waxy portrait)."""
    to, back = OPPONENT, np.linalg.inv(OPPONENT)
    ox, oy = to @ cx @ to.T, to @ cy @ to.T
    chroma, _ = distribution_map(np.zeros(2), ox[1:, 1:], np.zeros(2), oy[1:, 1:])
    gain = np.clip(np.sqrt((oy[0, 0] + 1e-6) / (ox[0, 0] + 1e-6)), *LUMA_GAIN)
    a = back @ np.block([[np.array([[gain]]), np.zeros((1, 2))], [np.zeros((2, 1)), chroma]]) @ to
    return a, my - a @ mx


def apply_class_maps(image: np.ndarray, labels: np.ndarray | None, maps: ClassMaps) -> np.ndarray:
    """uint8 (H, W, 3) `image` through each class's map of `labels` (all of it through map
    0 without labels): float (H, W, 3) in [0, 1], unmapped classes as they were. Clipped
    before any smoothing, which would otherwise spread an out-of-range colour."""
    out = image.astype(np.float32) / 255
    for k, (a, b) in maps.items():
        area = slice(None) if labels is None else labels == k
        out[area] = out[area] @ a.T.astype(np.float32) + b.astype(np.float32)
    return np.clip(out, 0, 1)


def guided_coefficients(labels: np.ndarray, guide: np.ndarray, maps: ClassMaps) -> np.ndarray:
    """The class maps as per-pixel coefficients (h, w, 12) over `labels`, each class's
    weight its mask bent to the photo's own edges (a guided filter with `guide`, the
    content at the working size, as the guide), the weights summing to 1: where a class
    border follows an edge of the photo (dark hair on a white wall) the maps change as
    sharply as the photo does, and elsewhere (a polygon mask's border across a road) as
    smoothly as the filter's window."""
    classes = np.unique(labels)
    grey = cv2.cvtColor(guide, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    masks = (labels[..., None] == classes).astype(np.float32)
    radius = max(1, round(max(labels.shape) * FEATHER))
    weights = np.clip(filters.guided_filter(grey, masks, radius, FEATHER_EPS), 0, None) + 1e-6
    weights /= weights.sum(-1, keepdims=True)
    rows = np.stack([np.concatenate([maps[k][0].ravel(), maps[k][1]]) if k in maps else IDENTITY for k in classes])
    return (weights @ rows.astype(np.float32)).astype(np.float32)


def default_smoothing(framing: str | None) -> str:
    """A look's smoothing for a label scheme's framing ("face", or None without a model):
    the guided feather of the class maps for portraits, the guided filter otherwise."""
    return "feather" if framing == "face" else "guided"


def apply_at_size(image: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) `image` through per-pixel maps (h, w, 12) worked out at a smaller
    size, resampled bilinearly band by band (a 12-megapixel photo in bounded memory):
    float (H, W, 3) in [0, 1]."""
    (h, w), (ch, cw) = image.shape[:2], coefficients.shape[:2]
    sx, sy = w / cw, h / ch
    out = np.empty((h, w, 3), np.float32)
    for r0 in range(0, h, BAND_ROWS):
        r1 = min(h, r0 + BAND_ROWS)
        forward = affine(sx, sy, 0.5 * sx - 0.5, 0.5 * sy - 0.5 - r0)  # working pixels -> the band's
        band = warp(coefficients, forward, (r1 - r0, w), cv2.INTER_LINEAR, cv2.BORDER_REPLICATE)
        out[r0:r1] = apply_coefficients(image[r0:r1].astype(np.float32) / 255, band)
    return np.clip(out, 0, 1)


def transfer(
    content: torch.Tensor, style: StyleFeatures, level: int, content_labels: np.ndarray | None, plan: ClassPlan
) -> torch.Tensor:
    """(1, C, H, W) content features given the style's statistics at `level`, per planned
    class (or globally without masks); unplanned regions keep the content's features."""
    c_flat = content[0].flatten(1)
    if content_labels is None or style.labels is None:
        colour = style.colouring(level, None)
        return content if colour is None else coloured(c_flat, colour).view_as(content)
    # Pixels sorted by class once: each class is then a slice, not a masked gather and scatter.
    labels = resize_labels(content_labels, content.shape[-2:]).flatten()
    order = torch.argsort(labels, stable=True)
    counts = torch.bincount(labels, minlength=int(labels.max()) + 1).tolist()
    starts = np.concatenate([[0], np.cumsum(counts)])
    by_class = c_flat[:, order]
    prior = covariance(c_flat) if SHRINK > 0 else None
    for k in plan.styled:
        colour = style.colouring(level, k)
        if k < len(counts) and counts[k] >= MIN_FEATURE_PIXELS and colour is not None:
            part = slice(int(starts[k]), int(starts[k + 1]))
            by_class[:, part] = coloured(by_class[:, part], colour, prior)
    out = torch.empty_like(c_flat)
    out[:, order] = by_class
    return out.view_as(content)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255


def fit_side(image: np.ndarray, side: int) -> np.ndarray:
    """The image scaled down (never up) so that its longer side is at most `side`."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


class Stylizer:
    """The "network" method: the frozen VGG19 encoder and our decoder, the WCT step."""

    def __init__(self, decoder: StylizerDecoder, info: StylizerInfo):
        self.info, self.decoder = info, decoder.eval().requires_grad_(False)
        self.encoder = StylizerEncoder(load_vgg19(), info.config.depth)

    @classmethod
    def load(cls, weights_dir: Path = WEIGHTS_DIR) -> "Stylizer":
        path = weights_dir / f"{STYLIZER_NAME}.json"
        if not path.is_file():
            raise InputError(
                f"no stylisation weights: {path} is missing (train them with `python main.py train-stylizer`)"
            )
        info, tensors = read_weights(path, StylizerInfo.from_dict)
        decoder = build_for_weights(lambda: StylizerDecoder(info.config), tensors, path.name)
        return cls(decoder, info)

    @classmethod
    def beside(cls, weights_dir: Path) -> "Stylizer":
        """The stylisation weights in a model's weights folder (a model of one's own may
        bring its own), else the shipped ones."""
        own = (weights_dir / f"{STYLIZER_NAME}.json").is_file()
        return cls.load(weights_dir if own else WEIGHTS_DIR)

    @property
    def multiple(self) -> int:
        return 2 ** (self.info.config.depth - 1)

    @torch.no_grad()
    def features(self, photo: np.ndarray) -> list[torch.Tensor]:
        """A (working-size) photo's VGG features at every level."""
        image, _ = pad_to_multiple(to_tensor(photo), self.multiple)
        return self.encoder(image.contiguous(memory_format=torch.channels_last)).features

    @torch.no_grad()
    def stylize_net(
        self, content: np.ndarray, style: StyleFeatures, content_labels: np.ndarray | None, plan: ClassPlan
    ) -> np.ndarray:
        """The stylisation step alone, at `content`'s size: float (H, W, 3) in [0, 1]."""
        if style.features is None:
            raise ValueError("the look was made without the network's features (style_look(..., network=))")
        image, (h, w) = pad_to_multiple(to_tensor(content), self.multiple)
        image = image.contiguous(memory_format=torch.channels_last)  # a quarter faster on a CPU
        padded_labels = None
        if content_labels is not None:  # padded like the image, so each level's labels line up
            ph, pw = image.shape[-2] - h, image.shape[-1] - w
            padded_labels = np.pad(content_labels, ((0, ph), (0, pw)), mode="edge")
        enc = self.encoder(image)
        depth = self.info.config.depth
        x = transfer(enc.features[-1], style, depth - 1, padded_labels, plan)
        for level in range(depth, 1, -1):
            x = self.decoder.block(level)(x, enc.residuals[level - 2], enc.indices[level - 2])
            x = transfer(x, style, level - 2, padded_labels, plan)
        out = self.decoder.rgb(x)[0, :, :h, :w].clamp(0, 1)
        return out.permute(1, 2, 0).numpy()


def style_look(
    style: np.ndarray, labels: np.ndarray | None, side: int = NET_SIDE, network: Stylizer | None = None
) -> StyleFeatures:
    """A style photo (uint8 RGB, with its labels or None) as a look at the working size
    `side`; with `network`, its VGG features too (the "network" method needs them)."""
    check_photo(style, "style photo")
    check_mask(labels, style, "style mask")
    small = fit_side(style, side)
    if labels is not None:
        labels = cv2.resize(labels, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    return StyleFeatures(small, labels, None if network is None else network.features(small))


def stylize(
    content: np.ndarray,
    style: StyleFeatures,
    content_labels: np.ndarray | None = None,
    smooth: str = "guided",
    strength: float = 1.0,
    side: int = NET_SIDE,
    keep: frozenset[int] = frozenset(),
    network: Stylizer | None = None,
) -> np.ndarray:
    """`content` (H, W, 3) uint8 with the look of `style`: uint8 at the content's size, by
    the colour transfer, or by the WCT network when `network` is given. The classes in
    `keep` keep their own colours (a photo edit's restyled regions: a look must not undo
    the hair colour just given)."""
    check_photo(content, "photo")
    check_mask(content_labels, content, "mask")
    if smooth not in SMOOTHING:
        raise InputError(f"smoothing must be one of {', '.join(SMOOTHING)}, not {smooth!r}")
    if smooth == "feather" and network is not None:
        raise InputError("feather smoothing is the colour transfer's; the network's are guided, exact or none")
    if strength <= 0:  # the editor's slider at 0: the picture as it is, at no cost
        return content.copy()
    small = fit_side(content, side)
    small_labels = (
        None
        if content_labels is None
        else cv2.resize(content_labels, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    )
    plan = class_plan(content_labels, style.labels)
    plan = ClassPlan([k for k in plan.styled if k not in keep], plan.kept + [k for k in plan.styled if k in keep])
    maps = None
    if network is None:
        maps = class_maps(small, small_labels, style, plan)
        map_labels = small_labels if style.labels is not None else None
        if smooth == "feather":  # without labels, one class (0): the whole picture's map
            whole = np.zeros(small.shape[:2], np.uint8) if map_labels is None else map_labels
            return blended(apply_at_size(content, guided_coefficients(whole, small, maps)), content, strength)
        styled = apply_class_maps(small, map_labels, maps)
    else:
        styled = network.stylize_net(small, style, small_labels, plan)
    if smooth == "none" and maps is not None:  # the class maps, exact at the content's own size
        return blended(
            apply_class_maps(content, content_labels if style.labels is not None else None, maps), content, strength
        )
    return blended(smoothed(small, styled, content, smooth), content, strength)


def smoothed(small: np.ndarray, styled: np.ndarray, content: np.ndarray, smooth: str) -> np.ndarray:
    """The stylisation step's float picture `styled`, worked out on `small` (the content
    at the working size), smoothed by `smooth` ("guided", "exact" or "none") and carried
    to `content`'s own size: float (H, W, 3)."""
    guide_small = small.astype(np.float32) / 255
    if smooth == "exact":
        if guide_small.shape[0] * guide_small.shape[1] > EXACT_MAX_PIXELS:
            raise InputError(
                f"exact smoothing takes pictures up to {EXACT_MAX_PIXELS:,} pixels "
                f"at the working size; use a smaller --size or --smooth guided"
            )
        styled = filters.affinity_smooth(guide_small, styled)
    if smooth == "none":
        return cv2.resize(styled, (content.shape[1], content.shape[0]), interpolation=cv2.INTER_LINEAR)
    # the local affine model at the working size, applied at the content's own
    return filters.guided_upsample(
        guide_small, styled, content.astype(np.float32) / 255, **smoothing_window(small.shape[:2], smooth)
    )


def blended(result: np.ndarray, content: np.ndarray, strength: float) -> np.ndarray:
    """float `result` in [0, 1] mixed with uint8 `content` by `strength`: uint8."""
    mixed = strength * result + (1 - strength) * content.astype(np.float32) / 255
    return (np.clip(mixed, 0, 1) * 255 + 0.5).astype(np.uint8)


def picture_labels(mask: np.ndarray, shape: tuple[int, int], framing: Framing | None) -> np.ndarray:
    """A model-square mask as the labels of a picture of `shape`: resized when the picture
    is the synthesis itself, placed through `framing` when it is the photo of a photo edit."""
    if framing is None:
        return cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return mask_in_photo(mask, framing, shape)


def smoothing_window(size: tuple[int, int], smooth: str) -> dict:
    """The guided filter's radius and eps at the working size. Guided: a window of a 64th
    of the picture and a small eps (16 held-out CelebA-HQ pairs at 256 px: edges kept
    0.903 and colour 2.23 Lab units from the style's, against 0.898 and 3.47 with twice
    the window and ten times the eps, which flattened faces); after an exact solve only
    the carrying to full size is left, with a narrow window."""
    if smooth == "guided":
        return {"radius": max(2, round(min(size) / 64)), "eps": 2e-4}
    return {"radius": 1, "eps": 1e-4}


def check_photo(image: np.ndarray, what: str) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"the {what} must be an RGB image, got shape {image.shape} {image.dtype}")
    if min(image.shape[:2]) < MIN_SIDE:
        raise InputError(
            f"the {what} is {image.shape[1]}x{image.shape[0]}: stylisation needs at least {MIN_SIDE} pixels a side"
        )


def check_mask(labels: np.ndarray | None, image: np.ndarray, what: str) -> None:
    if labels is not None and labels.shape != image.shape[:2]:
        raise InputError(
            f"the {what} is {labels.shape[1]}x{labels.shape[0]} but its photo is "
            f"{image.shape[1]}x{image.shape[0]}; they must be the same size"
        )
