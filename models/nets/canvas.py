"""The synthesis network of our SIMS pipeline: layout + canvas -> photo.

SIMS (Qi et al., CVPR 2018) paints a photo from a canvas of retrieved segments with a
cascaded refinement network. Ours starts from what SEAN already paints for the layout
(`base`, the generator's picture of the mask) and learns what to change: take the
canvas's real pixels where it has them, match their colours to one another and to the
base, and close the borders and holes the canvas leaves. A small U-Net:

    [base, canvas, filled, one-hot layout]  (3 + 3 + 1 + s channels)
      -> width w at full size -> 2w at 1/2 -> 4w at 1/4 -> 4w at 1/8      (stride-2 convs)
      -> back up, each level joined with its skip (bilinear 2x, conv)
      -> 3 channels added to base                                          (photo in [-1, 1])

Its last conv starts at zero: untrained, it returns SEAN's picture unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class CanvasConfig:
    num_classes: int
    width: int = 32  # channels at full size, doubled at 1/2, 4x below
    levels: int = 3  # downsamplings

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CanvasConfig":
        return cls(int(d["num_classes"]), int(d["width"]), int(d["levels"]))

    def widths(self) -> list[int]:
        return [self.width * min(2**i, 4) for i in range(self.levels + 1)]


def conv_block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=1, padding_mode="reflect"),
        nn.LeakyReLU(0.2),
        nn.Conv2d(cout, cout, 3, padding=1, padding_mode="reflect"),
        nn.LeakyReLU(0.2),
    )


class CanvasNet(nn.Module):
    def __init__(self, cfg: CanvasConfig):
        super().__init__()
        self.cfg = cfg
        widths = cfg.widths()
        self.down = nn.ModuleList(
            [conv_block(7 + cfg.num_classes, widths[0])]
            + [conv_block(widths[i], widths[i + 1], 2) for i in range(cfg.levels)]
        )
        self.up = nn.ModuleList([conv_block(widths[i + 1] + widths[i], widths[i]) for i in range(cfg.levels)])
        self.to_rgb = nn.Conv2d(widths[0], 3, 1)
        nn.init.zeros_(self.to_rgb.weight)
        nn.init.zeros_(self.to_rgb.bias)

    @property
    def multiple(self) -> int:
        """Height and width must be multiples of this."""
        return 2**self.cfg.levels

    def forward(
        self, base: torch.Tensor, canvas: torch.Tensor, filled: torch.Tensor, seg: torch.Tensor
    ) -> torch.Tensor:
        """base, canvas (B, 3, H, W) in [-1, 1], filled (B, 1, H, W) in {0, 1}, seg (B, s, H, W)
        one-hot -> the photo (B, 3, H, W) in [-1, 1]. Unfilled canvas pixels are ignored."""
        x = torch.cat([base, canvas * filled, filled, seg], dim=1)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()
        for block in reversed(self.up):
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return (base + self.to_rgb(x)).clamp(-1, 1)
