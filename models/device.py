"""Which device the networks run on: the one asked for, else CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.data.files import InputError

if TYPE_CHECKING:
    import torch


def pick_device(name: str | None = None) -> torch.device:
    """The requested device, else CUDA, then Apple MPS, then the CPU."""
    import torch  # here, not above: building the command line loads no networks

    if name:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise InputError(f"unknown device {name!r}; use cpu, cuda, cuda:N or mps") from None
        if device.type not in ("cpu", "cuda", "mps"):  # meta, xpu, hpu...: torch names them, we do not run there
            raise InputError(f"device {name!r} is not one this program runs on; use cpu, cuda, cuda:N or mps")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"--device {name}: there is no such GPU ({torch.cuda.device_count()} available)")
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


def device_name(device: str | torch.device) -> str:
    """The device in words, for results and training records: the GPU's name, or the
    processor and the threads torch uses."""
    import torch

    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(device)
    import platform

    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


# glibc's malloc settings (mallopt's parameter numbers)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # the most glibc accepts on 64-bit systems
TRIM_THRESHOLD = 1024 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed tensors' memory for the next frame instead of handing it
    back to the system and faulting it in again. Frames and refinement steps allocate and
    free tens of MB each time; with glibc's defaults a long-running process drifts into
    doing so through fresh pages (2-core CPU: synthesis 77 -> 62 ms, a refinement step
    312 -> 201 ms in `bench` after its editor loops). A no-op elsewhere; True if applied."""
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
