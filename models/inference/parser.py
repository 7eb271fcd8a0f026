"""The face parser at work: load its weights (the same safetensors + JSON format as the
SEAN models, "kind": "parser") and turn a photo into a label mask. The network is
models/nets/parser.py."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from models.data.labels import LabelScheme
from models.data.tensors import image_to_tensor
from models.inference.weights import build_for_weights, read_weights, write_weights
from models.nets.parser import FaceParser, ParserConfig


@dataclass
class ParserInfo:
    name: str
    model: str  # the SEAN model whose labels it produces, e.g. "face"
    labels: LabelScheme
    config: ParserConfig
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "kind": "parser",
            "name": self.name,
            "model": self.model,
            "labels": self.labels.to_dict(),
            "config": asdict(self.config),
            "training": self.training,
            "metrics": self.metrics,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ParserInfo":
        return cls(
            d["name"],
            d["model"],
            LabelScheme.from_dict(d["labels"]),
            ParserConfig.from_dict(d["config"]),
            d.get("training", {}),
            d.get("metrics", {}),
        )


def save_parser(stem: str | Path, net: FaceParser, info: ParserInfo) -> None:
    write_weights(stem, net, info.to_dict())


class Parser:
    """Loaded parser: `parse(photo) -> mask` at the photo's size."""

    def __init__(self, net: FaceParser, info: ParserInfo, device: torch.device):
        # channels-last: the convolutions and the per-pixel argmax over classes run several times faster
        self.net = net.to(device, memory_format=torch.channels_last).eval()
        self.info = info
        self.device = device
        self.flip_lut = torch.from_numpy(info.labels.flip_lut()).long().to(device)

    @classmethod
    def load(cls, json_path: str | Path, device: torch.device) -> "Parser":
        json_path = Path(json_path)
        info, tensors = read_weights(json_path, ParserInfo.from_dict)
        net = build_for_weights(lambda: FaceParser(info.config), tensors, f"{json_path}: the parser")
        return cls(net, info, device)

    @torch.inference_mode()
    def parse(self, photo: np.ndarray) -> np.ndarray:
        """uint8 RGB (H, W, 3) -> uint8 label mask (H, W)."""
        size = self.info.config.input_size
        h, w = photo.shape[:2]
        x = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA if min(h, w) > size else cv2.INTER_CUBIC)
        x = image_to_tensor(x).to(self.device)
        logits = self.scores(x.contiguous(memory_format=torch.channels_last))
        if (h, w) != (size, size):
            logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
        return logits.argmax(1)[0].byte().cpu().numpy()

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of a (1, 3, S, S) batch; with flip averaging, the mean of the photo's
        and its mirror image's (whose left/right channels are swapped back first)."""
        if not self.info.config.flip_average:
            return self.net(x)
        both = self.net(torch.cat([x, x.flip(-1)]))
        return (both[:1] + both[1:].flip(-1)[:, self.flip_lut]) / 2
