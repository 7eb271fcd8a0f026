"""Training and evaluating the face parser (see parser.py) on folder datasets."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, WeightedRandomSampler
from tqdm import tqdm

from models.data.datasets import (
    FolderDataset,
    PackedPair,
    Pair,
    classes_present,
    per_folder,
    rare_class_weights,
    split_folders,
)
from models.data.files import atomic_write
from models.data.labels import LabelScheme
from models.inference.parser import Parser
from models.nets.parser import FaceParser, ParserConfig
from models.training.losses import distillation_loss, parser_loss
from models.training.options import ParserTrainOptions
from models.training.scaffold import Run, decayed, infinite, run_steps, set_learning_rate
from models.training.teacher import Teacher, area_scores


def jitter(images: torch.Tensor) -> torch.Tensor:
    """Random brightness, contrast and saturation per image: user photos vary more than datasets."""
    b = images.shape[0]
    brightness = (torch.rand(b, 1, 1, 1) - 0.5) * 0.4
    contrast = 1 + (torch.rand(b, 1, 1, 1) - 0.5) * 0.5
    grey = images.mean(1, keepdim=True)
    saturation = 1 + (torch.rand(b, 1, 1, 1) - 0.5) * 0.6
    images = grey + (images - grey) * saturation
    return (
        (images - images.mean((1, 2, 3), keepdim=True)) * contrast + images.mean((1, 2, 3), keepdim=True) + brightness
    ).clamp(-1, 1)


def checkpoint_config(options: dict, num_classes: int) -> ParserConfig:
    """The architecture a checkpoint was trained with (runs from before it was recorded had
    the default widths and no residual blocks)."""
    return ParserConfig.from_dict(
        options.get("config")
        or {"num_classes": num_classes, "widths": ParserConfig.widths, "input_size": ParserConfig.input_size}
    )


def grown_from(json_path: str, scheme: LabelScheme, size: int) -> tuple[FaceParser, int, list]:
    """A shipped parser's widths and weights in the default block layout (residual blocks it
    lacks start as identity), to be trained at `size`, with its iteration count and sessions,
    so that training goes on where an earlier machine's run left off. -> (network, step, sessions)"""
    source = Parser.load(json_path, torch.device("cpu"))
    if source.info.labels.names != scheme.names:
        raise ValueError(f"{json_path}: it parses into {source.info.labels.name} labels, not {scheme.name}")
    old = source.info.config
    net = FaceParser(ParserConfig(old.num_classes, old.widths, size))
    _, unexpected = net.load_state_dict(source.net.state_dict(), strict=False)
    if unexpected:
        raise ValueError(f"{json_path}: it has layers the default parser lacks ({', '.join(unexpected[:3])} ...)")
    training = source.info.training
    return net, training.get("iterations", 0), list(training.get("sessions", []))


def teacher_scores(
    opts: ParserTrainOptions,
    splits: list[tuple[list, list]],
    sizes: list[int],
    scheme: LabelScheme,
    device: torch.device,
) -> list:
    """The teacher's scores for every training pair (None where a folder's size is 0), kept
    in runs/teacher/ so that later sessions (and repeated folders) reuse them."""
    teacher = Teacher(opts.teacher, device)
    done: dict[tuple[str, int], list] = {}
    scores = []
    for root, (pairs, _), size in zip(opts.data, splits, sizes):
        if (root, size) not in done:
            tag = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:8]
            cache = Path(opts.runs_dir) / "teacher" / f"{Path(root).name}-{tag}-{size}"
            done[root, size] = (
                [None] * len(pairs)
                if not size
                else [
                    cached_teacher_scores(teacher, pair, scheme, size, cache)
                    for pair in tqdm(pairs, desc=f"teacher on {Path(root).name}")
                ]
            )
        scores += done[root, size]
    return scores


def cached_teacher_scores(
    teacher: Teacher, pair: Pair | PackedPair, scheme: LabelScheme, size: int, cache: Path
) -> np.ndarray:
    path = cache / f"{pair.stem}.npy"
    if path.exists():
        return np.load(path)
    photo, mask = pair.read(scheme)
    scores = area_scores(teacher.scores(photo, size), *np.asarray(mask).shape)
    cache.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda p: np.save(p, scores))
    return scores


def train_parser(opts: ParserTrainOptions) -> Path:
    run = Run.start(opts.run_dir, opts.device, opts.seed)
    device, state = run.device, run.state
    scheme = LabelScheme.named(opts.labels)
    if state:
        net = FaceParser(checkpoint_config(state["options"], scheme.num_classes))
        net.load_state_dict(state["net"])
        step = run.step
        if not run.sessions:  # a run from before sessions were recorded
            run.sessions = [
                {
                    "start_step": 0,
                    "end_step": step,
                    "data": state["options"]["data"],
                    "holdout": state["options"]["holdout"],
                    "note": "earlier sessions, not recorded one by one",
                }
            ]
    elif opts.init_from:
        net, step, run.sessions = grown_from(opts.init_from, scheme, opts.size)
    else:
        net, step = FaceParser(ParserConfig(scheme.num_classes, input_size=opts.size)), 0
    net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=opts.lr)
    if state:
        opt.load_state_dict(state["opt"])
    # One entry per training session: what data (folders may repeat, to weigh them), from which step.
    session = run.begin(
        step,
        data=opts.data,
        holdout=opts.holdout,
        size=opts.size,
        lr=opts.lr,
        decay_until=opts.iterations if opts.decay_iterations else None,
        rotate=opts.rotate,
    )
    if opts.init_from and not state:
        session["init_from"] = Path(opts.init_from).name
    splits = split_folders(opts.data, opts.holdout)
    train_pairs = [p for t, _ in splits for p in t]
    scores = None
    if opts.teacher:
        sizes = per_folder(opts.teacher_sizes, len(opts.data), 512, "--teacher-sizes")
        scores = teacher_scores(opts, splits, sizes, scheme, device)
        session.update(teacher=Path(opts.teacher).name, teacher_sizes=sizes, distil=opts.distil)
    data = FolderDataset(train_pairs, scheme, opts.size, augment=True, rotate=opts.rotate, scores=scores)
    sampler = RandomSampler(data)
    if opts.rare_boost != 1:
        weights, rare = rare_class_weights(classes_present(train_pairs, scheme), opts.rare_boost)
        sampler = WeightedRandomSampler(weights, len(data))
        session.update(rare_boost=opts.rare_boost, rare_classes=[scheme.names[c] for c in rare])
    batches = infinite(
        DataLoader(data, opts.batch_size, sampler=sampler, drop_last=True, num_workers=opts.workers), None
    )

    def save(step: int) -> None:
        run.save(
            step,
            {
                "net": net.state_dict(),
                "opt": opt.state_dict(),
                "options": {
                    "data": opts.data,
                    "holdout": opts.holdout,
                    "size": opts.size,
                    "labels": scheme.to_dict(),
                    "config": asdict(net.cfg),
                },
            },
        )

    def one_step(step: int) -> dict[str, float]:
        set_learning_rate(opt, opts.lr * decayed(step, opts.iterations, opts.decay_iterations))
        batch = next(batches)
        logits = net(jitter(batch["image"]).to(device))
        loss = parser_loss(logits, batch["label"].to(device))
        if scores is not None:
            loss = loss + opts.distil * distillation_loss(
                logits, batch["scores"].to(device), batch["distil"].to(device)
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    net.train()
    run_steps(step, opts.iterations, opts.minutes, opts.checkpoint_every, one_step, save, opts.name)
    return run.checkpoint
