"""Training loop: SEAN reconstruction training (the paper's recipe) with resume.

Options live in `TrainOptions`; data in `data.py`; networks in `sean.py` and `losses.py`.
Runs on CUDA with bf16 autocast when present, else on the CPU; under `torchrun` it
trains with DistributedDataParallel, one process per GPU.

The full training state (networks, discriminator, optimisers, step) is kept in
RUN_DIR/checkpoint.pt and read back with `weights_only=True`; `export.py` turns it into
the shipped fp16 weights.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as tdist
import torch.nn.functional as F
from PIL import Image
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from models.data.datasets import FolderDataset, load_folders
from models.data.labels import LabelScheme
from models.data.tensors import tensor_to_image
from models.device import device_name
from models.inference.weights import load_vgg19
from models.nets.discriminator import MultiscaleDiscriminator
from models.nets.sean import DOWNSCALE, SEAN, SEANConfig, one_hot
from models.nets.ssim import ssim_loss
from models.training.losses import VGGLoss, d_hinge_loss, feature_matching_loss, g_hinge_loss
from models.training.options import TrainOptions
from models.training.scaffold import Run, decayed, infinite, new_session, run_steps, set_learning_rate


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> Distributed:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; without them this is a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Distributed()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    tdist.init_process_group(backend)
    dist = Distributed(tdist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))
    if torch.cuda.is_available():
        torch.cuda.set_device(dist.local_rank)
    return dist


def sample_grid(model: SEAN, batch: dict, scheme: LabelScheme, device: torch.device) -> np.ndarray:
    """Rows of mask | real | reconstruction, in eval mode (what the shipped model does)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        image = batch["image"].to(device)
        fake = model(image, one_hot(batch["label"].to(device), scheme.num_classes))
    model.train(was_training)
    masks = scheme.colorize(batch["label"].numpy())
    rows = [np.concatenate([m, r, f], axis=1) for m, r, f in zip(masks, tensor_to_image(image), tensor_to_image(fake))]
    return np.concatenate(rows, axis=0)


def make_discriminator(opts: TrainOptions, num_classes: int) -> torch.nn.Module:
    if opts.disc == "projected":
        from models.inference.weights import load_efficientnet_lite0
        from models.nets.projected import ProjectedDiscriminator

        return ProjectedDiscriminator(num_classes, load_efficientnet_lite0(), opts.ndf, opts.d_layers)
    return MultiscaleDiscriminator(num_classes, opts.ndf, opts.num_d, opts.d_layers)


