"""The document an edit works on, with no Qt in it.

A document is a label mask, the style sources it can draw from (each a style matrix:
one code per class), and for every class a `RegionStyle`: source A, optional source B,
a blend weight and a per-SEAN-block crossover choice. Every change goes through
`History`, so mask strokes and style edits undo and redo alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.data.files import InputError, atomic_write
from models.inference.composite import PhotoEdit
from models.inference.recolour import ColourAdjust
from models.inference.sims import ComponentKey
from models.inference.styles import StyleMatrix, mixed_colours
from models.nets.sean import NUM_BLOCKS

if TYPE_CHECKING:  # the file format imports the document, not the other way round
    from app.editor.project_file import ProjectSnapshot


class Change(str, Enum):
    """What a document tells its listeners changed (a str, so logs and old listeners read it)."""

    MASK = "mask"  # a stroke or fill was committed
    STYLES = "styles"  # region assignments changed
    SOURCES = "sources"  # a style source joined
    REFINED = "refined"  # a source's codes were refined (no undo step)
    LOOK = "look"  # the look (a whole-picture stylisation) was set, changed or removed
    BANK = "bank"  # what is painted from a segment bank, or a candidate, changed
    HISTORY = "history"  # undo or redo
    SAVED = "saved"


MEAN = "mean"  # the built-in source: the training set's mean code per class
BLEND, USE_A, USE_B = "blend", "A", "B"  # what a SEAN block takes for a region


@dataclass(frozen=True)
class RegionStyle:
    """Where one class's style comes from."""

    source_a: str = MEAN
    source_b: str | None = None
    blend: float = 0.0  # 0: all A, 1: all B
    crossover: tuple[str, ...] = (BLEND,) * NUM_BLOCKS  # per block: BLEND, USE_A or USE_B
    adjust: ColourAdjust = ColourAdjust()  # hue, saturation and lightness set by hand, after the style

    def weight_of_b(self, block: int) -> float:
        if self.source_b is None:
            return 0.0
        choice = self.crossover[block]
        return 1.0 if choice == USE_B else 0.0 if choice == USE_A else self.blend


@dataclass
class Source:
    """A style the document can use: a photo's codes, a sample, a random draw."""

    name: str
    style: StyleMatrix
    thumbnail: np.ndarray | None = None  # small RGB preview
    kind: str = "photo"  # "photo", "sample", "random", "mean"


@dataclass(frozen=True, eq=False)
class Look:
    """A reference photo whose look (light, colour grading) the whole picture takes, by
    photorealistic stylisation (models/inference/stylize.py), region by region when the
    photo has labels. Compared by identity: a new look is a new object."""

    name: str
    photo: np.ndarray  # RGB, at most LOOK_SIDE on its longer side
    labels: np.ndarray | None  # its label mask (the document's labels), or None
    strength: float = 1.0  # 0: the picture as it is, 1: the full look


LOOK_SIDE = 512


