"""Our face parser: photo -> 19-class label mask (CelebAMask-HQ order).

A compact U-Net. The encoder halves the resolution five times (global context at 1/32);
the decoder climbs back to 1/2 with skip connections, predicts there, and the logits are
upsampled bilinearly to the input size (BiSeNet, whose labels we learn from, predicts at
1/8). Residual blocks add depth where it is cheap (the coarse levels, where hats, earrings
and necklaces are told apart from hair, skin and clothes). Trained with cross-entropy plus
soft Dice, which keeps small classes (eyes, brows, lips) from being drowned by skin and
background, and, given the teacher (teacher.py), a KL term towards its soft scores. At
inference the photo and its mirror image are parsed together and their scores averaged
(left/right classes swapped back), which steadies thin classes.

Weights: `weights/NAME.safetensors` + `NAME.json` with "kind": "parser".
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from models.data.files import InputError, atomic_write
from models.data.labels import LabelScheme
from models.inference.weights import build_for_weights


@dataclass(frozen=True)
class ParserConfig:
    num_classes: int = 19
    widths: tuple[int, ...] = (16, 32, 64, 128, 128)   # encoder levels at 1/2 ... 1/32
    input_size: int = 256                              # photos are scaled to this to be parsed (the training size)
    encoder_blocks: tuple[int, ...] = (0, 1, 1, 2, 2)  # residual blocks after each encoder level
    decoder_blocks: tuple[int, ...] = (1, 1, 1, 1)     # ... and after each decoder merge, 1/2 ... 1/16
    flip_average: bool = True                          # parse the mirror image too, average the scores

    @classmethod
    def from_dict(cls, d: dict) -> "ParserConfig":
        """Weights from before residual blocks and flip averaging load as they were trained."""
        levels = len(d["widths"])
        return cls(d["num_classes"], tuple(d["widths"]), d["input_size"],
                   tuple(d.get("encoder_blocks", (0,) * levels)),
                   tuple(d.get("decoder_blocks", (0,) * (levels - 1))), d.get("flip_average", False))


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    """x + conv-bn-relu-conv-bn(x). The last norm starts at zero, so a block added to a trained
    network leaves its output unchanged until training gives the block something to do."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn_relu(channels, channels),
                                  nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))
        nn.init.zeros_(self.body[-1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


def res_blocks(channels: int, count: int) -> list[nn.Module]:
    return [ResBlock(channels) for _ in range(count)]


class FaceParser(nn.Module):
    def __init__(self, cfg: ParserConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.down = nn.ModuleList(
            nn.Sequential(conv_bn_relu(cin, cout, 2), conv_bn_relu(cout, cout), *res_blocks(cout, n))
            for cin, cout, n in zip((3,) + w[:-1], w, cfg.encoder_blocks))
        decoder_widths = [max(c, 32) for c in w[:-1]]
        from_below = decoder_widths[1:] + [w[-1]]
        # up[i] merges what comes up from level i+1 with the skip at level i. conv_bn_relu is
        # unpacked so that weights saved before there were residual blocks keep their names.
        self.up = nn.ModuleList(
            nn.Sequential(*conv_bn_relu(from_below[i] + w[i], decoder_widths[i]),
                          *res_blocks(decoder_widths[i], cfg.decoder_blocks[i]))
            for i in range(len(w) - 1))
        self.head = nn.Conv2d(decoder_widths[0], cfg.num_classes, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1], H and W multiples of 32 -> logits (B, s, H, W)."""
        skips = []
        x = image
        for level in self.down:
            x = level(x)
            skips.append(x)
        x = skips.pop()
        for i in reversed(range(len(self.up))):
            skip = skips[i]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = self.up[i](torch.cat([x, skip], dim=1))
        return F.interpolate(self.head(x), size=image.shape[-2:], mode="bilinear", align_corners=False)


def parser_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy + soft Dice over the classes present in the batch."""
    ce = F.cross_entropy(logits, labels)
    probs = logits.softmax(1)
    target = F.one_hot(labels, logits.shape[1]).permute(0, 3, 1, 2).float()
    inter = (probs * target).sum((0, 2, 3))
    total = probs.sum((0, 2, 3)) + target.sum((0, 2, 3))
    present = target.sum((0, 2, 3)) > 0
    dice = 1 - (2 * inter[present] + 1) / (total[present] + 1)
    return ce + dice.mean()


def distillation_loss(logits: torch.Tensor, teacher: torch.Tensor, has_teacher: torch.Tensor) -> torch.Tensor:
    """KL(teacher || parser) per pixel, averaged over the items that have teacher scores.
    The teacher's soft scores say more than its label maps: how sure it is along every
    boundary, and what the runner-up class is (eye or brow, lip or mouth)."""
    kl = (teacher.softmax(1) * (teacher.log_softmax(1) - logits.log_softmax(1))).sum(1).mean((1, 2))
    weight = has_teacher.float()
    return (kl * weight).sum() / weight.sum().clamp(min=1)


@dataclass
class ParserInfo:
    name: str
    model: str                     # the SEAN model whose labels it produces, e.g. "face"
    labels: LabelScheme
    config: ParserConfig
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": "parser", "name": self.name, "model": self.model, "labels": self.labels.to_dict(),
                "config": asdict(self.config), "training": self.training, "metrics": self.metrics}

    @classmethod
    def from_dict(cls, d: dict) -> "ParserInfo":
        return cls(d["name"], d["model"], LabelScheme.from_dict(d["labels"]), ParserConfig.from_dict(d["config"]),
                   d.get("training", {}), d.get("metrics", {}))


def save_parser(stem: str | Path, net: FaceParser, info: ParserInfo) -> None:
    stem = Path(stem)
    tensors = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in net.state_dict().items()
               if not k.endswith("num_batches_tracked")}
    atomic_write(stem.with_suffix(".safetensors"), lambda p: save_file(tensors, str(p)))
    atomic_write(stem.with_suffix(".json"), lambda p: p.write_text(json.dumps(info.to_dict(), indent=1)))


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
        try:
            info = ParserInfo.from_dict(json.loads(json_path.read_text()))
            tensors = load_file(str(json_path.with_suffix(".safetensors")))
        except Exception as e:   # missing, damaged or foreign files all mean the same to a user
            raise InputError(f"{json_path}: cannot load the parser ({e})") from None
        net = build_for_weights(lambda: FaceParser(info.config), tensors, f"{json_path}: the parser")
        return cls(net, info, device)

    @torch.inference_mode()
    def parse(self, photo: np.ndarray) -> np.ndarray:
        """uint8 RGB (H, W, 3) -> uint8 label mask (H, W)."""
        size = self.info.config.input_size
        h, w = photo.shape[:2]
        x = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA if min(h, w) > size else cv2.INTER_CUBIC)
        x = torch.from_numpy(x).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(self.device)
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
