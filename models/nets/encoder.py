"""SEAN's style encoder (the paper's), and our StyleContext beside it: photo + mask -> the
style matrix ST, one code per region."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.nets.config import SEANConfig

# StyleContext: channels of its pyramid levels (1/2 ... 1/32 of the photo), class embedding size.
CONTEXT_WIDTHS = (32, 64, 96, 128, 128)
CONTEXT_CLASS_DIM = 16


class StyleContext(nn.Module):
    """Ours, not in the paper: a correction to the style matrix from the whole photo.

    The encoder's features each see about 20 pixels and are averaged over their region,
    so a code can say what a region looks like but hardly how it changes across the
    photo (light falling across the background, the sweep of the hair), and that is
    where most of a reconstruction's error lies. This branch looks at the photo and the
    pixel coordinates through a strided pyramid (1/2 to 1/32), averages every level over
    every region, and an MLP shared by all regions (told the class by an embedding) turns
    those averages and the encoder's code into a correction of the code. Its last layer
    starts at zero, so a trained model gains the branch without changing its output.
    """

    def __init__(self, cfg: SEANConfig):
        super().__init__()
        layers, cin = [], 5  # RGB + x, y
        for width in CONTEXT_WIDTHS:
            layers.append(
                nn.Sequential(nn.Conv2d(cin, width, 3, 2, padding=1, padding_mode="reflect"), nn.LeakyReLU(0.2))
            )
            cin = width
        self.layers = nn.ModuleList(layers)
        self.class_embedding = nn.Embedding(cfg.num_classes, CONTEXT_CLASS_DIM)
        self.mlp = nn.Sequential(
            nn.Linear(sum(CONTEXT_WIDTHS) + cfg.style_dim + CONTEXT_CLASS_DIM, cfg.context_hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(cfg.context_hidden, cfg.style_dim),
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, image: torch.Tensor, seg: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """The correction (B, s, 512) to the encoder's `codes` of `image` under `seg`."""
        b, _, h, w = image.shape
        ys, xs = torch.meshgrid(
            torch.linspace(-1, 1, h, device=image.device, dtype=image.dtype),
            torch.linspace(-1, 1, w, device=image.device, dtype=image.dtype),
            indexing="ij",
        )
        features = torch.cat([image, xs.expand(b, 1, h, w), ys.expand(b, 1, h, w)], dim=1)
        pooled = []
        for layer in self.layers:
            features = layer(features)
            pooled.append(region_mean(features, seg))
        classes = self.class_embedding.weight.to(codes.dtype).expand(b, -1, -1)
        return self.mlp(torch.cat(pooled + [codes, classes], dim=-1))


def region_mean(features: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) features averaged over each region of the (B, s, H, W) one-hot mask ->
    (B, s, C); the mask is area-resized, so a thin region still gets the features it
    covers. Absent classes get zeros."""
    weights = F.interpolate(seg, size=features.shape[-2:], mode="area")
    sums = torch.einsum("bshw,bdhw->bsd", weights, features)
    return sums / weights.sum(dim=(2, 3)).clamp(min=1e-6).unsqueeze(-1)


class StyleEncoder(nn.Module):
    """Bottleneck conv net -> 512-channel map at half resolution -> region-wise average
    pooling; plus, when configured, our StyleContext's correction."""

    def __init__(self, cfg: SEANConfig):
        super().__init__()
        n = cfg.enc_ngf

        def conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cout, 3, stride, padding=1, padding_mode="reflect"),
                nn.InstanceNorm2d(cout),
                nn.LeakyReLU(0.2),
            ]

        self.net = nn.Sequential(
            *conv(3, n),
            *conv(n, 2 * n, 2),
            *conv(2 * n, 4 * n, 2),
            nn.ConvTranspose2d(4 * n, 8 * n, 3, stride=2, padding=1, output_padding=1),
            nn.InstanceNorm2d(8 * n),
            nn.LeakyReLU(0.2),
            nn.Conv2d(8 * n, cfg.style_dim, 3, padding=1, padding_mode="reflect"),
            nn.Tanh(),
        )
        self.context = StyleContext(cfg) if cfg.context_hidden else None

    def forward(self, image: torch.Tensor, seg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Style matrix (B, s, 512) and which classes are present (B, s) bool.

        Absent classes get zero codes; the caller decides what fills them.
        """
        codes = region_mean(self.net(image), seg)
        present = seg.sum(dim=(2, 3)) > 0
        if self.context is not None:
            codes = codes + self.context(image, seg, codes) * present.unsqueeze(-1)
        return codes, present
