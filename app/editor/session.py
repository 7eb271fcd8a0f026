"""What the editor does, without Qt: the engine of the current model and switching it, new
documents, working out which model a mask belongs to, importing photos (read, framed,
parsed, encoded: the work the engine thread runs), the encode cache, and refinement cut
into slices. The window (app/editor/qt/) asks, shows and schedules; this decides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from app.editor.document import LOOK_SIDE, BankFill, Document, Look, Source
from app.editor.memo import Memo
from app.editor.pipeline import PICTURE, SYNTHESIS, FramePipeline, Step
from app.editor.samples import load_samples, sample_mask
from models.data import framing
from models.data.bank import SegmentBank
from models.data.files import WORKING_SIDE, InputError, load_image, load_mask, schemes_fitting_mask
from models.data.labels import LabelScheme
from models.inference.composite import (
    LiveFill,
    PhotoEdit,
    RegionGrid,
    composite,
    parsed_labels,
    recolour,
    restyled_classes,
    start_edit,
)
from models.inference.engine import Engine
from models.inference.recolour import adjust_regions
from models.inference.refiner import REFINE_LR, StyleRefiner
from models.inference.sims import BankPainter, Canvas, ComponentKey, component_key, retrieve
from models.inference.styles import CODE_RANGE, StyleMatrix, blended_colours
from models.inference.stylize import StyleFeatures, default_smoothing, fit_side, picture_labels, style_look, stylize
from models.inference.texture_fill import DEFAULT_FILL
from models.inference.weights import available_models, model_schemes
from models.settings import NET_SIDE, REFINE_STEPS

T = TypeVar("T")  # what a bank load gives (the bank, or its painter)

REFINE_SLICE = 3  # refinement steps between frames: about half a second on two CPU cores
# The editor's schedule: a first pass of FAST_STEPS at twice the rate reaches a refined
# picture in under a quarter of the steps (8 held-out CelebA-HQ photos: 21.19 dB after 7
# steps, against 20.99 at the usual rate; the encoder alone 18.21), then the rest at the
# usual rate ends where 30 steps do (23.10 dB, against 23.18).
FAST_STEPS, FAST_LR = 7, 0.06
PREVIEW_SIDE = 1600  # the live view of a photo edit is composited at most this large
# Painted pixels the view's texture fill works out at full detail (more: on a smaller copy):
# while a stroke goes on, of what it changed (a frame stays live); once it has ended, of every
# shape, afresh (the export's fill, for a photo the view shows at its own size; a few seconds
# at most on two cores, given up between sweeps when the next stroke's frame waits).
FILL_LIVE_PIXELS = 2_000
FILL_SETTLED_PIXELS = 30_000
# ... and when painting pauses, the export's own composite at the photo's size, in the
# background (given up for any newer frame), shown scaled to the view and kept for the export
THUMBNAIL = 96
MIN_LOOK_SIDE = 96  # below this the look's smoothing window is a pixel or two


@dataclass
class PhotoImport:
    """A photo as the model sees it: framed, its mask, whether a face was found, its codes."""

    path: Path
    framed: np.ndarray
    mask: np.ndarray
    found_face: bool
    style: StyleMatrix
    edit: PhotoEdit | None = None  # kept when the photo starts an edit: the original at full size
    face: int = 0  # which face (0: the largest) ...
    faces: int = 0  # ... of how many found

    @property
    def key(self) -> str:
        return photo_key(self.path)

    def source(self) -> Source:
        return Source(self.path.stem, self.style, thumbnail(self.framed), "photo")


def photo_key(path: str | Path) -> str:
    return f"photo:{Path(path).resolve()}"


def thumbnail(rgb: np.ndarray, size: int = THUMBNAIL) -> np.ndarray:
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)


def look_side(edit: PhotoEdit, picture: np.ndarray) -> int:
    """The look's working size for a picture of a photo edit: the export's NET_SIDE for the
    photo at its own size, scaled with the picture, so that the view is the export's
    pipeline at the view's size (the same look, not one worked out at another size)."""
    return max(MIN_LOOK_SIDE, round(NET_SIDE * max(picture.shape[:2]) / max(edit.original.shape[:2])))