class Trainer:
    def __init__(self, opts: TrainOptions, cfg: SEANConfig | None = None):
        """`cfg` overrides the named preset `opts.config` (tests train toy-sized networks)."""
        if opts.size % DOWNSCALE:
            raise ValueError(f"--size must be a multiple of {DOWNSCALE}, got {opts.size}")
        self.opts = opts
        self.dist = setup_distributed()
        self.training_run = Run.start(opts.run_dir, opts.device, opts.seed, self.dist.rank, self.dist.local_rank)
        self.device = self.training_run.device
        # Training images all have one size, so cuDNN's per-shape search pays off at once.
        torch.backends.cudnn.benchmark = self.device.type == "cuda"
        self.scheme = LabelScheme.named(opts.labels)
        self.cfg = cfg or SEANConfig.named(opts.config, self.scheme.num_classes)
        if opts.context_hidden:
            self.cfg = dataclasses.replace(self.cfg, context_hidden=opts.context_hidden)
        if opts.only_context and not self.cfg.context_hidden:
            raise ValueError("--only-context needs a StyleContext: give --context N")
        self.model = SEAN(self.cfg).to(self.device)
        if opts.only_context:
            self.model.requires_grad_(False)
            self.model.encoder.context.requires_grad_(True)
        # A GAN's weights oscillate around what the losses ask for; their moving average
        # (as StyleGAN and BigGAN keep) reconstructs more faithfully. It is what ships.
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False) if opts.ema_decay else None
        self.disc = make_discriminator(opts, self.scheme.num_classes).to(self.device)
        betas = (opts.beta1, opts.beta2)
        trained = [p for p in self.model.parameters() if p.requires_grad]
        self.opt_g = torch.optim.Adam(trained, lr=opts.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=opts.lr_d, betas=betas)
        self.vgg = VGGLoss(load_vgg19(), opts.vgg_size).to(self.device) if opts.lambda_vgg else None
        self.step, self.images_seen = 0, 0
        self.resume()
        self.train_pairs, self.val_pairs = load_folders(opts.data, self.scheme, opts.holdout)
        per_step = opts.batch_size * self.dist.world_size
        if len(self.train_pairs) < per_step:  # the loader drops incomplete batches: no step would ever come
            raise ValueError(
                f"{len(self.train_pairs)} training pairs (after --holdout) are fewer than a batch of "
                f"{per_step}; give more photos, a smaller --batch-size or a smaller --holdout"
            )

    # -- state -------------------------------------------------------------------------
    def resume(self) -> None:
        state = self.training_run.state
        if state is None:
            if self.opts.init_from:
                self.init_from_weights(self.opts.init_from)
            return
        if state["config"] != self.cfg.to_dict():
            raise ValueError(
                f"{self.training_run.checkpoint} was trained with another config "
                f"({state['config_name']}); use a new --model-name"
            )
        self.model.load_state_dict(state["model"])
        if self.ema is not None:  # a run from before the average was kept starts it here
            self.ema.load_state_dict(state.get("ema") or state["model"])
        self.disc.load_state_dict(state["disc"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step, self.images_seen = state["step"], state["images_seen"]

    def init_from_weights(self, model: str) -> None:
        """Start from shipped weights (encoder + generator; the discriminator starts afresh),
        so training goes on where an earlier machine's run left off."""
        from models.inference.weights import find_weights, load_weights

        net, info, _, _ = load_weights(find_weights(model))
        # Weights without a StyleContext may gain one: it starts at zero, so the output is theirs.
        gains_context = bool(self.cfg.context_hidden and not info.config.context_hidden)
        if info.config != (dataclasses.replace(self.cfg, context_hidden=0) if gains_context else self.cfg):
            context = f" --context {self.cfg.context_hidden}" if self.cfg.context_hidden else ""
            raise ValueError(f"{model} has another config than --config {self.opts.config}{context}")
        strict = not gains_context
        self.model.load_state_dict(net.state_dict(), strict=strict)
        if self.ema is not None:
            self.ema.load_state_dict(net.state_dict(), strict=strict)
        self.step = info.training.get("iterations", 0)
        self.images_seen = info.training.get("images_seen", 0)
        self.training_run.sessions = list(info.training.get("sessions", []))

    def save(self) -> None:
        if not self.dist.main:
            return
        self.training_run.save(
            self.step,
            {
                "model": self.model.state_dict(),
                "disc": self.disc.state_dict(),
                "ema": self.ema.state_dict() if self.ema is not None else None,
                "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(),
                "images_seen": self.images_seen,
                "config": self.cfg.to_dict(),
                "config_name": self.opts.config,
                "labels": self.scheme.to_dict(),
            },
        )

    # -- one iteration -----------------------------------------------------------------
    @property
    def uses_autocast(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.uses_autocast)

    @property
    def adversarial(self) -> bool:
        """Whether the discriminator takes part. A session without the GAN and feature-
        matching terms skips it (and its step) entirely: about 1.5x the steps per CPU-hour."""
        return bool(self.opts.lambda_gan or self.opts.lambda_feat)

    def discriminator_step(self, disc, seg: torch.Tensor, fake: torch.Tensor, image: torch.Tensor):
        """One discriminator update; returns its loss and its outputs on the real images
        (feature matching compares the generator's against them)."""
        with self.autocast():
            # Real and fake in one batch (one forward, as SPADE does).
            preds = disc(torch.cat([seg, seg]), torch.cat([fake.detach(), image]))
            pred_fake = [[t[: len(image)] for t in scale] for scale in preds]
            pred_real = [[t[len(image) :] for t in scale] for scale in preds]
            loss_d = d_hinge_loss(pred_real, pred_fake)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return loss_d, pred_real

    def train_step(self, batch: dict, model, disc) -> dict[str, float]:
        o = self.opts
        image = batch["image"].to(self.device, non_blocking=True)
        seg = one_hot(batch["label"].to(self.device, non_blocking=True), self.scheme.num_classes)
        if "drawn" in batch:  # the generator (and the discriminator) see the painted mask
            drawn = one_hot(batch["drawn"].to(self.device, non_blocking=True), self.scheme.num_classes)
            with self.autocast():
                fake = model(image, seg, drawn)
            seg = drawn
        else:
            with self.autocast():
                fake = model(image, seg)
        stats = {}
        if self.adversarial:
            loss_d, pred_real = self.discriminator_step(disc, seg, fake, image)
            stats["d"] = loss_d.item()
        with self.autocast():
            losses = {"l1": F.l1_loss(fake, image) * o.lambda_l1}
            if self.adversarial:
                # The unwrapped discriminator: its gradients are not wanted here.
                raw_disc = disc.module if isinstance(disc, DistributedDataParallel) else disc
                raw_disc.requires_grad_(False)
                pred_fake = raw_disc(seg, fake)
                raw_disc.requires_grad_(True)
                losses["gan"] = g_hinge_loss(pred_fake) * o.lambda_gan
                losses["feat"] = feature_matching_loss(pred_real, pred_fake) * o.lambda_feat
            if self.vgg is not None:
                losses["vgg"] = self.vgg(fake.float(), image) * o.lambda_vgg
            if o.lambda_ssim:
                losses["ssim"] = ssim_loss(fake, image) * o.lambda_ssim
        self.opt_g.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        self.opt_g.step()
        return {**stats, **{k: v.item() for k, v in losses.items()}}

    # -- the loop ----------------------------------------------------------------------
    def set_train_mode(self) -> None:
        """Training mode, except for frozen parts: with --only-context the generator's batch
        norm keeps normalising with the statistics the shipped model uses."""
        if self.opts.only_context:
            self.model.eval()
            self.model.encoder.context.train()
        else:
            self.model.train()

    def lr_scale(self) -> float:
        return decayed(self.step, self.opts.iterations, self.opts.decay_iterations)

    @torch.no_grad()
    def update_ema(self) -> None:
        """ema <- ema + (1 - d) (model - ema), running statistics too; d ramps up over
        the first steps so that a young average is not mostly the random start."""
        decay = min(self.opts.ema_decay, (1 + self.step) / (10 + self.step))
        for averaged, current in zip(self.ema.state_dict().values(), self.model.state_dict().values()):
            if averaged.is_floating_point():
                averaged.lerp_(current, 1 - decay)
            else:
                averaged.copy_(current)

    def set_learning_rates(self) -> None:
        set_learning_rate(self.opt_g, self.opts.lr_g * self.lr_scale())
        set_learning_rate(self.opt_d, self.opts.lr_d * self.lr_scale())

    def loader(self):
        data = FolderDataset(
            self.train_pairs, self.scheme, self.opts.size, augment=True, mask_noise=self.opts.mask_noise
        )
        if self.dist.world_size > 1:
            sampler = DistributedSampler(data, self.dist.world_size, self.dist.rank, seed=self.opts.seed)
        else:
            sampler = RandomSampler(data)
        workers = self.opts.workers if self.opts.workers >= 0 else (4 if self.device.type == "cuda" else 0)
        loader = DataLoader(
            data,
            self.opts.batch_size,
            sampler=sampler,
            num_workers=workers,
            drop_last=True,
            pin_memory=self.device.type == "cuda",
            persistent_workers=workers > 0,
        )
        return infinite(loader, sampler)

    def fixed_batch(self) -> dict:
        pairs = (self.val_pairs or self.train_pairs)[:4]
        data = FolderDataset(pairs, self.scheme, self.opts.size)
        return next(iter(DataLoader(data, batch_size=len(pairs))))

    def run(self) -> None:
        o = self.opts
        o.run_dir.mkdir(parents=True, exist_ok=True)
        (o.run_dir / "samples").mkdir(exist_ok=True)
        # One entry per training session: what data, at what size, from which step.
        self.training_run.sessions.append(
            new_session(
                self.step,
                size=o.size,
                data=o.data,
                holdout=o.holdout,
                batch=o.batch_size * self.dist.world_size,
                loss_weights={
                    "l1": o.lambda_l1,
                    "vgg": o.lambda_vgg,
                    "feat": o.lambda_feat,
                    "gan": o.lambda_gan,
                    "ssim": o.lambda_ssim,
                },
                vgg_size=o.vgg_size or o.size,
                trained="context" if o.only_context else "all",
                lr=o.lr_g,
                beta1=o.beta1,
                ema_decay=o.ema_decay,
                lr_scale=self.lr_scale(),
                decay_until=o.iterations if o.decay_iterations else None,
                mask_noise=o.mask_noise,
                disc=o.disc,
                machine=f"{device_name(self.device)} x{self.dist.world_size}"
                + (", bf16 autocast" if self.uses_autocast else ""),
            )
        )
        model, disc = self.model, self.disc
        if self.dist.world_size > 1:
            if self.device.type == "cuda":  # the paper normalises with batch statistics synced across GPUs
                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            ids = [self.dist.local_rank] if self.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=ids)
            disc = DistributedDataParallel(disc, device_ids=ids)
        self.set_train_mode()
        disc.train()
        batches, samples = self.loader(), self.fixed_batch()
        log = open(o.run_dir / "log.jsonl", "a") if self.dist.main else None

        def one_step(step: int) -> dict[str, float]:
            self.step = step
            self.set_learning_rates()
            losses = self.train_step(next(batches), model, disc)
            if self.ema is not None:
                self.update_ema()
            self.step += 1
            self.images_seen += o.batch_size * self.dist.world_size
            if log:
                log.write(json.dumps({"step": self.step, "size": o.size, "lr_scale": self.lr_scale(), **losses}) + "\n")
            if self.dist.main and self.step % o.sample_every == 0:
                grid = sample_grid(self.ema if self.ema is not None else self.model, samples, self.scheme, self.device)
                Image.fromarray(grid).save(o.run_dir / "samples" / f"step_{self.step:07d}.png")
            return losses

        try:
            run_steps(
                self.step,
                o.iterations,
                o.minutes,
                o.checkpoint_every,
                one_step,
                lambda _: self.save(),
                o.name,
                show=self.dist.main,
            )
        finally:
            if log:
                log.close()
            if self.dist.world_size > 1:
                tdist.destroy_process_group()


def train(opts: TrainOptions, cfg: SEANConfig | None = None) -> Path:
    trainer = Trainer(opts, cfg)
    trainer.run()
    return trainer.training_run.checkpoint