@dataclass(frozen=True)
class BankFill:
    """Regions painted from a segment bank's real segments (SIMS, models/inference/sims.py):
    whole classes (None: every class of the layout) and single components, and the
    components shown with another candidate than the best. The bank stays a file of its
    own (banks are large, and made from datasets with their own licences): a project
    names it. A component is known by its class and first pixel, so it keeps its choice
    while strokes leave that pixel alone."""

    bank: str  # path of the bank file
    classes: frozenset[int] | None = None  # None: the whole layout
    components: frozenset[ComponentKey] = frozenset()
    choices: tuple[tuple[ComponentKey, int], ...] = ()  # (component, candidate index), sorted

    def covers(self, label: int, key: ComponentKey) -> bool:
        return self.classes is None or label in self.classes or key in self.components

    def choice_map(self) -> dict[ComponentKey, int]:
        return dict(self.choices)

    def with_choice(self, key: ComponentKey, candidate: int) -> "BankFill":
        return replace(self, choices=tuple(sorted({**self.choice_map(), key: candidate}.items())))

    def adding(
        self, classes: frozenset[int] | None = None, components: frozenset[ComponentKey] = frozenset()
    ) -> "BankFill":
        """This fill with more painted (classes None here: the whole layout)."""
        whole = classes is None and not components
        merged = None if whole or self.classes is None else self.classes | (classes or frozenset())
        return replace(self, classes=merged, components=self.components | components)

    def to_dict(self) -> dict:
        return {
            "bank": self.bank,
            "classes": None if self.classes is None else sorted(self.classes),
            "components": sorted(list(k) for k in self.components),
            "choices": [[list(k), n] for k, n in self.choices],
        }

    @classmethod
    def from_dict(cls, d: dict, num_classes: int) -> "BankFill":
        key = lambda k: tuple(int(v) for v in k)
        fill = cls(
            str(d["bank"]),
            None if d["classes"] is None else frozenset(int(c) for c in d["classes"]),
            frozenset(key(k) for k in d["components"]),
            tuple(sorted((key(k), int(n)) for k, n in d["choices"])),
        )
        labels = set(fill.classes or ()) | {k[0] for k in fill.components} | {k[0] for k, _ in fill.choices}
        if any(not 0 <= c < num_classes for c in labels) or any(len(k) != 3 for k in fill.components):
            raise ValueError("classes out of range")
        return fill


@dataclass(frozen=True)
class State:
    """One point in the history: the mask, the region assignments, the look and what is
    painted from a segment bank."""

    mask: np.ndarray
    regions: tuple[RegionStyle, ...]
    look: Look | None = None
    bank: BankFill | None = None


class History:
    """Unlimited undo/redo of whole states (a 256x256 mask is 64 KiB, so snapshots are cheap)."""

    def __init__(self, state: State):
        self.undo_stack: list[State] = []
        self.redo_stack: list[State] = []
        self.current = state

    def push(self, state: State) -> None:
        self.undo_stack.append(self.current)
        self.redo_stack.clear()
        self.current = state

    def undo(self) -> bool:
        if not self.undo_stack:
            return False
        self.redo_stack.append(self.current)
        self.current = self.undo_stack.pop()
        return True

    def redo(self) -> bool:
        if not self.redo_stack:
            return False
        self.undo_stack.append(self.current)
        self.current = self.redo_stack.pop()
        return True


