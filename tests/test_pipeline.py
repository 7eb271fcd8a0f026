"""The frame pipeline: named steps in order, each saying what it takes and gives."""

import numpy as np
import pytest

from app.editor.pipeline import PICTURE, SYNTHESIS, FramePipeline, Step


def test_steps_run_in_order_and_a_synthesis_step_cannot_follow_a_picture_step():
    add = lambda n: lambda image: image + n
    pipeline = FramePipeline(
        (
            Step("a", SYNTHESIS, SYNTHESIS, add(1)),
            Step("b", SYNTHESIS, PICTURE, add(10)),
            Step("c", PICTURE, PICTURE, add(100)),
        )
    )
    assert pipeline.names == ("a", "b", "c") and pipeline(np.zeros(1))[0] == 111
    with pytest.raises(ValueError, match="takes the synthesis"):
        FramePipeline((Step("b", SYNTHESIS, PICTURE, add(1)), Step("a", SYNTHESIS, SYNTHESIS, add(1))))
