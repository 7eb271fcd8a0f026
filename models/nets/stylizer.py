"""Photorealistic stylisation network: the frozen Caffe VGG19 as encoder, our own decoder.

After Li et al., "A closed-form solution to photorealistic image stylization" (ECCV 2018,
PhotoWCT: whitening and colouring transforms of VGG features, a decoder that keeps the
content's edges) and Chiu & Gurari, "PhotoWCT2" (WACV 2022: one decoder trained block by
block, stylising at every level on the way up, the encoder's high-frequency residuals
carried past each pooling):

    photo --VGG19--> relu1_1 -> relu2_1 -> relu3_1 [-> relu4_1]      (frozen, `encode`)
    each max pooling p = pool(a) leaves a residual  a - up(p)         (what pooling threw away)

    deepest features --DecoderBlock--> relu{k-1}_1 --...--> relu1_1 --to_rgb--> photo
    a DecoderBlock:  conv (-> p's width) -> 2x up -> + the residual (or max-unpool with
                     pooling's indices, PhotoWCT's way) -> conv(s) -> relu{k-1}_1

A block inverts the encoder's stage above it, so each trains alone against the
encoder's own features (`models.training.stylizer_trainer`). Stylising (in
`models.inference.stylize`) whitens and colours the features at the deepest level and
again after every block, per semantic class when both photos have masks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.nets.vgg import VGG_BLOCKS, VGG19Features

UPSAMPLING = ("residual", "unpool")
# The last conv works in 0-255 units, the VGG's own: its input features run to the hundreds,
# so in [0, 1] units its weights would be about 1e-3, no larger than Adam's steps.
PIXEL_SCALE = 255.0


@dataclass(frozen=True)
class StylizerConfig:
    depth: int = 3  # deepest VGG level: relu{depth}_1 (3 or 4)
    upsampling: str = "residual"  # "residual" (PhotoWCT2's skips) or "unpool" (PhotoWCT's indices)
    convs_after: tuple[int, ...] = (1, 1, 1)  # convs after the upsampling in blocks 2, 3, 4

    def __post_init__(self):
        if self.depth not in (2, 3, 4):
            raise ValueError(f"depth must be 2, 3 or 4, not {self.depth}")
        if self.upsampling not in UPSAMPLING:
            raise ValueError(f"upsampling must be one of {UPSAMPLING}, not {self.upsampling!r}")

    def to_dict(self) -> dict:
        return {**asdict(self), "convs_after": list(self.convs_after)}

    @classmethod
    def from_dict(cls, d: dict) -> "StylizerConfig":
        return cls(int(d["depth"]), str(d["upsampling"]), tuple(int(n) for n in d["convs_after"]))


def level_channels(level: int) -> int:
    """Channels of relu{level}_1 (level 1..5)."""
    return VGG_BLOCKS[level - 1][0]


def conv(cin: int, cout: int) -> nn.Sequential:
    """3x3 conv with reflection padding (no dark borders; PhotoWCT's decoders pad this way), ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect"), nn.ReLU())


@dataclass
class Encoded:
    """What the encoder leaves for the decoder: relu1_1 .. relu{depth}_1, and per pooling
    (below each level but the first) its high-frequency residual and max-pooling indices."""

    features: list[torch.Tensor]  # [relu1_1, relu2_1, ...]
    residuals: list[torch.Tensor]  # [a1 - up(pool(a1)), ...]: a1 = relu1_2, a2 = relu2_2, a3 = relu3_4
    indices: list[torch.Tensor]


class StylizerEncoder(nn.Module):
    """The frozen VGG19 up to relu{depth}_1, keeping what each max pooling discards."""

    def __init__(self, vgg: VGG19Features, depth: int):
        super().__init__()
        self.vgg, self.depth = vgg.eval().requires_grad_(False), depth

    def forward(self, image: torch.Tensor) -> Encoded:
        """image (B, 3, H, W) RGB in [0, 1], H and W multiples of 2 ** (depth - 1)."""
        x = (image.flip(1) * 255) - self.vgg.mean  # Caffe: BGR, 0-255, mean subtracted
        out = Encoded([], [], [])
        for stage in self.vgg.slices[: self.depth]:
            for layer in stage:
                if isinstance(layer, nn.MaxPool2d):
                    pooled, index = F.max_pool2d(x, 2, return_indices=True)
                    out.residuals.append(x - F.interpolate(pooled, scale_factor=2, mode="nearest"))
                    out.indices.append(index)
                    x = pooled
                else:
                    x = layer(x)
            out.features.append(x)
        return out


class DecoderBlock(nn.Module):
    """relu{level}_1 -> relu{level-1}_1: undo the pooling between them."""

    def __init__(self, level: int, convs_after: int, upsampling: str):
        super().__init__()
        cin, cout = level_channels(level), level_channels(level - 1)
        self.upsampling = upsampling
        self.to_pooled = conv(cin, cout)  # back to the pooled features (what entered conv{level}_1)
        self.refine = nn.Sequential(*[conv(cout, cout) for _ in range(convs_after)])

    def forward(self, x: torch.Tensor, residual: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        pooled = self.to_pooled(x)
        if self.upsampling == "unpool":
            up = F.max_unpool2d(pooled, index, 2, output_size=residual.shape[-2:])
        else:
            up = F.interpolate(pooled, scale_factor=2, mode="nearest") + residual
        return self.refine(up)


class StylizerDecoder(nn.Module):
    """Blocks from relu{depth}_1 down to relu1_1, then relu1_1 -> RGB in [0, 1]."""

    def __init__(self, cfg: StylizerConfig):
        super().__init__()
        self.cfg = cfg
        # blocks[0] undoes level 2, blocks[1] level 3...
        self.blocks = nn.ModuleList(
            DecoderBlock(level, cfg.convs_after[level - 2], cfg.upsampling) for level in range(2, cfg.depth + 1)
        )
        self.to_rgb = nn.Conv2d(level_channels(1), 3, 3, padding=1, padding_mode="reflect")

    def block(self, level: int) -> DecoderBlock:
        return self.blocks[level - 2]

    def rgb(self, relu1_1: torch.Tensor) -> torch.Tensor:
        """relu1_1 features -> RGB in [0, 1] (not clamped)."""
        return self.to_rgb(relu1_1) / PIXEL_SCALE

    def forward(self, enc: Encoded) -> torch.Tensor:
        """Plain reconstruction (no stylisation): the decoder's training target is the input."""
        x = enc.features[-1]
        for level in range(self.cfg.depth, 1, -1):
            x = self.block(level)(x, enc.residuals[level - 2], enc.indices[level - 2])
        return self.rgb(x)


def pad_to_multiple(image: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad (B, C, H, W) on the bottom and right to multiples of `multiple`; the
    original (H, W) to crop back to."""
    h, w = image.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        image = F.pad(image, (0, pw, 0, ph), mode=mode)
    return image, (h, w)
