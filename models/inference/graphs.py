"""CUDA graphs: a frame, or a refinement step, replayed as one recorded launch.

On a GPU the lite generator is launch-bound: a frame is some hundreds of small kernels,
each a few microseconds of work behind tens of microseconds of Python and launch
overhead (an H200 took 8.0 ms per frame at 256 px and the same 8.0 ms at 512). A CUDA
graph records the kernels of one call, for fixed shapes and fixed input buffers, and
replays them all with one launch. So a recorded call reads its inputs from buffers of
its own (copied in before each replay) and writes its outputs to the same tensors every
time (read them before the next call).

`Recording` is the mechanism; `FrameGraph` the engine's whole frame, mask and codes to
picture. `StyleRefiner` records its step with the same `Recording`. Only CUDA records;
with `record=False` the same function runs eagerly on the same buffers (the reference
path the CPU tests use to check what goes in and out).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from models.nets.config import NUM_BLOCKS
from models.nets.sean import SEANGenerator

WARMUP_CALLS = 2  # eager calls before recording: lazy set-ups (cuDNN plans, cached constants) happen outside it


def can_record(device: torch.device) -> bool:
    return device.type == "cuda"


class Recording:
    """Calls `fn` (no arguments; it reads and writes tensors it owns) eagerly for its first
    `warmup` calls, on a side stream as CUDA asks, then records it and from then on
    replays the recording. Every call has exactly the effect of one call of `fn`, and
    returns what `fn` returned (when recorded: the same tensors, overwritten each time).

    If recording fails (an operation CUDA cannot capture, on some driver or version),
    the failure is reported once as a warning and `fn` keeps running eagerly: slower, not
    broken."""

    def __init__(self, fn: Callable[[], object], device: torch.device, record: bool = True, warmup: int = WARMUP_CALLS):
        self.fn, self.device, self.warmup = fn, device, warmup
        self.record = record and can_record(device)
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.output: object = None

    @property
    def recorded(self) -> bool:
        return self.graph is not None

    def __call__(self) -> object:
        if self.graph is not None:
            self.graph.replay()
            return self.output
        if not self.record:
            return self.fn()
        if self.calls < self.warmup:
            self.calls += 1
            return self._on_side_stream()
        self._capture()
        if self.graph is None:  # could not record: stay eager
            return self.fn()
        self.graph.replay()  # capturing ran nothing: this is the call's effect
        return self.output

    def _on_side_stream(self) -> object:
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            output = self.fn()
        torch.cuda.current_stream(self.device).wait_stream(side)
        return output

    def _capture(self) -> None:
        graph = torch.cuda.CUDAGraph()
        try:
            # thread_local: CUDA work on other threads (none in the engine, which runs all
            # network work on one thread) would not spoil the recording
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                self.output = self.fn()
        except RuntimeError as error:
            warnings.warn(f"CUDA graph recording failed, running eagerly instead: {error}", stacklevel=3)
            self.record, self.output = False, None
            torch.cuda.synchronize(self.device)
            return
        self.graph = graph


class FrameGraph:
    """The engine's whole frame for one mask size: label mask + one style matrix per block
    -> picture (1, 3, H, W) in [-1, 1]. Styles are prepared inside the frame too: recorded,
    that costs a few tiny kernels, less than copying prepared tables in would."""

    def __init__(
        self,
        generator: SEANGenerator,
        size: tuple[int, int],
        device: torch.device,
        dtype: torch.dtype,
        record: bool = True,
    ):
        cfg = generator.cfg
        self.generator, self.dtype = generator, dtype
        self.labels = torch.zeros(1, *size, dtype=torch.uint8, device=device)
        self.codes = torch.zeros(NUM_BLOCKS, 1, cfg.num_classes, cfg.style_dim, dtype=dtype, device=device)
        self.classes = torch.arange(cfg.num_classes, dtype=torch.uint8, device=device).view(1, -1, 1, 1)
        self.recording = Recording(self._frame, device, record)

    def _frame(self) -> torch.Tensor:
        # one-hot by comparison: F.one_hot checks its input's range on the host, which a
        # recording cannot do
        seg = (self.labels[:, None] == self.classes).to(self.dtype)
        return self.generator.render(seg, self.generator.prepare_styles(list(self.codes)))

    def __call__(self, labels: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """`labels` (1, H, W) integer classes, `codes` (NUM_BLOCKS, 1, s, style_dim), on any
        device. The picture is overwritten by the next call."""
        self.labels.copy_(labels, non_blocking=True)
        self.codes.copy_(codes, non_blocking=True)
        return self.recording()
