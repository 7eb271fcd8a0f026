"""Which device the networks run on: the one asked for, else CUDA, then Apple MPS, then the CPU."""
from __future__ import annotations

import torch

from models.data.files import InputError


def pick_device(name: str | None = None) -> torch.device:
    """The requested device, else CUDA, then Apple MPS, then the CPU."""
    if name:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise InputError(f"unknown device {name!r}; use cpu, cuda, cuda:N or mps") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise InputError("--device cuda asked for, but no CUDA GPU is available")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise InputError("--device mps asked for, but Apple MPS is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
