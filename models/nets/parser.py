"""Our face parser: photo -> 19-class label mask (CelebAMask-HQ order).

A compact U-Net. The encoder halves the resolution five times (global context at 1/32);
the decoder climbs back to 1/2 with skip connections, predicts there, and the logits are
upsampled bilinearly to the input size (BiSeNet, whose labels we learn from, predicts at
1/8). Residual blocks add depth where it is cheap (the coarse levels, where hats, earrings
and necklaces are told apart from hair, skin and clothes). Trained with cross-entropy plus
soft Dice, which keeps small classes (eyes, brows, lips) from being drowned by skin and
background, and, given the teacher (models/training/teacher.py), a KL term towards its soft scores. At
inference the photo and its mirror image are parsed together and their scores averaged
(left/right classes swapped back), which steadies thin classes.

Its runtime (weights, photo in, mask out) is models/inference/parser.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class ParserConfig:
    num_classes: int = 19
    widths: tuple[int, ...] = (16, 32, 64, 128, 128)  # encoder levels at 1/2 ... 1/32
    input_size: int = 256  # photos are scaled to this to be parsed (the training size)
    encoder_blocks: tuple[int, ...] = (0, 1, 1, 2, 2)  # residual blocks after each encoder level
    decoder_blocks: tuple[int, ...] = (1, 1, 1, 1)  # ... and after each decoder merge, 1/2 ... 1/16
    flip_average: bool = True  # parse the mirror image too, average the scores

    @classmethod
    def from_dict(cls, d: dict) -> "ParserConfig":
        """Weights from before residual blocks and flip averaging load as they were trained."""
        levels = len(d["widths"])
        return cls(
            d["num_classes"],
            tuple(d["widths"]),
            d["input_size"],
            tuple(d.get("encoder_blocks", (0,) * levels)),
            tuple(d.get("decoder_blocks", (0,) * (levels - 1))),
            d.get("flip_average", False),
        )


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    """x + conv-bn-relu-conv-bn(x). The last norm starts at zero, so a block added to a trained
    network leaves its output unchanged until training gives the block something to do."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            conv_bn_relu(channels, channels),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
        )
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
            for cin, cout, n in zip((3,) + w[:-1], w, cfg.encoder_blocks)
        )
        decoder_widths = [max(c, 32) for c in w[:-1]]
        from_below = decoder_widths[1:] + [w[-1]]
        # up[i] merges what comes up from level i+1 with the skip at level i. conv_bn_relu is
        # unpacked so that weights saved before there were residual blocks keep their names.
        self.up = nn.ModuleList(
            nn.Sequential(
                *conv_bn_relu(from_below[i] + w[i], decoder_widths[i]),
                *res_blocks(decoder_widths[i], cfg.decoder_blocks[i]),
            )
            for i in range(len(w) - 1)
        )
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
