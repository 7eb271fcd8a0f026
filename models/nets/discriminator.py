"""The multi-scale PatchGAN discriminator of pix2pixHD / SPADE / SEAN, with spectral norm."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm


class PatchDiscriminator(nn.Module):
    """70x70-style PatchGAN; returns every layer's output (the last is the patch logits)."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 4):
        super().__init__()
        pad = math.ceil((4 - 1) / 2)
        layers = [nn.Sequential(nn.Conv2d(in_channels, ndf, 4, 2, pad), nn.LeakyReLU(0.2))]
        nf = ndf
        for n in range(1, n_layers):
            nf_prev, nf = nf, min(nf * 2, 512)
            stride = 1 if n == n_layers - 1 else 2
            layers.append(
                nn.Sequential(
                    spectral_norm(nn.Conv2d(nf_prev, nf, 4, stride, pad)), nn.InstanceNorm2d(nf), nn.LeakyReLU(0.2)
                )
            )
        layers.append(nn.Sequential(nn.Conv2d(nf, 1, 4, 1, pad)))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return features


class MultiscaleDiscriminator(nn.Module):
    """The same PatchGAN on the image at full, 1/2, 1/4... resolution; input = mask + image."""

    def __init__(self, num_classes: int, ndf: int = 64, num_d: int = 2, n_layers: int = 4):
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator(num_classes + 3, ndf, n_layers) for _ in range(num_d))

    def forward(self, seg: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        x = torch.cat([seg, image], dim=1)
        outputs = []
        for i, d in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(d(x))
        return outputs
