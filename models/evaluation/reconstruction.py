"""Reconstruction evaluation, as in the SEAN paper: each photo is re-synthesised from its
own mask and its own style codes, then compared with the photo (PSNR, SSIM, RMSE) and,
as a set, with the real photos (FID)."""

from __future__ import annotations

import cv2
import numpy as np
from tqdm import tqdm

from models.data.datasets import resize_crop
from models.data.files import save_image
from models.data.mask_noise import hand_drawn
from models.evaluation.metrics import (
    ConfusionMatrix,
    InceptionFeatures,
    RegionError,
    frechet_distance,
    kernel_inception_distance,
    psnr,
    rmse,
    ssim,
)
from models.inference.engine import Engine
from models.inference.sims import BankPainter

FID_BATCH = 16
KID_MIN_IMAGES = 4  # KID's subsets are half the set: two images each at least


def generated(
    engine: Engine, mask: np.ndarray, how: str, rng: np.random.Generator, painter: BankPainter | None = None
) -> np.ndarray:
    """A picture of `mask` from no photo's style: the mean style, a random one (sampled
    per class from the training codes' spread) or the bank's canvas."""
    if how == "mean":
        return engine.synthesize(mask, engine.mean_style)
    if how == "random":
        return engine.synthesize(mask, engine.random_style(rng))
    if painter is None:
        raise ValueError("generating from a bank needs a BankPainter")
    return painter.paint(mask, painter.canvas(mask))


def real_features(inception: InceptionFeatures, engine: Engine, pairs: list) -> np.ndarray:
    """Inception features of the photos of `pairs`, prepared as the evaluation's are."""
    photos = [resize_crop(*pair.read(engine.labels), engine.size)[0] for pair in pairs]
    return np.concatenate([inception(photos[i : i + FID_BATCH]) for i in range(0, len(photos), FID_BATCH)])


def evaluate(
    engine: Engine,
    pairs: list,
    fid: bool = True,
    save_dir=None,
    progress: bool = True,
    refine_steps: int = 0,
    mask_noise: float = 0.0,
    generate: str = "",
    painter: BankPainter | None = None,
    floor_pairs: list | None = None,
    at_aspect: bool = False,
) -> dict:
    """Mean PSNR / SSIM / RMSE over `pairs`, the FID of the reconstructions, and (when the
    model has a parser) pixel accuracy and mIoU of the parsed reconstructions against the
    photos' labels, as the paper's Table 2 measures with its segmentation network; and
    `regions`, where the squared error lies (per label: share of pixels and of error, PSNR).

    Photos are scaled and centre-cropped to the model's size, as in training without
    augmentation. The codes are the encoder's (the paper's protocol), then `refine_steps`
    steps of `StyleRefiner` when asked (what the editor does with a photo).

    With `mask_noise` S > 0 the generator draws from the mask made to look hand-painted
    at strength S (`models.data.mask_noise`, seeded per photo), as an editor's user gives
    it; the codes still come from the photo and its own mask, and the parsed output is
    scored against the painted mask (does the picture follow what was drawn?).

    With `generate` (one of GENERATE) each picture is made from the mask alone, as
    `generated` makes it (SIMS's and SPADE's protocol): FID and the parser's scores are
    what count then; PSNR and SSIM against the photo are reported but say little.

    Beside FID, KID (unbiased; x 1000, with its spread over subsets). With `floor_pairs`
    (as many other real photos, disjoint from `pairs`), both figures of real photos
    against real photos at the same sample size: the floor a model's figure sits on (FID
    on 100 faces is mostly bias: two sets of real faces score about 78).

    With `at_aspect` a scene's layout is painted at the aspect the engine paints it
    (`Engine.scene_layout`: pix2pix's square Cityscapes layouts at 2:1, as the streets
    were), then squeezed back into the photo's square, so that every figure compares the
    same pixels as the square render's do.
    """
    rng = np.random.default_rng(0)
    inception = InceptionFeatures(engine.device) if fid else None
    segmentation = ConfusionMatrix(engine.labels.num_classes) if engine.has_parser else None
    scores = {"psnr": [], "ssim": [], "rmse": []}
    regions = RegionError(engine.labels.num_classes)
    features = {"real": [], "fake": []}
    pending = {"real": [], "fake": []}

    def flush() -> None:
        for key, images in pending.items():
            if images:
                features[key].append(inception(images))
                images.clear()

    for pair in tqdm(pairs, desc="eval", disable=not progress):
        photo, mask = resize_crop(*pair.read(engine.labels), engine.size)
        if not generate:
            style = engine.encode(photo, mask, refine_steps)
            if mask_noise:
                mask = hand_drawn(mask, np.random.default_rng(len(scores["psnr"])), mask_noise)
        layout = engine.scene_layout(mask) if at_aspect else mask
        fake = generated(engine, layout, generate, rng, painter) if generate else engine.synthesize(layout, style)
        if fake.shape[:2] != photo.shape[:2]:
            fake = cv2.resize(fake, photo.shape[1::-1], interpolation=cv2.INTER_AREA)
        scores["psnr"].append(psnr(fake, photo))
        scores["ssim"].append(ssim(fake, photo))
        scores["rmse"].append(rmse(fake, photo))
        regions.add(fake, photo, mask)
        if segmentation is not None:
            segmentation.add(mask, engine.parser.parse(fake))
        if save_dir is not None:
            save_image(save_dir / f"{pair.stem}.png", fake)
        if inception is not None:
            pending["real"].append(photo)
            pending["fake"].append(fake)
            if len(pending["real"]) == FID_BATCH:
                flush()
    if inception is not None:
        flush()
    result = {
        "model": engine.info.name,
        "images": len(pairs),
        "size": engine.size,
        "device": str(engine.device),
        "refine_steps": refine_steps,
        "mask_noise": mask_noise,
        "generate": generate or None,
        "at_aspect": at_aspect,
        **{k: float(np.mean(v)) for k, v in scores.items()},
        "fid": None,
        "kid": None,
        "kid_std": None,
        "fid_floor": None,
        "kid_floor": None,
        "seg_accuracy": None,
        "miou": None,
        "regions": regions.table(engine.labels.names),
    }
    if segmentation is not None:
        result["seg_accuracy"], result["miou"] = segmentation.pixel_accuracy(), segmentation.mean_iou()
    if inception is not None and len(pairs) > 1:
        real, fake = np.concatenate(features["real"]), np.concatenate(features["fake"])
        result["fid"] = frechet_distance(real, fake)
        if len(pairs) >= KID_MIN_IMAGES:
            result["kid"], result["kid_std"] = kernel_inception_distance(real, fake)
        if floor_pairs and len(floor_pairs) >= KID_MIN_IMAGES:
            other = real_features(inception, engine, floor_pairs)
            result["fid_floor"] = frechet_distance(real, other)
            result["kid_floor"] = kernel_inception_distance(real, other)[0]
    return result