@dataclass
class Document:
    model: str  # engine model name, e.g. "face"
    label_names: tuple[str, ...]
    mask: np.ndarray  # (size, size) uint8: the working copy painted on
    sources: dict[str, Source] = field(default_factory=dict)
    photo: np.ndarray | None = None  # the original photo, when the edit started from one
    path: Path | None = None  # where it was last saved
    title: str = ""  # what file names offered for it start with (the photo's name)
    photo_edit: PhotoEdit | None = None  # the user's photo at full size, when the edit is of a photo
    face: int = 0  # which of the photo's faces the edit is framed on (0: the largest)

    def __post_init__(self) -> None:
        # a copy: the working mask is painted in place, and the array handed in may be another
        # object's (a photo edit's own parsed mask, which must stay the photo's)
        self.mask = np.array(self.mask, dtype=np.uint8, order="C")
        regions = tuple(RegionStyle() for _ in self.label_names)
        self.history = History(State(self.mask.copy(), regions))
        self.saved_state = self.history.current
        self.listeners: list = []  # callables(what: Change) told after every change
        self.revision = 0  # counts changes, so autosave knows whether there is news
        self._styles: tuple | None = None  # (regions and sources seen, mean, styles_per_block)
        self._sources_changes = 0

    # -- reading ----------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def regions(self) -> tuple[RegionStyle, ...]:
        return self.history.current.regions

    @property
    def look(self) -> Look | None:
        return self.history.current.look

    @property
    def bank(self) -> BankFill | None:
        return self.history.current.bank

    @property
    def can_undo(self) -> bool:
        return bool(self.history.undo_stack)

    @property
    def can_redo(self) -> bool:
        return bool(self.history.redo_stack)

    @property
    def modified(self) -> bool:
        return self.history.current is not self.saved_state

    def adjustments(self) -> dict[int, ColourAdjust]:
        """The classes whose colour is set by hand, and how."""
        return {c: r.adjust for c, r in enumerate(self.regions) if not r.adjust.is_identity}

    def style_groups(self, groups: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
        """The label scheme's `groups` split where their regions' styles differ (a nose
        restyled alone): the regions that took one style, which a photo edit recolours as
        one (hand adjustments aside: they follow each region's own map)."""
        split = []
        for group in groups:
            by_style: dict[RegionStyle, list[int]] = {}
            for c in group:
                by_style.setdefault(replace(self.regions[c], adjust=ColourAdjust()), []).append(c)
            split.extend(tuple(classes) for classes in by_style.values())
        return tuple(split)

    def labels_present(self) -> list[int]:
        return [int(v) for v in np.unique(self.mask)]

    def styles_per_block(self, mean: StyleMatrix) -> list[StyleMatrix]:
        """The style matrix each SEAN block gets: per class, A and B mixed as assigned.
        Made again only when the styles change, not on every brush event."""
        key = (self.regions, self._sources_changes)
        if self._styles is None or self._styles[0] != key or self._styles[1] is not mean:
            self._styles = (key, mean, self._mix_styles(mean))
        return self._styles[2]

    def _mix_styles(self, mean: StyleMatrix) -> list[StyleMatrix]:
        filled = {k: s.style.filled_from(mean) for k, s in self.sources.items()}
        codes_of = {k: s.codes for k, s in filled.items()} | {MEAN: mean.codes}
        colours_of = {k: s.colour_rows() for k, s in filled.items()} | {MEAN: mean.colour_rows()}
        matrices = []
        for block in range(NUM_BLOCKS):
            codes, colours = mean.codes.copy(), mean.colour_rows().copy()
            for c, region in enumerate(self.regions):
                codes[c] = codes_of.get(region.source_a, mean.codes)[c]
                colours[c] = colours_of.get(region.source_a, colours_of[MEAN])[c]
                w = region.weight_of_b(block)
                if w > 0 and region.source_b in codes_of:
                    codes[c] = (1 - w) * codes[c] + w * codes_of[region.source_b][c]
                    colours[c] = mixed_colours(colours[c], colours_of[region.source_b][c], w)
            matrices.append(StyleMatrix(codes, np.ones(self.num_classes, bool), colours))
        return matrices

    # -- changing ---------------------------------------------------------------------
    def mark_saved(self) -> None:
        """The current state is what is on disk (or what a fresh edit starts from)."""
        self.saved_state = self.history.current

    def mark_unsaved(self) -> None:
        """Changes that are not on disk (a recovered edit, refined codes)."""
        self.saved_state = None

    def notify(self, what: Change) -> None:
        self.revision += 1
        for listener in self.listeners:
            listener(what)

    def commit_mask(self) -> bool:
        """Record the working mask (after a stroke or fill) as one undo step."""
        if np.array_equal(self.mask, self.history.current.mask):
            return False
        self.history.push(replace(self.history.current, mask=self.mask.copy()))
        self.notify(Change.MASK)
        return True

    def set_mask(self, mask: np.ndarray) -> None:
        if mask.shape != self.mask.shape:
            raise InputError(
                f"mask is {mask.shape[1]}x{mask.shape[0]}, the document is {self.mask.shape[1]}x{self.mask.shape[0]}"
            )
        if int(mask.max()) >= self.num_classes:
            raise InputError(f"mask holds label {int(mask.max())}; this model has {self.num_classes} classes")
        self.mask[...] = mask
        self.commit_mask()

    def set_regions(self, changes: dict[int, RegionStyle]) -> None:
        regions = list(self.regions)
        for label, region in changes.items():
            regions[label] = region
        if tuple(regions) == self.regions:
            return
        self.history.push(replace(self.history.current, regions=tuple(regions)))
        self.notify(Change.STYLES)

    def set_look(self, look: Look | None) -> None:
        """Give the picture a look, change its strength (a new Look), or remove it (None):
        one undo step."""
        if look is self.look:
            return
        if look is not None and not 0 <= look.strength <= 1:
            raise InputError(f"a look's strength runs from 0 to 1, not {look.strength}")
        if look is not None and look.labels is not None and look.labels.shape != look.photo.shape[:2]:
            raise InputError("the look photo's labels are not its size")
        self.history.push(replace(self.history.current, look=look))
        self.notify(Change.LOOK)

    def set_bank(self, fill: BankFill | None) -> None:
        """Paint regions from a segment bank, pick another candidate, or stop (None): one
        undo step. A photo edit keeps the user's photo: its bank only gives texture to
        painted shapes of classes the photo lacks, so it is a bank and nothing more."""
        if fill == self.bank:
            return
        if fill is not None and self.photo_edit is not None and fill != BankFill(fill.bank):
            raise InputError("a photo edit keeps your photo's own pixels: its bank only gives painted shapes texture")
        self.history.push(replace(self.history.current, bank=fill))
        self.notify(Change.BANK)

    def add_source(self, key: str, source: Source) -> None:
        """Sources are not part of the undo history: adding one changes no picture."""
        self.sources[key] = source
        self._sources_changes += 1
        self.notify(Change.SOURCES)

    def refine_source(self, key: str, style: StyleMatrix) -> bool:
        """Closer codes for a source's own photo (refinement finishing in the background).
        The user edited nothing, so it is no undo step, but a saved project no longer
        holds these codes. False when the source is gone."""
        if key not in self.sources:
            return False
        self.sources[key] = replace(self.sources[key], style=style)
        self._sources_changes += 1
        if self.path is not None:
            self.mark_unsaved()
        self.notify(Change.REFINED)
        return True

    def apply_source(self, key: str, labels: list[int], slot: str = "a") -> list[int]:
        """Give `labels` the style of source `key` (as A, or as B); returns the labels the
        source has no code for, which keep their previous style."""
        style = self.sources[key].style if key != MEAN else None
        has = lambda c: style is None or bool(style.present[c])
        changes = {
            c: replace(self.regions[c], **({"source_a": key} if slot == "a" else {"source_b": key}))
            for c in labels
            if has(c)
        }
        self.set_regions(changes)
        return [c for c in labels if not has(c)]

    def undo(self) -> bool:
        return self._move(self.history.undo())

    def redo(self) -> bool:
        return self._move(self.history.redo())

    def _move(self, moved: bool) -> bool:
        if moved:
            self.mask[...] = self.history.current.mask
            self.notify(Change.HISTORY)
        return moved

    # -- files ------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """A project file: a zip of project.json, mask.png, codes.npz, photo.png, thumbnails."""
        path = Path(path)
        atomic_write(path, lambda p: p.write_bytes(self.to_bytes()), (".sean",))
        self.path = path
        self.mark_saved()
        self.notify(Change.SAVED)

    def to_bytes(self) -> bytes:
        return self.snapshot().to_bytes()

    def snapshot(self, **extra_meta) -> "ProjectSnapshot":
        """What a project file holds, copied now: it can be written on another thread while
        painting goes on (the format: app/editor/project_file.py)."""
        from app.editor.project_file import snapshot_of

        return snapshot_of(self, **extra_meta)

    @classmethod
    def load(cls, path: str | Path, recovering: bool = False) -> "Document":
        """A project file (see app/editor/project_file.py: `load_project`)."""
        from app.editor.project_file import load_project

        return load_project(path, recovering)
