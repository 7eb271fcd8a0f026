"""Shipped weights: `NAME.safetensors` (encoder + generator, fp16, plus the per-class style
statistics of the training set) and `NAME.json` (what the model is and how it was made).

Only safetensors are ever loaded from a weights file: unlike pickles, they cannot run code.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .imageio import InputError, atomic_write
from .labels import LabelScheme
from .sean import SEAN, SEANConfig

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
FORMAT_VERSION = 1


@dataclass
class ModelInfo:
    """The JSON beside the weights."""
    name: str                       # file stem, e.g. "face_256"
    model: str                      # the model users name, e.g. "face"
    labels: LabelScheme
    image_size: int
    config_name: str                # "lite" or "paper"
    config: SEANConfig
    training: dict = field(default_factory=dict)   # data, iterations, images seen...
    metrics: dict = field(default_factory=dict)
    parser: str | None = None       # weights name of the parser that turns a photo into a mask

    def to_dict(self) -> dict:
        return {"format": FORMAT_VERSION, "kind": "sean", "name": self.name, "model": self.model,
                "labels": self.labels.to_dict(), "image_size": self.image_size,
                "config_name": self.config_name, "config": self.config.to_dict(),
                "training": self.training, "metrics": self.metrics, "parser": self.parser}

    @classmethod
    def from_dict(cls, d: dict) -> "ModelInfo":
        return cls(name=d["name"], model=d["model"], labels=LabelScheme.from_dict(d["labels"]),
                   image_size=int(d["image_size"]), config_name=d["config_name"],
                   config=SEANConfig(**d["config"]), training=d.get("training", {}),
                   metrics=d.get("metrics", {}), parser=d.get("parser"))


def find_weights(model: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """A model name ("face"), a weights stem ("face_256") or a path to a weights JSON -> that JSON."""
    as_path = Path(model)
    if as_path.suffix == ".json":
        if not as_path.is_file():
            raise InputError(f"{model}: no such weights file")
        return as_path
    exact = weights_dir / f"{model}.json"
    if exact.is_file():
        return exact
    matches = sorted(p for p in weights_dir.glob(f"{model}_*.json") if not p.stem.endswith("_parser"))
    if not matches:
        known = sorted({p.stem.rsplit('_', 1)[0] for p in weights_dir.glob('*.json')})
        raise InputError(f"unknown model {model!r}: no weights for it in {weights_dir} "
                         f"(available: {', '.join(known) or 'none'})")
    return matches[-1]


def record_metrics(json_path: Path, name: str, result: dict, command: str) -> None:
    """Keep an evaluation in a weights JSON, with the command that produced it."""
    meta = json.loads(json_path.read_text())
    meta.setdefault("metrics", {})[name] = {**result, "command": command}
    atomic_write(json_path, lambda p: p.write_text(json.dumps(meta, indent=1)))


def find_parser(info: ModelInfo, weights_dir: Path) -> Path | None:
    """The parser named in the model's JSON, else WEIGHTS_DIR/MODEL_parser.json, if present."""
    path = weights_dir / f"{info.parser or info.model + '_parser'}.json"
    return path if path.is_file() else None


def model_schemes(weights_dir: Path = WEIGHTS_DIR) -> dict[str, LabelScheme]:
    """The label scheme of every model that has weights, by model name (face_256.json -> "face");
    unreadable descriptions are skipped."""
    schemes = {}
    for path in sorted(weights_dir.glob("*.json")):
        try:
            meta = json.loads(path.read_text())
            if meta.get("kind", "sean") == "sean":
                schemes[meta["model"]] = LabelScheme.from_dict(meta["labels"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return dict(sorted(schemes.items()))


def available_models(weights_dir: Path = WEIGHTS_DIR) -> list[str]:
    """Model names that have weights (face_256.json -> "face")."""
    return list(model_schemes(weights_dir))


def save_weights(stem: str | Path, model: SEAN, info: ModelInfo,
                 style_mean: torch.Tensor, style_std: torch.Tensor) -> None:
    """Write STEM.safetensors (fp16) and STEM.json atomically."""
    stem = Path(stem)
    tensors = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
               if not k.endswith("num_batches_tracked")}
    tensors["style_mean"] = style_mean.to(torch.float16).contiguous()
    tensors["style_std"] = style_std.to(torch.float16).contiguous()
    meta = {"name": info.name, "format": str(FORMAT_VERSION)}
    atomic_write(stem.with_suffix(".safetensors"), lambda p: save_file(tensors, str(p), metadata=meta))
    atomic_write(stem.with_suffix(".json"), lambda p: p.write_text(json.dumps(info.to_dict(), indent=1)))


def load_weights(json_path: Path) -> tuple[SEAN, ModelInfo, torch.Tensor, torch.Tensor]:
    """(model in eval mode on the CPU, info, style_mean, style_std) from a weights JSON."""
    try:
        info = ModelInfo.from_dict(json.loads(json_path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{json_path}: not a valid weights description ({e})") from None
    tensor_path = json_path.with_suffix(".safetensors")
    if not tensor_path.is_file():
        raise InputError(f"{tensor_path}: weights file is missing")
    try:
        tensors = load_file(str(tensor_path))
    except Exception as e:  # safetensors raises its own error types for damaged files
        raise InputError(f"{tensor_path}: damaged weights file ({e})") from None
    style_mean = tensors.pop("style_mean").float()
    style_std = tensors.pop("style_std").float()
    model = SEAN(info.config)
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise InputError(f"{tensor_path}: weights do not match the config in {json_path.name} "
                         f"({len(missing)} missing, {len(unexpected)} unexpected tensors)")
    return model.eval(), info, style_mean, style_std
