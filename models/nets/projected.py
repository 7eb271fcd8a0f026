"""The projected discriminator (Sauer et al., Projected GANs Converge Faster, NeurIPS 2021),
conditioned on the label map.

A frozen pretrained network (EfficientNet-Lite0, models/nets/efficientnet_lite.py) sees
the image; its features at four scales are mixed by fixed random 1x1 convolutions across
channels (CCM) and, coarse to fine, by fixed random 3x3 convolutions across scales (CSM);
a small trainable head per scale, which also sees the label map at that scale (the
condition), gives patch logits. Only the heads learn: the discriminator starts from
features that already tell photographs apart, which is why it converges in a fraction of
the images. Outputs have the multi-scale discriminator's form (per scale: the head's
features, then its logits), so the hinge loss and feature matching take either.

DiffAugment (Zhao et al. 2020: colour, translation, cutout), applied alike to real and
fake images before the discriminator, keeps it from memorising a small face set.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

from models.nets.efficientnet_lite import FEATURE_CHANNELS, EfficientNetLite0

MIXED_CHANNELS = (64, 128, 256, 512)  # what CCM projects each scale to (Projected GAN's)
PROJECTION_SEED = 0  # the fixed random mixing is the same on every machine


def fixed_conv(cin: int, cout: int, kernel: int, generator: torch.Generator) -> nn.Conv2d:
    """A random convolution that is never trained (Kaiming-initialised from `generator`)."""
    conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (2 / (cin * kernel * kernel)) ** 0.5)
        conv.bias.zero_()
    return conv.requires_grad_(False)


class Projection(nn.Module):
    """CCM and CSM: the feature network's four maps mixed across channels, then across
    scales (each scale plus the upsampled coarser one, through a 3x3 conv), all fixed."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(PROJECTION_SEED)
        self.ccm = nn.ModuleList(fixed_conv(c, m, 1, g) for c, m in zip(FEATURE_CHANNELS, MIXED_CHANNELS))
        self.coarser = nn.ModuleList(
            fixed_conv(MIXED_CHANNELS[i + 1], MIXED_CHANNELS[i], 1, g) for i in range(len(MIXED_CHANNELS) - 1)
        )
        self.csm = nn.ModuleList(fixed_conv(m, m, 3, g) for m in MIXED_CHANNELS)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        mixed = [ccm(f) for ccm, f in zip(self.ccm, features)]
        out = [self.csm[-1](mixed[-1])]
        for i in range(len(mixed) - 2, -1, -1):
            up = F.interpolate(self.coarser[i](out[0]), size=mixed[i].shape[-2:], mode="bilinear", align_corners=False)
            out.insert(0, self.csm[i](mixed[i] + up))
        return out


class Head(nn.Module):
    """A small patch discriminator on one scale's mixed features and the label map there."""

    def __init__(self, channels: int, num_classes: int, width: int, layers: int):
        super().__init__()
        convs, cin = [], channels + num_classes
        for _ in range(layers):
            convs.append(nn.Sequential(spectral_norm(nn.Conv2d(cin, width, 3, 1, 1)), nn.LeakyReLU(0.2)))
            cin = width
        convs.append(nn.Sequential(spectral_norm(nn.Conv2d(cin, 1, 1))))
        self.layers = nn.ModuleList(convs)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> list[torch.Tensor]:
        x = torch.cat([x, F.adaptive_avg_pool2d(seg, x.shape[-2:])], 1)
        out = []
        for layer in self.layers:
            x = layer(x)
            out.append(x)
        return out


def diff_augment(
    image: torch.Tensor, seg: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """DiffAugment's colour (brightness, saturation, contrast), translation (1/8 of the side)
    and cutout (1/4 of the side) on a batch, differentiable; the label map moves and is cut
    with the image, so the condition stays aligned."""
    b, device = image.shape[0], image.device
    rand = lambda *shape: torch.rand(*shape, generator=generator).to(device)
    image = image + (rand(b, 1, 1, 1) - 0.5)
    mean = image.mean(1, keepdim=True)
    image = (image - mean) * (rand(b, 1, 1, 1) * 2) + mean
    mean = image.mean((1, 2, 3), keepdim=True)
    image = (image - mean) * (rand(b, 1, 1, 1) + 0.5) + mean
    both = torch.cat([image, seg], 1)
    h, w = both.shape[-2:]
    shift = (rand(b, 2) * 2 - 1) * torch.tensor([h / 8, w / 8], device=device)
    theta = torch.zeros(b, 2, 3, device=device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 2], theta[:, 1, 2] = 2 * shift[:, 1] / w, 2 * shift[:, 0] / h
    grid = F.affine_grid(theta, both.shape, align_corners=False)
    both = F.grid_sample(both, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    ys, xs = torch.arange(h, device=device).view(1, h, 1), torch.arange(w, device=device).view(1, 1, w)
    centre = rand(b, 2) * torch.tensor([h, w], device=device)
    keep = ((ys - centre[:, 0].view(b, 1, 1)).abs() > h / 8) | ((xs - centre[:, 1].view(b, 1, 1)).abs() > w / 8)
    both = both * keep[:, None].to(both.dtype)
    return both[:, :3], both[:, 3:]


class ProjectedDiscriminator(nn.Module):
    """`forward(seg, image)` -> per scale [head features..., patch logits], as
    MultiscaleDiscriminator gives them. `augment`: DiffAugment in training mode."""

    def __init__(
        self, num_classes: int, features: EfficientNetLite0, width: int = 64, layers: int = 2, augment: bool = True
    ):
        super().__init__()
        self.features = features.eval().requires_grad_(False)
        self.projection = Projection()
        self.heads = nn.ModuleList(Head(m, num_classes, width, layers) for m in MIXED_CHANNELS)
        self.augment = augment

    def requires_grad_(self, requires_grad: bool = True) -> "ProjectedDiscriminator":
        """Only the heads ever learn (the trainer turns gradients off and on around the
        generator's step; the feature network and the mixing stay frozen)."""
        self.heads.requires_grad_(requires_grad)
        return self

    def train(self, mode: bool = True) -> "ProjectedDiscriminator":
        super().train(mode)
        self.features.eval()  # frozen: its batch norms keep the ImageNet statistics
        return self

    def forward(self, seg: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        if self.augment and self.training:
            image, seg = diff_augment(image, seg)
        mixed = self.projection(self.features.features(image))
        return [head(x, seg) for head, x in zip(self.heads, mixed)]
