"""What every trainer here shares: the run (its folder, device, seed, checkpoints that
survive a kill and record of sessions), the learning-rate schedule, and the loop that stops at the iteration count, at
a deadline or on SIGTERM, always with a checkpoint. The SEAN trainer and the parser trainer
give it their own step."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from models.data.files import InputError
from models.device import pick_device


def training_device(requested: str, local_rank: int = 0) -> torch.device:
    """The device asked for; else this process's GPU (one per rank under torchrun), else
    the best there is."""
    if requested:
        return pick_device(requested)
    device = pick_device()
    return torch.device("cuda", local_rank) if device.type == "cuda" else device


def decayed(step: int, iterations: int, decay_iterations: int) -> float:
    """Learning-rate factor: 1 until the last `decay_iterations` before `iterations`, then
    falling linearly to 0 there (SPADE's and SEAN's schedule); 1 throughout when 0."""
    if not decay_iterations:
        return 1.0
    return min(1.0, max(0.0, (iterations - step) / decay_iterations))


def set_learning_rate(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a kill mid-save leaves the previous checkpoint intact


def load_checkpoint(path: Path, device: torch.device) -> dict | None:
    """A run's checkpoint, or None for a new run. weights_only: the restricted unpickler.
    A half-written checkpoint a killed run left (its .tmp) is removed: the checkpoint
    itself is whole."""
    path.with_suffix(".tmp").unlink(missing_ok=True)
    return torch.load(path, map_location=device, weights_only=True) if path.exists() else None


class Run:
    """One training run, as every trainer here keeps it: its folder, the device and seed it
    trains with, its checkpoint (written so that a kill leaves the last one whole, read
    with the restricted unpickler) and its sessions, one entry per `train` that went on
    with it: what it trained on, from which step to which."""

    def __init__(self, folder: str | Path, device: torch.device):
        self.folder, self.device = Path(folder), device
        self.folder.mkdir(parents=True, exist_ok=True)
        self.checkpoint = self.folder / "checkpoint.pt"
        self.state = load_checkpoint(self.checkpoint, device)  # None: a new run
        self.sessions: list[dict] = sessions_of(self.state) if self.state is not None else []

    @classmethod
    def start(cls, folder: str | Path, device: str, seed: int, rank: int = 0, local_rank: int = 0) -> "Run":
        """The run in `folder` on the device asked for (see `training_device`), seeded
        (each rank of a distributed run with its own seed)."""
        torch.manual_seed(seed + rank)
        return cls(folder, training_device(device, local_rank))

    @property
    def step(self) -> int:
        return int(self.state["step"]) if self.state is not None else 0

    def begin(self, step: int, **fields) -> dict:
        """A new session from `step`: what it trains on; the entry, to add to."""
        self.sessions.append(new_session(step, **fields))
        return self.sessions[-1]

    def save(self, step: int, state: dict) -> None:
        """The checkpoint at `step`: the trainer's `state`, the step and the sessions."""
        if self.sessions:
            self.sessions[-1]["end_step"] = step
        save_checkpoint(self.checkpoint, {**state, "step": step, "sessions": self.sessions})


def sessions_of(state: dict) -> list[dict]:
    """A checkpoint's sessions (SEAN's checkpoints before 2026-12-02 called them `history`)."""
    return list(state.get("sessions") or state.get("history") or [])


def run_for_export(run: str | Path) -> dict:
    """A run's checkpoint, on the CPU, for an export: every trainer's export reads its run
    this way, and a folder without a checkpoint is an InputError that says so."""
    state = load_checkpoint(Path(run) / "checkpoint.pt", torch.device("cpu"))
    if state is None:
        raise InputError(f"{run}: no checkpoint.pt to export (train into this folder first)")
    return {**state, "sessions": sessions_of(state)}


def new_session(start_step: int, **fields) -> dict:
    """One entry of a run's sessions: what this session trained on, from which step."""
    return {"start_step": start_step, **fields, "started": time.strftime("%Y-%m-%d %H:%M")}


def infinite(loader: DataLoader, sampler) -> Iterator:
    epoch = 0
    while True:
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def run_steps(
    step: int,
    iterations: int,
    minutes: float,
    checkpoint_every: int,
    one_step: Callable[[int], dict[str, float]],
    save: Callable[[int], None],
    name: str,
    show: bool = True,
) -> int:
    """Call `one_step(step)` until `iterations`, `minutes` or SIGTERM (which finishes the
    step in hand), with `save(step)` every `checkpoint_every` steps and at the end, an
    error included. Returns the step reached."""
    stop: list[bool] = []
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    deadline = time.time() + minutes * 60 if minutes else float("inf")
    bar = tqdm(total=iterations, initial=step, disable=not show, desc=name)
    try:
        while step < iterations and not stop and time.time() < deadline:
            losses = one_step(step)
            step += 1
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
            if step % checkpoint_every == 0:
                save(step)
    finally:
        bar.close()
        save(step)
        signal.signal(signal.SIGTERM, previous)
    return step
