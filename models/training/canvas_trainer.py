"""Training the canvas network (`models.nets.canvas`) as SIMS trains its synthesis network:
on canvases simulated from the training photos themselves (`models.data.canvases`), each
painted back into its own photo. SEAN's picture of each training mask with the mean style
(the `base` the network starts from) is made once and kept in the run folder.

Loss: L1 + SPADE's VGG perceptual loss against the photo, on random crops (the network is
convolutional: trained on crops, it paints whole layouts).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, RandomSampler
from tqdm import tqdm

from models.data.bank import SegmentBank
from models.data.canvases import ColourStats, simulated_canvas, simulation_settings
from models.data.datasets import resize_crop, split_folders
from models.data.tensors import image_to_tensor
from models.inference.engine import Engine
from models.inference.weights import load_vgg19
from models.nets.canvas import CanvasConfig, CanvasNet
from models.nets.sean import one_hot
from models.training.losses import VGGLoss
from models.training.options import CanvasTrainOptions
from models.training.scaffold import Run, infinite, run_steps


def base_pictures(engine: Engine, pairs: list, path: Path) -> np.ndarray:
    """SEAN's mean-style picture of every pair's mask (N, S, S, 3) uint8, made once and kept
    at `path` (a .npy beside a list of the stems it holds)."""
    stems_path = path.with_suffix(".json")
    stems = [p.stem for p in pairs]
    if path.is_file() and stems_path.is_file() and json.loads(stems_path.read_text()) == stems:
        return np.load(path, mmap_mode="r")
    size = engine.size
    out = np.lib.format.open_memmap(path.with_suffix(".tmp.npy"), "w+", np.uint8, (len(pairs), size, size, 3))
    for i, pair in enumerate(tqdm(pairs, desc="SEAN's pictures of the training masks", mininterval=10)):
        _, mask = resize_crop(*pair.read(engine.labels), size)
        out[i] = engine.synthesize(mask, engine.mean_style)
    out.flush()
    del out
    path.with_suffix(".tmp.npy").replace(path)
    stems_path.write_text(json.dumps(stems))
    return np.load(path, mmap_mode="r")


class CanvasCrops(Dataset):
    """Random crops of (photo, labels, base picture, simulated canvas, filled)."""

    def __init__(self, pairs: list, engine: Engine, bases: np.ndarray, colours: ColourStats | None, crop: int):
        self.pairs, self.scheme, self.size = pairs, engine.labels, engine.size
        self.bases, self.colours, self.crop = bases, colours, crop

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng(int(torch.randint(2**31, ())))
        image, labels = resize_crop(*self.pairs[i].read(self.scheme), self.size)
        canvas, filled = simulated_canvas(image, labels, rng, self.colours)
        top, left = rng.integers(0, self.size - self.crop + 1, 2)
        window = (slice(top, top + self.crop), slice(left, left + self.crop))
        return {
            "image": image_to_tensor(image[window])[0],
            "base": image_to_tensor(self.bases[i][window])[0],
            "canvas": image_to_tensor(canvas[window])[0],
            "filled": torch.from_numpy(np.ascontiguousarray(filled[window]))[None].float(),
            "labels": torch.from_numpy(np.ascontiguousarray(labels[window])).long(),
        }


def train_canvas(opts: CanvasTrainOptions) -> Path:
    """Train (or resume) the canvas network; returns the checkpoint path."""
    engine = Engine.load(opts.model, "cpu")
    run = Run.start(
        opts.run_dir if opts.name else Path(opts.runs_dir) / f"canvas_{engine.info.name}", opts.device, opts.seed
    )
    device = run.device
    pairs = [p for train, _ in split_folders(opts.data, opts.holdout) for p in train]
    if not pairs:
        raise ValueError("no training photos found")
    colours = None
    if opts.bank:
        bank = SegmentBank.load(opts.bank)
        bank.check_fits(engine.info.model, engine.labels, opts.bank)
        colours = ColourStats(bank.arrays["seg_label"], bank.arrays["seg_mean"], bank.arrays["seg_std"])
    bases = base_pictures(engine, pairs, run.folder / "base.npy")
    cfg = CanvasConfig(engine.labels.num_classes, opts.width)
    net = CanvasNet(cfg).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=opts.lr, betas=(0.5, 0.999))
    vgg_loss = VGGLoss(load_vgg19().to(device).eval().requires_grad_(False), opts.vgg_size) if opts.lambda_vgg else None
    if run.state is not None:
        net.load_state_dict(run.state["net"])
        opt.load_state_dict(run.state["opt"])
    step = run.step
    run.begin(
        step, photos=len(pairs), data=opts.data, bank=opts.bank, device=str(device), simulation=simulation_settings()
    )
    loader = DataLoader(
        CanvasCrops(pairs, engine, bases, colours, opts.size),
        batch_size=opts.batch_size,
        num_workers=opts.workers,
        drop_last=True,
        sampler=RandomSampler(pairs, replacement=True, num_samples=10**8),
    )
    batches = infinite(loader, None)

    def one_step(step: int) -> dict[str, float]:
        b = {k: v.to(device) for k, v in next(batches).items()}
        out = net(b["base"], b["canvas"], b["filled"], one_hot(b["labels"], cfg.num_classes))
        l1 = F.l1_loss(out, b["image"])
        losses = {"l1": l1}
        if vgg_loss is not None:
            losses["vgg"] = vgg_loss(out, b["image"]) * opts.lambda_vgg
        opt.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        opt.step()
        return {k: v.item() for k, v in losses.items()}

    def save(step: int) -> None:
        run.save(
            step,
            {
                "net": net.state_dict(),
                "opt": opt.state_dict(),
                "options": asdict(opts),
                "config": cfg.to_dict(),
                "model": engine.info.name,
            },
        )

    run_steps(step, opts.iterations, opts.minutes, 100, one_step, save, "train-canvas")
    return run.checkpoint
