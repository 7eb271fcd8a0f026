"""CUDA graphs (models/inference/graphs.py): a recorded frame or refinement step gives
what the eager one gives. On the CPU nothing is recorded, but the same buffers are used
(the reference path); the tests that record need CUDA and skip without it."""

import numpy as np
import pytest
import torch

from models.inference.engine import Engine
from models.inference.graphs import Recording
from models.inference.refiner import StyleRefiner
from models.nets.sean import NUM_BLOCKS
from tests.helpers import toy_mask, toy_photo

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="recording needs a CUDA GPU")


def frames(engine: Engine) -> list[np.ndarray]:
    """A session's worth of frames: strokes, a style change, per-block styles, back again."""
    mask = toy_mask()
    a = engine.encode(toy_photo(mask, seed=1), mask)
    b = engine.random_style(np.random.default_rng(0))
    stroke = mask.copy()
    stroke[4:12, 6:20] = 3
    return [
        engine.synthesize(m, s)
        for m, s in [(mask, a), (stroke, a), (stroke, b), (mask, [b] + [a] * (NUM_BLOCKS - 1)), (mask, a), (stroke, a)]
    ]


def test_frames_through_the_graph_buffers_match_the_eager_engine(weights_json):
    eager = Engine.load(str(weights_json), "cpu")
    buffered = Engine.load(str(weights_json), "cpu")
    assert not eager.graphs  # the CPU path keeps its incremental frames
    buffered.graphs = True
    for plain, through_buffers in zip(frames(eager), frames(buffered)):
        assert np.abs(plain.astype(int) - through_buffers).max() <= 1


def test_a_recording_does_what_its_function_does_once_per_call():
    count = torch.zeros(1)

    def add_one() -> torch.Tensor:
        count.add_(1)
        return count

    recording = Recording(add_one, torch.device("cpu"))
    for expected in (1, 2, 3):
        assert recording().item() == expected
    assert not recording.recorded


@needs_cuda
def test_recorded_frames_match_eager_ones_on_cuda(weights_json):
    eager = Engine.load(str(weights_json), "cuda")
    eager.graphs = False
    recorded = Engine.load(str(weights_json), "cuda")
    assert recorded.graphs
    for plain, replayed in zip(frames(eager), frames(recorded)):
        assert np.abs(plain.astype(int) - replayed).max() <= 2
    assert recorded._frame_graph.recording.recorded


@needs_cuda
def test_a_recorded_recording_counts_on_cuda():
    count = torch.zeros(1, device="cuda")
    recording = Recording(lambda: count.add_(1), torch.device("cuda"))
    for _ in range(5):
        recording()
    assert recording.recorded and count.item() == 5


@needs_cuda
def test_recorded_refinement_follows_the_eager_one_on_cuda(weights_json):
    engine = Engine.load(str(weights_json), "cuda")
    mask = toy_mask()
    photo = toy_photo(mask, seed=3)
    start = engine.encode(photo, mask)
    refiners = {
        "eager": StyleRefiner(engine.model, *engine._model_input(photo, mask), start, record=False),
        "recorded": engine.refiner(photo, mask, start),
    }
    for refiner in refiners.values():
        refiner.step(6)
        refiner.set_lr(0.01)  # a new rate: the step is recorded again
        refiner.step(6)
    assert refiners["recorded"]._recording.recorded and not refiners["eager"]._recording.recorded
    assert np.abs(refiners["eager"].style.codes - refiners["recorded"].style.codes).max() < 2e-2
    assert not np.array_equal(refiners["recorded"].style.codes, start.codes)


def test_the_bench_measures_a_frame_through_the_graph_buffers(tiny_model):
    from models.bench.speed import measure_recorded
    from models.nets.sean import one_hot

    mask = torch.from_numpy(toy_mask())[None].long()
    seg = one_hot(mask, tiny_model.cfg.num_classes)
    style, _ = tiny_model.encoder(torch.rand(1, 3, *mask.shape[-2:]) * 2 - 1, seg)
    generator = tiny_model.generator
    with torch.no_grad():
        result = measure_recorded(generator, mask, style, generator.prepare_styles(style), seg, 3, lambda: None)
    assert result["graph_max_diff"] < 1e-5 and not result["graph_recorded"] and result["graph_ms"] > 0
