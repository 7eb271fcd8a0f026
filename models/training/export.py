"""A training run's checkpoint -> shipped weights (fp16 safetensors + JSON), for every
trainer: SEAN (generator + encoder, with its style statistics), the face parser, the
canvas network and the stylisation decoder. Each reads its run with `run_for_export`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from models.data.datasets import FolderDataset, load_folders
from models.data.labels import LabelScheme
from models.inference.parser import ParserInfo, save_parser
from models.inference.sims import CanvasInfo, canvas_weights_stem
from models.inference.stylize import STYLIZER_NAME, StylizerInfo
from models.inference.weights import ModelInfo, find_weights, load_weights, save_weights, write_weights
from models.nets.canvas import CanvasConfig, CanvasNet
from models.nets.parser import FaceParser
from models.nets.sean import SEAN, SEANConfig, one_hot
from models.nets.stylizer import StylizerConfig, StylizerDecoder
from models.training.parser_trainer import checkpoint_config
from models.training.scaffold import run_for_export


@torch.no_grad()
def style_statistics(
    model: SEAN, pairs: list, scheme: LabelScheme, size: int, device: torch.device, batch_size: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class mean and standard deviation of the style codes over `pairs`.

    Only images that contain a class count towards that class; a class never seen keeps
    a zero code.  The mean fills regions a style photo lacks; mean and spread together
    let the editor sample random styles.
    """
    s, d = scheme.num_classes, model.cfg.style_dim
    total, total_sq = torch.zeros(s, d, dtype=torch.float64), torch.zeros(s, d, dtype=torch.float64)
    count = torch.zeros(s, 1, dtype=torch.float64)
    loader = DataLoader(FolderDataset(pairs, scheme, size), batch_size=batch_size)
    for batch in tqdm(loader, desc="style statistics"):
        seg = one_hot(batch["label"].to(device), s)
        codes, present = model.encoder(batch["image"].to(device), seg)
        codes, w = codes.double().cpu(), present.double().cpu().unsqueeze(-1)
        total += (codes * w).sum(0)
        total_sq += (codes**2 * w).sum(0)
        count += w.sum(0)
    mean = total / count.clamp(min=1)
    std = (total_sq / count.clamp(min=1) - mean**2).clamp(min=0).sqrt()
    return mean.float(), std.float()


def average_weights(model: SEAN, others: list[SEAN]) -> None:
    """Replace `model`'s weights by their mean with `others` (earlier points of the same
    run): a GAN's weights oscillate around what the losses ask for, and their average
    reconstructs more faithfully than either end (as an EMA generator does in training)."""
    states = [other.state_dict() for other in others]
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.add_(sum(state[name].to(tensor) for state in states)).div_(len(states) + 1)


