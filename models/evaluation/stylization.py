"""Photorealistic stylisation, measured on held-out pairs (content photo, style photo, both
with label masks) against two baselines computed the same way:

* edges kept: the correlation of the content's and the output's Laplacians (grey), 1 at best;
* colour reached: per class both photos have (the stylisation's class plan), the distance
  between the output's mean Lab colour there and the style photo's, averaged over the
  classes (CIE76 units, 0 at best);
* foreign colours: the share of the output's pixels whose Lab colour lies farther than
  FOREIGN_DISTANCE from every colour of the same class in both photos (a magenta halo, a
  grey tooth, a blotch no photo had), 0 at best;
* photorealism: KID (x1000) of the outputs against real photos of the same kind (the
  held-out photos that are not contents), with the content photos themselves as the floor;
* methods: ours (the shipped per-class colour transfer, smoothed) and the WCT network with
  and without smoothing;
* baselines: Reinhard et al.'s colour transfer (Lab means and deviations) over the whole
  picture, per class under the same class plan, and per class followed by our smoothing
  (the guided filter with the content as its guide: the simple strong baseline).
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import torch
from tqdm import tqdm

from models.data.datasets import resize_crop
from models.inference.stylize import (
    ClassPlan,
    Stylizer,
    blended,
    class_plan,
    default_smoothing,
    smoothed,
    style_look,
    stylize,
)

METHODS = (
    "ours",  # the shipped look: the per-class colour transfer, smoothed
    "ours_network",  # the WCT network, smoothed
    "ours_network_no_smoothing",
    "reinhard_global",
    "reinhard_per_class",
    "reinhard_smoothed",
)
FOREIGN_DISTANCE = 15.0  # CIE76 units: farther than this from every colour of its class in both photos
LAB_BIN = 2.5  # the colour grid foreign colours are found on


def to_lab(image: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float Lab (L 0-100)."""
    return cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)


def from_lab(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def edge_correlation(content: np.ndarray, output: np.ndarray) -> float:
    """Pearson correlation of the two pictures' Laplacians (grey, float)."""
    lap = lambda im: cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F).ravel()
    a, b = lap(content), lap(output)
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def class_colour_distance(
    output: np.ndarray, style: np.ndarray, content_labels: np.ndarray, style_labels: np.ndarray, plan: ClassPlan
) -> float:
    """Mean over the planned classes of |mean Lab of the output there - the style's there|."""
    out_lab, style_lab = to_lab(output), to_lab(style)
    distances = [
        np.linalg.norm(out_lab[content_labels == k].mean(0) - style_lab[style_labels == k].mean(0)) for k in plan.styled
    ]
    return float(np.mean(distances)) if distances else float("nan")


def foreign_share(
    output: np.ndarray, content: np.ndarray, style: np.ndarray, content_labels: np.ndarray, style_labels: np.ndarray
) -> float:
    """The share of `output`'s pixels whose Lab colour is farther than FOREIGN_DISTANCE from
    every colour the same class has in the content or in the style photo (the colours on
    a grid of LAB_BIN units, the distance by a distance transform of the grid)."""
    from scipy.ndimage import distance_transform_edt

    out_lab, c_lab, s_lab = to_lab(output), to_lab(content), to_lab(style)
    shape = (int(100 / LAB_BIN) + 2, int(256 / LAB_BIN) + 2, int(256 / LAB_BIN) + 2)
    cell = lambda lab: (
        np.clip((lab[..., 0] / LAB_BIN).astype(int), 0, shape[0] - 1),
        np.clip(((lab[..., 1] + 128) / LAB_BIN).astype(int), 0, shape[1] - 1),
        np.clip(((lab[..., 2] + 128) / LAB_BIN).astype(int), 0, shape[2] - 1),
    )
    foreign = 0
    for k in np.unique(content_labels):
        seen = np.zeros(shape, bool)
        seen[cell(c_lab[content_labels == k])] = True
        if (style_labels == k).any():
            seen[cell(s_lab[style_labels == k])] = True
        distance = distance_transform_edt(~seen) * LAB_BIN
        foreign += int((distance[cell(out_lab[content_labels == k])] > FOREIGN_DISTANCE).sum())
    return foreign / content_labels.size


def reinhard(
    content: np.ndarray,
    style: np.ndarray,
    content_area: np.ndarray | None = None,
    style_area: np.ndarray | None = None,
    into: np.ndarray | None = None,
) -> np.ndarray:
    """Reinhard et al. (2001): the content's Lab means and deviations made the style's, over
    the whole pictures or over the given areas (written into `into`, float Lab)."""
    c_lab, s_lab = to_lab(content), to_lab(style)
    c_px = c_lab.reshape(-1, 3) if content_area is None else c_lab[content_area]
    s_px = s_lab.reshape(-1, 3) if style_area is None else s_lab[style_area]
    moved = (c_px - c_px.mean(0)) / (c_px.std(0) + 1e-6) * s_px.std(0) + s_px.mean(0)
    out = c_lab.copy() if into is None else into
    if content_area is None:
        out[:] = moved.reshape(out.shape)
    else:
        out[content_area] = moved
    return out


def reinhard_per_class(
    content: np.ndarray, style: np.ndarray, content_labels: np.ndarray, style_labels: np.ndarray, plan: ClassPlan
) -> np.ndarray:
    out = to_lab(content)
    for k in plan.styled:
        reinhard(content, style, content_labels == k, style_labels == k, into=out)
    return from_lab(out)


