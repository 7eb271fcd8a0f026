"""Semi-parametric synthesis (SIMS, Qi et al., CVPR 2018) on our SEAN model: for every
component of a layout, retrieve the bank's segments of the same class whose mask and
surroundings fit best; paste the chosen ones into a canvas; make the photo from the layout
and the canvas.

The photo is made by `models.nets.canvas.CanvasNet`, trained as SIMS trains its network
(on canvases simulated from the training photos, `models.data.canvases`): it starts from
SEAN's picture of the layout and takes the canvas's real pixels in, matching their
colours and closing the borders and holes the canvas leaves. Regions the bank has no
segments for keep SEAN's picture. (Reading the canvas with SEAN's encoder instead, the
regions' codes taken from the pasted pixels, was measured first and lost to the mean
style: docs/RESULTS.md.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from models.data.bank import ClassSegments, Component, SegmentBank, coarse, component_at, components, describe, min_area
from models.data.canvases import interiors
from models.data.files import InputError
from models.data.tensors import image_to_tensor, tensor_to_image
from models.inference.engine import Engine
from models.inference.styles import StyleMatrix
from models.inference.weights import build_for_weights, read_weights
from models.nets.canvas import CanvasConfig, CanvasNet
from models.nets.sean import one_hot

TOP_K = 5
CACHE_LIMIT = 20_000  # components whose candidates a painter remembers (a few MB)
SHORTLIST = 256  # candidates kept from the coarse pass for the full comparison
ASPECT_WEIGHT = 0.25  # score lost per unit of |log(aspect ratio / bank's aspect ratio)|: a
# segment squeezed to half its width looks wrong whatever its IoU


@dataclass
class Match:
    """The bank's best segments for one component of a layout, best first, and the one used."""

    component: Component
    candidates: np.ndarray  # bank segment indices
    scores: np.ndarray  # IoU(mask) + IoU(context) - aspect penalty, each candidate
    choice: int = 0  # index into candidates

    @property
    def segment(self) -> int:
        return int(self.candidates[self.choice])


@dataclass
class Canvas:
    """What retrieval made of a layout: the pasted pixels and which were pasted."""

    image: np.ndarray  # (H, W, 3) uint8, black where nothing was pasted
    filled: np.ndarray  # (H, W) bool
    matches: list[Match]
    missing: list[str] = field(default_factory=list)  # classes of the layout the bank lacks


ComponentKey = tuple[int, int, int]  # (class, y, x of its first pixel): a component across frames


def component_key(comp: Component) -> ComponentKey:
    return (comp.label, *comp.seed)


def retrieve(
    bank: SegmentBank,
    layout: np.ndarray,
    k: int = TOP_K,
    covers: Callable[[int, ComponentKey], bool] | None = None,
    cache: dict | None = None,
) -> tuple[list[Match], list[str]]:
    """(one Match per component of `layout` that the bank has segments of its class for,
    the names of the layout's classes the bank has none of). `layout` is at the bank's size;
    with `covers`, only the components it accepts. `cache` (a dict the caller keeps)
    remembers each component's candidates by its class, box and mask, so a brush stroke
    retrieves again only for the components it changed.

    A candidate's score is the IoU of the masks, each scaled to its box, plus the IoU of
    the contexts (over all classes pooled: agreeing pixels / (2 * pixels - agreeing)), less
    an aspect-ratio penalty. Every candidate of the class is scored on coarse descriptors
    at once; the best SHORTLIST are scored again on the full ones."""
    names, have = bank.label_names(), bank.classes()
    matches, missing = [], set()
    if cache is not None and len(cache) > CACHE_LIMIT:
        cache.clear()
    for comp in components(layout, min_area(bank.size)):
        if covers is not None and not covers(comp.label, component_key(comp)):
            continue
        if comp.label not in have:
            missing.add(names[comp.label])
            continue
        mask, context = describe(layout, comp)
        memo = (comp.label, comp.box, mask.tobytes(), context.tobytes(), k)
        found = cache.get(memo) if cache is not None else None
        if found is None:
            found = best_segments(bank.of_label(comp.label), comp, mask, context, k)
            if cache is not None:
                cache[memo] = found
        matches.append(Match(comp, *found))
    return matches, sorted(missing)