def export_weights(
    run_dir: str | Path,
    out_stem: str | Path,
    data: list[str] | None = None,
    max_images: int = 1000,
    device: str = "cpu",
    average_with: list[str] = (),
    as_trained: bool = False,
) -> ModelInfo:
    """Write OUT_STEM.safetensors + OUT_STEM.json from RUN_DIR/checkpoint.pt.

    The style statistics come from the training pairs of the last session (its data
    folders and held-out counts), or from `data` when given. `average_with` names weights
    of the same config (earlier exports of the run) to average the checkpoint with.
    `as_trained` takes the weights as trained instead of their moving average (after a
    short run the average still holds much of the starting weights: 0.999^900 = 0.41).
    """
    state = run_for_export(run_dir)
    cfg, scheme = SEANConfig(**state["config"]), LabelScheme.from_dict(state["labels"])
    model = SEAN(cfg)
    averaged = not as_trained and state.get("ema") is not None  # the moving average, when kept
    model.load_state_dict(state["ema"] if averaged else state["model"])
    others = [load_weights(find_weights(name))[:2] for name in average_with]
    if any(other.config != cfg for _, other in others):
        raise ValueError("only weights of the run's own config can be averaged with it")
    if others:
        average_weights(model, [net for net, _ in others])
    model.to(device).eval()
    last = state["sessions"][-1]
    train_pairs, _ = load_folders(data or last["data"], scheme, [] if data else last["holdout"])
    mean, std = style_statistics(
        model, train_pairs[:: max(1, len(train_pairs) // max_images)], scheme, last["size"], torch.device(device)
    )
    out_stem = Path(out_stem)
    parser = f"{scheme.name}_parser"
    info = ModelInfo(
        name=out_stem.name,
        model=scheme.name,
        labels=scheme,
        image_size=last["size"],
        config_name=state["config_name"],
        config=cfg,
        parser=parser if (out_stem.parent / f"{parser}.json").exists() else None,
        training={
            "iterations": state["step"],
            "images_seen": state["images_seen"],
            "data": data or last["data"],
            "held_out_per_folder": last["holdout"],
            "sessions": state["sessions"],
            "weights": "moving average" if averaged else "as trained",
            "averaged_with": [
                {"name": other.name, "iterations": other.training.get("iterations")} for _, other in others
            ],
        },
    )
    save_weights(out_stem, model, info, mean, std)
    return info


PART_BYTES = 15 * 2**20  # files come back from a lent GPU machine in pieces of at most 16 MiB


def split_for_transfer(path: Path, part_bytes: int = PART_BYTES) -> list[Path]:
    """Cut `path` into PATH.part0, PATH.part1... of at most `part_bytes` each, write
    PATH.sha256 (sha256sum's format, so `cat PATH.part* > PATH; sha256sum -c PATH.sha256`
    checks it by hand too) and remove `path`. `join_parts` puts it back together."""
    data = path.read_bytes()
    parts = []
    for i, start in enumerate(range(0, max(len(data), 1), part_bytes)):
        part = path.with_name(f"{path.name}.part{i}")
        part.write_bytes(data[start : start + part_bytes])
        parts.append(part)
    path.with_name(f"{path.name}.sha256").write_text(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")
    path.unlink()
    return parts


def join_parts(path: Path) -> Path:
    """PATH from PATH.part0, PATH.part1..., checked against PATH.sha256; a ValueError
    names what is missing or damaged."""
    parts, i = [], 0
    while path.with_name(f"{path.name}.part{i}").is_file():
        parts.append(path.with_name(f"{path.name}.part{i}"))
        i += 1
    checksum = path.with_name(f"{path.name}.sha256")
    if not parts or not checksum.is_file():
        raise ValueError(f"{path}: no {path.name}.part0 with its {checksum.name} beside it")
    data = b"".join(p.read_bytes() for p in parts)
    expected = checksum.read_text().split()[0]
    if hashlib.sha256(data).hexdigest() != expected:
        raise ValueError(
            f"{path}: the {len(parts)} parts do not add up to the file that was split "
            "(a part is missing or damaged): fetch them again"
        )
    path.write_bytes(data)
    return path


def run_record(state: dict) -> dict:
    """What a shipped network's JSON says of the run that trained it."""
    return {"iterations": state["step"], "sessions": state["sessions"], "options": state["options"]}


def export_parser(run_dir: str | Path, out_stem: str | Path, model: str) -> ParserInfo:
    state = run_for_export(run_dir)
    options = state["options"]
    scheme = LabelScheme.from_dict(options["labels"])
    net = FaceParser(checkpoint_config(options, scheme.num_classes))
    net.load_state_dict(state["net"])
    info = ParserInfo(
        Path(out_stem).name,
        model,
        scheme,
        net.cfg,
        training={
            "iterations": state["step"],
            "data": options["data"],
            "held_out_per_folder": options["holdout"],
            "size": options["size"],
            "sessions": state["sessions"],
        },
    )
    save_parser(out_stem, net, info)
    return info


def export_canvas(run: Path, out_dir: Path) -> Path:
    """The shipped network (fp16 safetensors + JSON, named after its SEAN model) from a run."""
    state = run_for_export(run)
    cfg = CanvasConfig.from_dict(state["config"])
    net = CanvasNet(cfg)
    net.load_state_dict(state["net"])
    info = CanvasInfo(state["model"], cfg, run_record(state))
    stem = out_dir / canvas_weights_stem(state["model"])
    write_weights(stem, net, info.to_dict())
    return stem.with_suffix(".json")


def export_stylizer(run: Path, out_dir: Path) -> Path:
    """The shipped decoder (fp16 safetensors + JSON) from a run's checkpoint."""
    state = run_for_export(run)
    cfg = StylizerConfig.from_dict(state["config"])
    decoder = StylizerDecoder(cfg)
    decoder.load_state_dict(state["decoder"])
    info = StylizerInfo(STYLIZER_NAME, cfg, run_record(state))
    write_weights(out_dir / STYLIZER_NAME, decoder, info.to_dict())
    return out_dir / f"{STYLIZER_NAME}.json"