def stylize_pair(
    stylizer: Stylizer,
    method: str,
    content: np.ndarray,
    style: np.ndarray,
    content_labels: np.ndarray,
    style_labels: np.ndarray,
    plan: ClassPlan,
    framing: str | None = None,
) -> np.ndarray:
    """`content` given `style`'s look by `method`; "ours" smoothed as shipped for a label
    scheme of `framing` (`default_smoothing`)."""
    if method == "reinhard_global":
        return from_lab(reinhard(content, style))
    if method == "reinhard_per_class":
        return reinhard_per_class(content, style, content_labels, style_labels, plan)
    if method == "reinhard_smoothed":  # our smoothing step, after Reinhard's per-class transfer
        moved = reinhard_per_class(content, style, content_labels, style_labels, plan).astype(np.float32) / 255
        return blended(smoothed(content, moved, content, "guided"), content, 1.0)
    network = stylizer if method.startswith("ours_network") else None
    look = style_look(style, style_labels, max(style.shape[:2]), network)
    smooth = "none" if method.endswith("no_smoothing") else "guided" if network else default_smoothing(framing)
    return stylize(content, look, content_labels, smooth, side=max(content.shape[:2]), network=network)


def reconstruction_psnr(stylizer: Stylizer, photo: np.ndarray) -> float:
    """The decoder alone: the photo encoded and decoded, no stylisation (dB)."""
    from models.evaluation.metrics import psnr
    from models.inference.stylize import to_tensor
    from models.nets.stylizer import pad_to_multiple

    with torch.no_grad():
        image, (h, w) = pad_to_multiple(to_tensor(photo), stylizer.multiple)
        out = stylizer.decoder(stylizer.encoder(image))[0, :, :h, :w].clamp(0, 1)
    return psnr((out.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8), photo)


def check_methods(methods: tuple[str, ...]) -> None:
    """ValueError naming any of `methods` that is not one of METHODS."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"no such stylisation method {', '.join(unknown)} (choose from {', '.join(METHODS)})")


def evaluate_stylization(
    stylizer: Stylizer,
    pairs: list,
    scheme,
    size: int = 256,
    progress: bool = True,
    reference: list | None = None,
    methods: tuple[str, ...] = METHODS,
) -> dict:
    """Each held-out pair i is stylised with pair i + 1 as its style photo (wrapping round),
    both scaled and centre-cropped to `size`; per method of `methods` the mean of both
    measures, and the seconds each took; and how well the decoder alone gives each photo
    back. A few methods on many pairs: the network's take most of the time, and KID's
    spread falls with the pairs."""
    check_methods(methods)
    scores = {m: {"edge_correlation": [], "lab_distance": [], "foreign_share": [], "seconds": []} for m in methods}
    outputs = {m: [] for m in methods}
    photos = [resize_crop(*pair.read(scheme), size) for pair in pairs]
    decoded = [reconstruction_psnr(stylizer, photo) for photo, _ in photos]
    for i in tqdm(range(len(photos)), desc="eval-stylize", disable=not progress):
        (content, c_lab), (style, s_lab) = photos[i], photos[(i + 1) % len(photos)]
        plan = class_plan(c_lab, s_lab)
        for method in methods:
            start = time.perf_counter()
            out = stylize_pair(stylizer, method, content, style, c_lab, s_lab, plan, scheme.framing)
            scores[method]["seconds"].append(time.perf_counter() - start)
            scores[method]["edge_correlation"].append(edge_correlation(content, out))
            scores[method]["lab_distance"].append(class_colour_distance(out, style, c_lab, s_lab, plan))
            scores[method]["foreign_share"].append(foreign_share(out, content, style, c_lab, s_lab))
            outputs[method].append(out)
    unchanged = {
        "edge_correlation": 1.0,
        "lab_distance": float(
            np.nanmean(
                [
                    class_colour_distance(c, s, cl, sl, class_plan(cl, sl))
                    for (c, cl), (s, sl) in zip(photos, photos[1:] + photos[:1])
                ]
            )
        ),
    }
    unchanged["foreign_share"] = 0.0
    result = {
        "pairs": len(photos),
        "size": size,
        "decoder_psnr": float(np.mean(decoded)),
        "content_unchanged": unchanged,
        **{m: {k: float(np.nanmean(v)) for k, v in s.items()} for m, s in scores.items()},
    }
    if reference:
        kid = outputs_kid(outputs, [c for c, _ in photos], [resize_crop(*r.read(scheme), size)[0] for r in reference])
        for name, value in (kid or {}).items():
            result.setdefault(name, {})["kid"] = value
    return result


def outputs_kid(outputs: dict, contents: list, reference: list) -> dict | None:
    """KID x1000 (and its spread) of each method's outputs, and of the contents themselves
    (the floor), against the `reference` real photos; None without the Inception network."""
    from models.data.files import InputError
    from models.evaluation.metrics import InceptionFeatures, kernel_inception_distance

    try:
        features = InceptionFeatures(torch.device("cpu"))
    except InputError:
        return None
    real = features(reference)
    kid = {m: list(kernel_inception_distance(features(images), real)) for m, images in outputs.items()}
    kid["content_unchanged"] = list(kernel_inception_distance(features(contents), real))
    return kid
