"""A frame's pipeline: the named steps that turn the model's synthesis into the picture
the result pane shows, and, the same steps at the photo's own size, the export. Each step
says what it takes and what it gives; the session builds the list for a document
(`EditorSession.frame_pipeline`) on the GUI thread, from values copied there, and the
engine thread runs it. No Qt here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SYNTHESIS = "synthesis"  # the model's picture of the mask, at its size
PICTURE = "picture"  # what is shown: the synthesis finished, or the user's photo with the edit in it


@dataclass(frozen=True)
class Step:
    name: str  # "bank", "composite", "adjust", "look"
    takes: str
    gives: str
    run: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class FramePipeline:
    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        """A step that needs the synthesis must come before any that makes a picture of it
        (a synthesis is already a picture: an edit of a mask shows it)."""
        made = SYNTHESIS
        for step in self.steps:
            if step.takes == SYNTHESIS and made != SYNTHESIS:
                raise ValueError(f"step {step.name!r} takes the synthesis but comes after a step that made the picture")
            made = step.gives

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(step.name for step in self.steps)

    def __call__(self, synthesis: np.ndarray) -> np.ndarray:
        image = synthesis
        for step in self.steps:
            image = step.run(image)
        return image