def adjustment_rows(adjustments: dict) -> np.ndarray:
    """Hand adjustments (class -> ColourAdjust) as rows (class, hue, saturation,
    lightness): a key a Memo compares by value."""
    return np.array([(c, a.hue, a.saturation, a.lightness) for c, a in sorted(adjustments.items())], float).reshape(
        -1, 4
    )


def adjust_step(doc: Document) -> Step | None:
    """An edit of a mask's hand adjustments on its synthesis (a photo edit's go through the
    composite's colour transform)."""
    adjustments, mask = doc.adjustments(), doc.mask.copy()
    return (
        Step("adjust", PICTURE, PICTURE, lambda image: adjust_regions(image, mask, adjustments))
        if adjustments
        else None
    )


class EditorSession:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.encode_cache: dict[tuple, Source] = {}  # (photo key, mtime, mask path) -> encoded source
        self.random = np.random.default_rng()
        # derived pictures, each memo kept by the thread that uses it
        self._preview: Memo[PhotoEdit] = Memo()  # GUI thread: the edit on a preview-size photo
        self._restyled: Memo[np.ndarray] = Memo()  # GUI thread: the classes the styles restyle
        self._base: Memo[np.ndarray] = Memo()  # engine: the own mask drawn in its own style
        self._recoloured: Memo[np.ndarray] = Memo()  # engine: the preview photo, restyled regions recoloured
        self._grid: Memo[RegionGrid] = Memo()  # engine: the preview's regions, for the texture fill
        self._look: Memo[StyleFeatures] = Memo()  # engine: the look photo's features
        self._live_fill = LiveFill()  # engine: the view's fill, refilled where a stroke changed it
        self._photo_size: Memo[np.ndarray] = Memo()  # engine: the photo-size composite, the export's
        self._banks: dict[str, SegmentBank] = {}  # bank path -> the bank, loaded
        self._painters: dict[str, BankPainter] = {}  # bank path -> its painter (the bank and the canvas network)
        self._unusable_banks: set[str] = set()  # banks that failed to load (a moved file...)
        self.last_canvas: Canvas | None = None  # the bank canvas of the last frame, for its view

    # -- photo edits ------------------------------------------------------------------
    def own_style(self, doc: Document) -> StyleMatrix:
        """The photo's own (refined) style, filled from the mean where it lacks a class."""
        source = doc.sources.get(doc.photo_edit.source_key)
        style = source.style if source is not None else self.engine.mean_style
        return style.filled_from(self.engine.mean_style)

    def base_synthesis(self, edit: PhotoEdit, own: StyleMatrix) -> np.ndarray:
        """The photo's own mask drawn with its own style (kept until the style changes, as
        refinement does); on the engine thread."""
        return self._base.get((edit, own.codes), lambda: self.engine.synthesize(edit.mask, own))

    def recoloured(
        self,
        edit: PhotoEdit,
        preview: PhotoEdit,
        own: StyleMatrix,
        per_block: list[StyleMatrix],
        restyled: np.ndarray,
        regions: tuple,
        adjustments: dict,
        groups: tuple[tuple[int, ...], ...] = (),
        keep: bool = True,
        interrupt: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """The preview photo with its restyled and hand-adjusted regions recoloured: for the
        view (`keep`), made again only when the styles or `regions` (the document's,
        compared by identity) change, not at every brush stroke (painted shapes go over
        it); an export's is made once and not kept (`interrupt`: see `recolour`). On the
        engine thread."""

        def make() -> np.ndarray:
            if not restyled.any() and not adjustments:
                return preview.original
            styles = [s.filled_from(self.engine.mean_style) for s in per_block]
            synthesis = self.engine.synthesize(edit.mask, styles if len(styles) > 1 else styles[0])
            return recolour(
                preview,
                self.base_synthesis(edit, own),
                synthesis,
                restyled,
                adjustments,
                blended_colours(styles),
                groups,
                interrupt,
                self.engine.labels.shaded,
                self.engine.labels.loose,
            )

        return self._recoloured.get((preview, own.codes, per_block, regions), make) if keep else make()

    def frame_pipeline(
        self,
        doc: Document,
        per_block: list[StyleMatrix],
        max_side: int | None = PREVIEW_SIDE,
        as_photo: bool = True,
        texture: bool = True,
        stroke: bool = False,
        superseded: Callable[[], bool] | None = None,
        photo_size: bool = False,
    ) -> FramePipeline:
        """The steps that turn a frame's synthesis into the picture, in order: the bank's
        segments (an edit of a mask), the photo with the edit in it at most `max_side` px
        (a photo edit; None: at the photo's own size, the export; `as_photo` False: the
        plain synthesis instead; `texture` False: painted shapes take the model's synthesis
        instead of the photo's own texture; `stroke`: a frame in the middle of a brush
        stroke, whose fill refills only what changed; `photo_size`: the export's composite,
        at the photo's size, scaled to `max_side`, for a view that waits for it; any other
        view's fill is given up when `superseded` says a newer frame waits) or the
        regions' hand adjustments (an edit of a mask), then the look. Built on the GUI
        thread from copies of what it needs; run on the engine thread."""
        steps = [self.bank_step(doc)]
        if doc.photo_edit is not None and as_photo:
            steps.append(self.composite_step(doc, per_block, max_side, texture, stroke, superseded, photo_size))
        elif doc.photo_edit is None:
            steps.append(adjust_step(doc))
        steps.append(self.look_step(doc, per_block, max_side, as_photo))
        return FramePipeline(tuple(step for step in steps if step is not None))

    def composite_step(
        self,
        doc: Document,
        per_block: list[StyleMatrix],
        max_side: int | None,
        texture: bool = True,
        stroke: bool = False,
        superseded: Callable[[], bool] | None = None,
        photo_size: bool = False,
    ) -> Step:
        """The photo with the edit in it: its regions recoloured (kept between frames of the
        view), painted shapes filled with the photo's texture (the view's refilled only
        where a stroke changed them while it goes on, then afresh: see FILL_LIVE_PIXELS;
        the export's at the photo's own resolution, kept for the next export and shown
        scaled to the view when the view asks for it (`photo_size`); classes the photo
        lacks from the document's bank, when it has one) or drawn by the model."""
        edit, adjustments, regions, mask = doc.photo_edit, doc.adjustments(), doc.regions, doc.mask.copy()
        groups = doc.style_groups(self.engine.labels.groups)
        preview = edit if max_side is None else self.preview(edit, max_side)
        own = self.own_style(doc)
        bank = doc.bank.bank if doc.bank is not None and doc.bank.bank not in self._unusable_banks else None
        # an export's pipeline is built on the engine thread: it keeps nothing in the GUI thread's memos
        restyled = self.restyled(own, per_block, keep=max_side is not None)
        recoloured = lambda: self.recoloured(
            edit, preview, own, per_block, restyled, regions, adjustments, groups, keep=max_side is not None
        )
        segment_bank = lambda: self.segment_bank(bank) if bank is not None else None
        # what the photo-size composite is made of, compared as the memo compares keys
        made_of = (edit, mask, own.codes, per_block, regions, adjustment_rows(adjustments), bank, texture)

        def photo_size_composite(image: np.ndarray, interrupt: Callable[[], bool] | None) -> np.ndarray:
            make = lambda: composite(
                edit,
                mask,
                self.base_synthesis(edit, own),
                image,
                restyled,
                self.recoloured(
                    edit, edit, own, per_block, restyled, regions, adjustments, groups, keep=False, interrupt=interrupt
                ),
                DEFAULT_FILL if texture else None,
                bank=segment_bank(),
                interrupt=interrupt,
            )
            return self._photo_size.get(made_of, make)

        def for_view(image: np.ndarray) -> np.ndarray:
            if photo_size:
                return self.photo_size_view(photo_size_composite(image, superseded), preview, recoloured(), mask)
            return composite(
                preview,
                mask,
                self.base_synthesis(edit, own),
                image,
                restyled,
                recoloured(),
                DEFAULT_FILL if texture else None,
                FILL_LIVE_PIXELS if stroke else FILL_SETTLED_PIXELS,
                self.region_grid(preview),
                self._live_fill,
                afresh=not stroke,
                bank=segment_bank(),
                interrupt=None if stroke else superseded,
            )

        run = for_view if max_side is not None else lambda image: photo_size_composite(image, None)
        return Step("composite", SYNTHESIS, PICTURE, run)

    def photo_size_view(
        self, picture: np.ndarray, preview: PhotoEdit, recoloured: np.ndarray, mask: np.ndarray
    ) -> np.ndarray:
        """The photo-size composite `picture` at the view's size (that of `preview`), which
        the view's fill then takes as its own (the next stroke grows from what is shown)."""
        h, w = preview.original.shape[:2]
        shown = picture if picture.shape[:2] == (h, w) else cv2.resize(picture, (w, h), interpolation=cv2.INTER_AREA)
        self._live_fill.adopt(shown, recoloured, mask)
        return shown

    def region_grid(self, preview: PhotoEdit) -> RegionGrid:
        """The preview's RegionGrid (where its regions lie), kept while the preview is the
        same; on the engine thread."""
        return self._grid.get((preview,), lambda: RegionGrid(preview))

    def preview(self, edit: PhotoEdit, max_side: int) -> PhotoEdit:
        """The edit on a copy of the photo at most `max_side` px (the live view)."""
        return self._preview.get((edit, max_side), lambda: edit.scaled(max_side))

    def restyled(self, own: StyleMatrix, per_block: list[StyleMatrix], keep: bool = True) -> np.ndarray:
        """The classes the edit restyles; for the view (`keep`, GUI thread) worked out again
        only when the styles change (the document hands out the same list until they do),
        not at every brush event."""
        make = lambda: restyled_classes(own, [s.filled_from(self.engine.mean_style) for s in per_block])
        return self._restyled.get((per_block, own.codes), make) if keep else make()

    def render_photo(self, doc: Document, texture: bool = True) -> np.ndarray:
        """A photo edit at the photo's full size, with its look: the view's pipeline at the
        photo's own size (on the engine thread)."""
        styles = doc.styles_per_block(self.engine.mean_style)
        pipeline = self.frame_pipeline(doc, styles, max_side=None, texture=texture)
        return pipeline(self.engine.synthesize(doc.mask, styles))

    # -- the look ---------------------------------------------------------------------
    def look_from_photo(self, path: str) -> Look:
        """A photo as a look: at most LOOK_SIDE, and parsed into the model's labels when the
        model has a parser (so regions take their own class's look); on the engine thread."""
        photo = load_image(path, max_side=WORKING_SIDE)
        self.engine.check_photo_suits(photo, path)
        labels = parsed_labels(self.engine, photo)[0] if self.engine.has_parser else None
        small = fit_side(photo, LOOK_SIDE)
        if labels is not None:
            labels = cv2.resize(labels, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
        look = Look(Path(path).name, small, labels)
        self.look_features(look)  # here, off the GUI thread: any error comes now
        return look

    def look_features(self, look: Look) -> StyleFeatures:
        """The look photo's features, kept while its photo stays (a new strength keeps them)."""
        return self._look.get((look.photo,), lambda: style_look(look.photo, look.labels, LOOK_SIDE))

    def apply_look(
        self,
        look: Look,
        image: np.ndarray,
        mask: np.ndarray,
        placement: framing.Framing | None,
        side: int,
        keep: frozenset[int] = frozenset(),
    ) -> np.ndarray:
        """`image` (the synthesis, or the photo of a photo edit placed by `placement`) given
        the look, per region when the look photo has labels; the classes in `keep` keep
        their own colours."""
        labels = picture_labels(mask, image.shape[:2], placement) if look.labels is not None else None
        features = self.look_features(look)
        smooth = default_smoothing(self.engine.labels.framing)
        return stylize(image, features, labels, smooth, strength=look.strength, side=side, keep=keep)

    def look_step(
        self, doc: Document, per_block: list[StyleMatrix], max_side: int | None, as_photo: bool = True
    ) -> Step | None:
        """The document's look over the picture, per region when the look photo has labels."""
        look = doc.look
        if look is None:
            return None
        mask, edit = doc.mask.copy(), doc.photo_edit if as_photo else None
        # a photo edit's restyled and hand-coloured regions keep the colours the edit gave them
        keep = frozenset()
        if edit is not None:
            restyled = self.restyled(self.own_style(doc), per_block, keep=max_side is not None)  # as the composite's
            keep = frozenset(int(c) for c in np.flatnonzero(restyled)) | frozenset(doc.adjustments())

        def run(image: np.ndarray) -> np.ndarray:
            if edit is None:  # a synthesis (an edit of a mask, or the plain view): the view is what exports
                return self.apply_look(look, image, mask, None, NET_SIDE)
            # a photo edit's picture is the photo at some size: the square lies where its framing, scaled, says
            placed = edit.framing.scaled(image.shape[1] / edit.original.shape[1])
            return self.apply_look(look, image, mask, placed, look_side(edit, image), keep)

        return Step("look", PICTURE, PICTURE, run)

    # -- the segment bank (SIMS) -----------------------------------------------------------
    def segment_bank(self, path: str) -> SegmentBank:
        """A bank file, loaded once (on the engine thread: a bank takes a second or two) and
        checked against this model; all a photo edit's painted shapes need of it."""

        def load() -> SegmentBank:
            bank = SegmentBank.load(path)
            bank.check_fits(self.model, self.engine.labels, path)
            return bank

        if path not in self._banks:
            self._banks = {path: self.usable_bank(path, load)}  # one bank in memory at a time
        return self._banks[path]

    def bank_painter(self, path: str) -> BankPainter:
        """The painter of a bank file (the bank and the model's canvas network), made once;
        a bad bank or missing canvas weights are an InputError that says so."""
        if path not in self._painters:
            bank = self.segment_bank(path)
            self._painters = {path: self.usable_bank(path, lambda: BankPainter.load(self.engine, bank))}
        return self._painters[path]

    def usable_bank(self, path: str, load: Callable[[], T]) -> T:
        """`load()`, or an InputError that says the picture goes on without the bank; a
        bank that failed is said once, and later frames go without it."""
        try:
            loaded = load()
        except InputError as e:
            self._unusable_banks.add(path)
            raise InputError(f"{e}; the picture is shown without the bank's segments") from None
        self._unusable_banks.discard(path)
        return loaded

    def bank_step(self, doc: Document) -> Step | None:
        """The bank fill: the canvas of the covered components, painted over the synthesis
        by the canvas network (an edit of a mask only: a photo edit keeps its pixels)."""
        fill = doc.bank
        if fill is None or doc.photo_edit is not None or fill.bank in self._unusable_banks:
            return None
        mask = doc.mask.copy()

        def run(image: np.ndarray) -> np.ndarray:
            painter = self.bank_painter(fill.bank)
            self.last_canvas = canvas = painter.canvas(mask, choices=fill.choice_map(), covers=fill.covers)
            return painter.paint_over(image, mask, canvas)

        return Step("bank", SYNTHESIS, SYNTHESIS, run)

    def bank_component(self, mask: np.ndarray, fill: BankFill, x: float, y: float) -> tuple[ComponentKey, int] | None:
        """(the key of `mask`'s component under (x, y), how many candidates `fill`'s bank
        has for it), or None where no component is (on the engine thread)."""
        painter = self.bank_painter(fill.bank)
        comp = painter.component_at(mask, x, y)
        if comp is None:
            return None
        matches, _ = retrieve(painter.bank, painter.layout(mask), covers=lambda _, key: key == component_key(comp))
        return (component_key(comp), len(matches[0].candidates)) if matches else None

    # -- models -----------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.engine.info.model

    def available_models(self) -> list[str]:
        return available_models(self.engine.weights_dir) or [self.model]

    def engine_for(self, model: str) -> Engine:
        """The engine of `model` (this one, or another loaded on the same device)."""
        if model == self.model:
            return self.engine
        return Engine.load(model, str(self.engine.device), self.engine.weights_dir)

    def switch_to(self, engine: Engine) -> None:
        self.engine = engine
        self._banks, self._painters = {}, {}  # a bank belongs to one model

    def model_schemes(self) -> dict[str, LabelScheme]:
        """Every installed model's labels, the current model first."""
        return {self.model: self.engine.labels, **model_schemes(self.engine.weights_dir)}

    def models_fitting_mask(self, path: str) -> list[str]:
        """The models a mask file could belong to, most likely first (see schemes_fitting_mask)."""
        try:
            return schemes_fitting_mask(path, self.model_schemes())
        except InputError:
            return []

    def mask_to_open(self, path: str) -> tuple[str, np.ndarray]:
        """(the model a mask file belongs to, the mask): the current model's when it fits or
        when none does (so the error names this model's labels)."""
        schemes = self.model_schemes()
        fitting = self.models_fitting_mask(path)
        model = fitting[0] if fitting else self.model
        return model, load_mask(path, schemes[model])

    # -- documents --------------------------------------------------------------------
    def new_document(
        self, mask: np.ndarray | None = None, photo: np.ndarray | None = None, blank: bool = False
    ) -> Document:
        """A fresh document for the current model, with the bundled sample styles: of the
        sample mask, `mask`, or (`blank`) all label 0. A photo edit's mask is its framed
        photo's, the model's square; any other scene's is at its street's aspect
        (`Engine.scene_layout`), as the model paints it."""
        engine = self.engine
        labels = engine.labels
        if photo is not None:
            mask = cv2.resize(mask, (engine.size, engine.size), interpolation=cv2.INTER_NEAREST)
        else:
            mask = engine.scene_layout(sample_mask(self.model, labels, engine.size) if mask is None else mask)
        if blank:
            mask = np.zeros_like(mask)
        samples = load_samples(self.model, labels.num_classes, engine.info.config.style_dim)
        return Document(self.model, labels.names, mask, samples, photo)

    def check_fits(self, doc: Document, name: str) -> None:
        """A loaded document must be of this model's labels and code size."""
        if doc.label_names != self.engine.labels.names:
            raise InputError(f"{name} was made with other labels than model '{doc.model}' has")
        style_shape = (len(doc.label_names), self.engine.info.config.style_dim)
        if any(
            s.style.codes.shape != style_shape
            or not np.isfinite(s.style.codes).all()
            or np.abs(s.style.codes).max(initial=0) > CODE_RANGE
            for s in doc.sources.values()
        ):
            raise InputError(f"{name} holds style codes that do not fit model '{doc.model}' (another version?)")

    def photo_document(self, photo: PhotoImport) -> Document:
        """A new edit that starts from a photo: its mask, and its style on every region."""
        doc = self.new_document(photo.mask, photo.framed)
        doc.photo_edit, doc.face = photo.edit, photo.face
        doc.add_source(photo.key, photo.source())
        doc.apply_source(photo.key, list(range(doc.num_classes)))
        doc.title = photo.path.stem
        doc.mark_saved()  # nothing of the user's to lose yet
        return doc

    def random_source(self, doc: Document) -> tuple[str, Source]:
        number = sum(s.kind == "random" for s in doc.sources.values()) + 1
        return f"random-{number}-{self.random.integers(1 << 30)}", Source(
            f"Random {number}", self.engine.random_style(self.random), None, "random"
        )

    def codes_source(self, path: str) -> tuple[str, Source]:
        cfg = self.engine.info.config
        style = StyleMatrix.load(path, cfg.num_classes, cfg.style_dim, self.model)
        return f"codes:{Path(path).resolve()}", Source(Path(path).stem, style, None, "codes")

    # -- photos -----------------------------------------------------------------------
    def photo_mask(self, mask_path: str) -> np.ndarray:
        """A style photo's mask, refused when it is another model's (a face photo's mask on a
        scene edit): that photo's styles would mean nothing here."""
        other = self.models_fitting_mask(mask_path)
        if other and other[0] != self.model:
            raise InputError(
                f"{Path(mask_path).name} is a '{other[0]}' mask: styles from a {other[0]} photo "
                f"cannot be used on this '{self.model}' edit"
            )
        return load_mask(mask_path, self.engine.labels)

    def cache_key(self, path: str, mask_path: str | None) -> tuple | None:
        try:
            return photo_key(path), Path(path).stat().st_mtime, mask_path
        except OSError:
            return None

    def photo_import(
        self, path: str, mask_path: str | None, for_edit: bool = False, face: int = 0
    ) -> Callable[[], PhotoImport]:
        """The engine-thread work that reads a photo, frames and parses it (without a mask)
        and encodes it. A style photo is scaled down as it is decoded; a photo that starts
        an edit is kept whole (`for_edit`). The mask is read here, so that its errors come
        at once."""
        mask = self.photo_mask(mask_path) if mask_path else None
        engine = self.engine

        def work() -> PhotoImport:
            photo = load_image(path, max_side=None if mask is not None or for_edit else WORKING_SIDE)
            if mask is not None and photo.shape[:2] != mask.shape:
                raise InputError(
                    f"{Path(path).name} is {photo.shape[1]}x{photo.shape[0]} but its mask is "
                    f"{mask.shape[1]}x{mask.shape[0]}"
                )
            engine.check_photo_suits(photo, Path(path).name)
            file = Path(path).read_bytes() if for_edit else b""
            faces = framing.detect_faces(photo) if mask is None and engine.labels.framing == "face" else []
            face_index = face % len(faces) if faces else 0
            edit, style, framed = start_edit(
                engine, photo, photo_key(path), mask, file=file, face=face_index, faces=faces
            )
            return PhotoImport(
                Path(path),
                framed,
                edit.mask,
                edit.framing.found_face,
                style,
                edit if for_edit else None,
                face_index,
                len(faces),
            )

        return work


class Refinement:
    """A photo's codes fitted to the photo (`StyleRefiner`) a slice at a time, so the
    window can run it as background work between frames."""

    def __init__(self, engine: Engine, photo: PhotoImport):
        self.engine, self.photo = engine, photo
        self.refiner: StyleRefiner | None = None

    def next_slice(self) -> StyleMatrix:
        """On the engine thread, where all network work runs (the refiner is made there too)."""
        if self.refiner is None:
            self.refiner = self.engine.refiner(self.photo.framed, self.photo.mask, self.photo.style, FAST_LR)
        done = self.refiner.steps_done
        if done >= FAST_STEPS:
            self.refiner.set_lr(REFINE_LR)
            return self.refiner.step(REFINE_SLICE)
        return self.refiner.step(min(REFINE_SLICE, FAST_STEPS - done))

    @property
    def first_pass_done(self) -> bool:
        return self.steps_done >= FAST_STEPS

    @property
    def steps_done(self) -> int:
        return self.refiner.steps_done if self.refiner else 0

    @property
    def done(self) -> bool:
        return self.steps_done >= REFINE_STEPS

    @property
    def progress(self) -> str:
        return f"{self.steps_done}/{REFINE_STEPS}"
