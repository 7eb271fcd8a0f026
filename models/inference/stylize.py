"""Photorealistic stylisation: a picture given the look of a reference photo (light, time
of day, colour grading) while it stays a photograph, region by region when both have
label masks. The SPADE + PIS sibling of SEAN's per-region codes: it works on any photo.

Two steps, as in Li et al. (ECCV 2018):
1. stylisation: whitening and colouring transforms (WCT) of VGG features, decoded by our
   decoder (`models.nets.stylizer`), at the deepest level and again after each decoder
   block (PhotoWCT2's progressive way). Per class when both photos have masks; a class
   is transformed only where both photos have enough of it and the two areas are not
   wildly different (FastPhotoStyle's rule), the rest keep their look.
2. smoothing (`models.data.filters`): the output made a locally affine function of the
   content photo, so its edges are the content's: a guided filter (default), Li et al.'s
   closed-form affinity solve (exact, for pictures up to about half a megapixel), or none.

The network runs at a working size (`NET_SIDE` by default); the smoothing's local affine
model carries the result to the content's own size, so a 12-megapixel photo keeps every
edge, and `strength` blends the result with the content.
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
from models.inference.weights import WEIGHTS_DIR, build_for_weights, load_vgg19, read_weights
from models.nets.stylizer import StylizerConfig, StylizerDecoder, StylizerEncoder, pad_to_multiple
from models.settings import NET_SIDE, SMOOTHING

STYLIZER_NAME = "stylizer"
# The network's working size (longer side): the guided filter carries its local affine
# model to the picture's own size. 12 held-out CelebA-HQ pairs at 512 px: edges kept 0.872
# and colour 2.59 Lab units from the style's with the network at 384, against 0.876 and
# 2.53 at 512, in 0.94 s instead of 2.08; at 256 px, 192 against 256: 0.892 / 2.95
# against 0.896 / 2.65, in 0.27 s instead of 0.60.
PREVIEW_SIDE = 192  # the editor's live look
MIN_SIDE = 16
MIN_SHARE = 0.0002  # a class takes the style only if it covers this share of both photos...
MAX_AREA_RATIO = 100.0  # ...and neither share is more than this many times the other
SHRINK = 4.0  # a class's feature covariance is shrunk towards the photo's by SHRINK x channels pseudo-pixels
MIN_FEATURE_PIXELS = 10  # a level transforms a class only where both have this many feature pixels
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
    """A style photo's features at every level, kept while it is the look; its colouring
    transforms are worked out once per level and class, on first use (the editor reuses
    them for every frame)."""

    features: list[torch.Tensor]
    labels: np.ndarray | None
    _colourings: dict = field(default_factory=dict)

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
    """The frozen VGG19 encoder and our decoder, with the stylisation and smoothing steps."""

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
    def style_features(self, style: np.ndarray, labels: np.ndarray | None, side: int = NET_SIDE) -> StyleFeatures:
        check_photo(style, "style photo")
        check_mask(labels, style, "style mask")
        image, _ = pad_to_multiple(to_tensor(fit_side(style, side)), self.multiple)
        return StyleFeatures(self.encoder(image.contiguous(memory_format=torch.channels_last)).features, labels)

    @torch.no_grad()
    def stylize_net(
        self, content: np.ndarray, style: StyleFeatures, content_labels: np.ndarray | None, plan: ClassPlan
    ) -> np.ndarray:
        """The stylisation step alone, at `content`'s size: float (H, W, 3) in [0, 1]."""
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

    def stylize(
        self,
        content: np.ndarray,
        style: StyleFeatures,
        content_labels: np.ndarray | None = None,
        smooth: str = "guided",
        strength: float = 1.0,
        side: int = NET_SIDE,
        keep: frozenset[int] = frozenset(),
    ) -> np.ndarray:
        """`content` (H, W, 3) uint8 with the look of `style`: uint8 at the content's size.
        The classes in `keep` keep their own colours (a photo edit's restyled regions: a
        look must not undo the hair colour just given)."""
        check_photo(content, "photo")
        check_mask(content_labels, content, "mask")
        if smooth not in SMOOTHING:
            raise InputError(f"smoothing must be one of {', '.join(SMOOTHING)}, not {smooth!r}")
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
        styled = self.stylize_net(small, style, small_labels, plan)
        guide_small = small.astype(np.float32) / 255
        if smooth == "exact":
            if guide_small.shape[0] * guide_small.shape[1] > EXACT_MAX_PIXELS:
                raise InputError(
                    f"exact smoothing takes pictures up to {EXACT_MAX_PIXELS:,} pixels "
                    f"at the working size; use a smaller --size or --smooth guided"
                )
            styled = filters.affinity_smooth(guide_small, styled)
        if smooth == "none":
            result = cv2.resize(styled, (content.shape[1], content.shape[0]), interpolation=cv2.INTER_LINEAR)
        else:  # the local affine model at the working size, applied at the content's own
            result = filters.guided_upsample(
                guide_small, styled, content.astype(np.float32) / 255, **smoothing_window(small.shape[:2], smooth)
            )
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
