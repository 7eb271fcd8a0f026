"""Training the stylisation decoder block by block (PhotoWCT2's way), the VGG19 frozen.

Stage 1 solves `to_rgb` (relu1_1 -> photo, a linear map: least squares over the stage's
batches, `LinearFit`); stage k trains the block that undoes level k
(relu{k}_1 -> relu{k-1}_1), the blocks below it frozen. Each stage's loss is the
encoder's own features at the level it reaches (mean squared error, relative to their
mean square) plus the photo decoded through the frozen blocks below (L1): a block learns
to invert one stage of the VGG, which takes minutes on a CPU, not days. An optional last
stage trains every block together on the whole decoder's photo (L1 + squared error), so
that the small errors of the blocks do not add up along the chain.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, RandomSampler

from models.data.datasets import split_folders
from models.data.files import load_image
from models.inference.weights import load_vgg19
from models.nets.stylizer import PIXEL_SCALE, StylizerConfig, StylizerDecoder, StylizerEncoder
from models.training.options import StylizerTrainOptions
from models.training.scaffold import Run, infinite, run_steps


class PhotoCrops(Dataset):
    """Random square crops of photos, scaled by 0.5-1.0 of their shorter side, flipped at random."""

    def __init__(self, paths: list[Path], size: int):
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        rng = np.random.default_rng(int(torch.randint(2**31, ())))
        image = load_image(self.paths[i])
        side = min(image.shape[:2])
        crop = max(self.size, round(side * rng.uniform(0.5, 1.0)))
        if crop > side:  # a photo smaller than the crop: scaled up to it
            image = cv2.resize(image, None, fx=crop / side, fy=crop / side, interpolation=cv2.INTER_CUBIC)
        top = rng.integers(0, image.shape[0] - crop + 1)
        left = rng.integers(0, image.shape[1] - crop + 1)
        image = cv2.resize(
            image[top : top + crop, left : left + crop], (self.size, self.size), interpolation=cv2.INTER_AREA
        )
        if rng.random() < 0.5:
            image = image[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255


def stage_of(step: int, stages: list[int]) -> int:
    """Which stage a global step belongs to: 1 for to_rgb, k for the block of level k."""
    total = 0
    for stage, n in enumerate(stages, start=1):
        total += n
        if step < total:
            return stage
    return len(stages)


class LinearFit:
    """`to_rgb` is linear in the relu1_1 features of each pixel's 3x3 window, so it is
    solved, not trained: the normal equations summed over batches, then one solve. Adam
    struggles with these large, strongly correlated features (300 steps left it at 19.6
    dB on held-out photos; least squares on 20 photos reaches 42 dB)."""

    RIDGE = 1e-7  # of the mean diagonal: keeps the solve well posed
    WINDOWS = 1024  # sampled per image: 577 unknowns need far fewer than a crop's 16,384

    def __init__(self, channels: int, state: dict | None = None):
        n = channels * 9 + 1
        self.xtx = state["xtx"] if state else torch.zeros(n, n, dtype=torch.float64)
        self.xty = state["xty"] if state else torch.zeros(n, 3, dtype=torch.float64)

    def add(self, relu1_1: torch.Tensor, image: torch.Tensor) -> None:
        for f, target in zip(relu1_1, image):  # image by image: a batch's windows are hundreds of MB
            x = F.unfold(F.pad(f[None], (1, 1, 1, 1), mode="reflect"), 3)[0].T
            picked = torch.randperm(len(x), device=x.device)[: self.WINDOWS]
            x = torch.cat([x[picked], torch.ones(len(picked), 1, device=x.device)], 1).double()
            self.xtx += (x.T @ x).cpu()
            self.xty += (x.T @ target.flatten(1).T[picked].double()).cpu()

    def solve_into(self, decoder: StylizerDecoder) -> None:
        ridge = self.RIDGE * self.xtx.diagonal().mean() * torch.eye(len(self.xtx), dtype=torch.float64)
        w = torch.linalg.solve(self.xtx + ridge, self.xty) * PIXEL_SCALE  # the conv works in 0-255
        conv = decoder.to_rgb
        with torch.no_grad():
            conv.weight.copy_(w[:-1].T.reshape(conv.weight.shape).to(conv.weight))
            conv.bias.copy_(w[-1].to(conv.bias))

    def state(self) -> dict:
        return {"xtx": self.xtx, "xty": self.xty}


def decode_from(decoder: StylizerDecoder, enc, level: int, x: torch.Tensor) -> torch.Tensor:
    """`x` at relu{level}_1 decoded to a photo through the blocks below."""
    for k in range(level, 1, -1):
        x = decoder.block(k)(x, enc.residuals[k - 2], enc.indices[k - 2])
    return decoder.rgb(x)


def stage_loss(decoder: StylizerDecoder, enc, image: torch.Tensor, stage: int) -> tuple[torch.Tensor, dict]:
    if stage > decoder.cfg.depth:  # the joint stage: the whole chain, end to end
        out = decoder(enc)
        l1 = F.l1_loss(out, image)
        return l1 + F.mse_loss(out, image), {"pixel": l1.item()}
    target = enc.features[stage - 2]
    x = decoder.block(stage)(enc.features[stage - 1], enc.residuals[stage - 2], enc.indices[stage - 2])
    feature = F.mse_loss(x, target) / target.pow(2).mean().clamp_min(1e-6)
    pixel = F.l1_loss(decode_from(decoder, enc, stage - 1, x), image)
    return feature + pixel, {"feature": feature.item(), "pixel": pixel.item()}


def train_stylizer(opts: StylizerTrainOptions) -> Path:
    """Train (or resume) the decoder; returns the checkpoint path."""
    if len(opts.stage_iterations) not in (opts.depth, opts.depth + 1):
        raise ValueError(
            f"--stage-iterations needs {opts.depth} numbers for depth {opts.depth} "
            f"(or {opts.depth + 1}, with the joint stage)"
        )
    run = Run.start(opts.run_dir, opts.device, opts.seed)
    device = run.device
    paths = [p.image for train, _ in split_folders(opts.data, opts.holdout) for p in train]
    if not paths:
        raise ValueError("no training photos found")
    cfg = StylizerConfig(depth=opts.depth, upsampling=opts.upsampling)
    encoder = StylizerEncoder(load_vgg19(), opts.depth).to(device)
    decoder = StylizerDecoder(cfg).to(device)
    if run.state is not None:
        decoder.load_state_dict(run.state["decoder"])
    step = run.step
    fit = LinearFit(decoder.to_rgb.in_channels, run.state.get("fit") if run.state else None)
    run.begin(step, photos=len(paths), data=opts.data, device=str(device))
    loader = DataLoader(
        PhotoCrops(paths, opts.size),
        batch_size=opts.batch_size,
        num_workers=opts.workers,
        sampler=RandomSampler(paths, replacement=True, num_samples=10**8),
        drop_last=True,
    )
    batches = infinite(loader, None)
    optimizers: dict[int, torch.optim.Optimizer] = {}

    def one_step(step: int) -> dict[str, float]:
        stage = stage_of(step, opts.stage_iterations)
        if stage == 1:
            image = next(batches).to(device)
            with torch.no_grad():
                fit.add(encoder(image).features[0], image)
            if step + 1 == opts.stage_iterations[0]:
                fit.solve_into(decoder)
                with torch.no_grad():
                    return {"stage": 1, "pixel": F.l1_loss(decoder.rgb(encoder(image).features[0]), image).item()}
            return {"stage": 1}
        if stage not in optimizers:  # a new stage: only its module trains (all of them in the joint stage)
            decoder.requires_grad_(False)
            module = decoder if stage > opts.depth else decoder.block(stage)
            module.requires_grad_(True)
            # Adam's first steps move every weight by about the learning rate: trained blocks
            # get a tenth of it
            optimizers[stage] = torch.optim.Adam(module.parameters(), lr=opts.lr / (10 if stage > opts.depth else 1))
        image = next(batches).to(device)
        with torch.no_grad():
            enc = encoder(image)
        loss, parts = stage_loss(decoder, enc, image, stage)
        optimizers[stage].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[stage].step()
        return {"stage": stage, **parts}

    def save(step: int) -> None:
        run.save(
            step,
            {"decoder": decoder.state_dict(), "options": asdict(opts), "config": cfg.to_dict(), "fit": fit.state()},
        )

    run_steps(step, sum(opts.stage_iterations), opts.minutes, 100, one_step, save, "train-stylizer")
    return run.checkpoint
