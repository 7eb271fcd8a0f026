"""The one conversion between pictures and the networks' tensors: uint8 RGB (H, W, 3)
<-> float (B, 3, H, W) in [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch


def image_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) or (B, H, W, 3) uint8 -> (B, 3, H, W) float32 in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(rgb))
    t = t[None] if t.ndim == 3 else t
    return t.permute(0, 3, 1, 2).float().div(127.5).sub(1)


def tensor_to_image(t: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1], any dtype or device -> (B, H, W, 3) uint8, rounded."""
    return t.detach().float().permute(0, 2, 3, 1).add(1).mul(127.5).round().clamp(0, 255).byte().cpu().numpy()