def best_segments(
    segments: ClassSegments, comp: Component, mask: np.ndarray, context: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(the k best of a class's segments for a component, their scores), best first."""
    coarse_mask, coarse_context = coarse(mask[None], context[None])
    top, bottom, left, right = comp.box
    penalty = ASPECT_WEIGHT * np.abs(segments.log_aspects - np.log((bottom - top) / (right - left)))
    rough = (
        soft_iou(segments.coarse_masks, coarse_mask[0])
        + context_iou(segments.coarse_contexts, coarse_context[0])
        - penalty
    )
    shortlist = best_of(rough, SHORTLIST)
    score = (
        soft_iou(segments.masks[shortlist], mask)
        + context_iou(segments.contexts[shortlist], context)
        - penalty[shortlist]
    )
    best = best_of(score, k)
    return segments.index[shortlist[best]], score[best].astype(np.float32)


def soft_iou(masks: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """IoU of each row of `masks` with `mask` (bool or shares in [0, 1])."""
    masks, mask = masks.astype(np.float32, copy=False), mask.astype(np.float32)
    inter = masks @ mask
    return inter / np.maximum(masks.sum(1) + mask.sum() - inter, 1e-6)


def context_iou(contexts: np.ndarray, context: np.ndarray) -> np.ndarray:
    """IoU of label maps over all classes pooled: a pixel that agrees is in one class's
    intersection and union, one that disagrees in two unions."""
    agree = np.count_nonzero(contexts == context, axis=1)
    return agree / (2 * context.size - agree)


def best_of(score: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, highest first."""
    best = np.argpartition(-score, k)[:k] if len(score) > k else np.arange(len(score))
    return best[np.argsort(-score[best])]


def compose(bank: SegmentBank, layout: np.ndarray, matches: Iterable[Match]) -> tuple[np.ndarray, np.ndarray]:
    """(canvas, filled): each match's chosen segment scaled to its component's box and
    pasted where both masks agree, away from the borders. Every segment is cut to its
    component, so none covers another and no depth order is needed."""
    canvas = np.zeros((*layout.shape, 3), np.uint8)
    filled = np.zeros(layout.shape, bool)
    inside = interiors(layout)
    for match in matches:
        top, bottom, left, right = match.component.box
        crop, mask = bank.segment(match.segment)
        w, h = right - left, bottom - top
        shrink = w * h < crop.shape[0] * crop.shape[1]
        crop = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        mask = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        where = mask & match.component.mask & inside[top:bottom, left:right]
        canvas[top:bottom, left:right][where] = crop[where]
        filled[top:bottom, left:right] |= where
    return canvas, filled


def make_canvas(
    bank: SegmentBank,
    layout: np.ndarray,
    k: int = TOP_K,
    choices: dict[ComponentKey, int] | None = None,
    covers: Callable[[int, ComponentKey], bool] | None = None,
    cache: dict | None = None,
) -> Canvas:
    """Retrieve and compose for `layout` (at the bank's size). `choices` maps a component to
    the candidate to use instead of the best (the editor's "next candidate"); `covers` and
    `cache` are `retrieve`'s."""
    if layout.shape != (bank.size, bank.size):
        raise InputError(
            f"layout is {layout.shape[1]}x{layout.shape[0]}, the bank's photos are "
            f"{bank.size}x{bank.size}; resize it first"
        )
    matches, missing = retrieve(bank, layout, k, covers, cache)
    for match in matches:
        key = component_key(match.component)
        if choices and key in choices:
            match.choice = choices[key] % len(match.candidates)
    image, filled = compose(bank, layout, matches)
    return Canvas(image, filled, matches, missing)


def canvas_weights_stem(model_name: str) -> str:
    """The canvas network's weights are named after the SEAN model they paint with."""
    return f"{model_name}_canvas"


class BankPainter:
    """A bank and the canvas network, for one engine: layout -> canvas -> photo."""

    def __init__(self, engine: Engine, bank: SegmentBank, net: CanvasNet):
        self.engine, self.bank = engine, bank
        self._retrieved: dict = {}  # retrieve's cache: strokes retrieve only what they change
        self.net = net.to(engine.device, engine.dtype).eval().requires_grad_(False)

    @classmethod
    def load(cls, engine: Engine, bank: str | Path | SegmentBank) -> "BankPainter":
        where = "the bank" if isinstance(bank, SegmentBank) else str(bank)
        bank = bank if isinstance(bank, SegmentBank) else SegmentBank.load(bank)
        bank.check_fits(engine.info.model, engine.labels, where)
        path = engine.weights_dir / f"{canvas_weights_stem(engine.info.name)}.json"
        if not path.is_file():
            raise InputError(
                f"model '{engine.info.name}' has no canvas network ({path} is missing); "
                f"train one with `python main.py train-canvas --model {engine.info.model} ...`"
            )
        info, tensors = read_weights(path, CanvasInfo.from_dict)
        if info.config.num_classes != engine.labels.num_classes:
            raise InputError(
                f"{path}: made for {info.config.num_classes} classes, model "
                f"'{engine.info.name}' has {engine.labels.num_classes}"
            )
        return cls(engine, bank, build_for_weights(lambda: CanvasNet(info.config), tensors, path.name))

    def layout(self, mask: np.ndarray) -> np.ndarray:
        """`mask` checked and resized to the bank's size, where retrieval works."""
        return cv2.resize(
            self.engine.checked_mask(mask), (self.bank.size, self.bank.size), interpolation=cv2.INTER_NEAREST
        )

    def canvas(
        self,
        mask: np.ndarray,
        k: int = TOP_K,
        choices: dict | None = None,
        covers: Callable[[int, ComponentKey], bool] | None = None,
    ) -> Canvas:
        """The canvas of `mask` (any size); `make_canvas` says what the rest means."""
        return make_canvas(self.bank, self.layout(mask), k, choices, covers, self._retrieved)

    def component_at(self, mask: np.ndarray, x: float, y: float) -> Component | None:
        """The component of `mask` (at any size) under the point (x, y) of the mask, as
        retrieval knows it, or None where there is none large enough to retrieve for."""
        layout = self.layout(mask)
        fy, fx = self.bank.size / mask.shape[0], self.bank.size / mask.shape[1]  # a scene's layout is wider
        point = (min(max(int(y * fy), 0), self.bank.size - 1), min(max(int(x * fx), 0), self.bank.size - 1))
        comp = component_at(layout, int(layout[point]), point)
        return comp if comp.area >= min_area(self.bank.size) else None

    def paint(
        self, mask: np.ndarray, canvas: Canvas, style: StyleMatrix | list[StyleMatrix] | None = None
    ) -> np.ndarray:
        """The photo of `mask` (as the engine paints it) from `canvas`: the canvas network over SEAN's
        picture of the mask in `style` (default: the mean style)."""
        base = self.engine.synthesize(mask, self.engine.mean_style if style is None else style)
        return self.paint_over(base, mask, canvas)

    @torch.no_grad()
    def paint_over(self, base: np.ndarray, mask: np.ndarray, canvas: Canvas) -> np.ndarray:
        """The canvas network over `base`, SEAN's picture of `mask` (at the shape the engine
        paints `mask` at: a scene at its aspect, the square canvas stretched back to it)."""
        engine = self.engine
        h, w = base.shape[:2]
        layout = engine.model_mask(mask, "mask", (h, w))
        image = cv2.resize(canvas.image, (w, h), interpolation=cv2.INTER_LINEAR)
        filled = cv2.resize(canvas.filled.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        to = {"device": engine.device, "dtype": engine.dtype}
        out = self.net(
            image_to_tensor(base).to(**to),
            image_to_tensor(image).to(**to),
            torch.from_numpy(filled)[None, None].to(**to),
            one_hot(torch.from_numpy(layout)[None], engine.labels.num_classes).to(**to),
        )
        return tensor_to_image(out)[0]


@dataclass
class CanvasInfo:
    """The JSON beside the canvas network's weights."""

    model: str  # the SEAN weights (their name) whose pictures it was trained on
    config: CanvasConfig
    training: dict

    def to_dict(self) -> dict:
        return {
            "format": 1,
            "kind": "canvas",
            "name": canvas_weights_stem(self.model),
            "model": self.model,
            "config": self.config.to_dict(),
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "CanvasInfo":
        if d.get("kind") != "canvas":
            raise ValueError("not a canvas network's weights")
        return cls(str(d["model"]), CanvasConfig.from_dict(d["config"]), dict(d.get("training", {})))
