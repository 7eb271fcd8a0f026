"""The window's style work: drops on regions, random styles, style photos and codes joining
the gallery, and refinement run as background work between frames."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtWidgets import QFileDialog

from app.editor.document import MEAN, Document
from app.editor.qt.canvas import read_source_payload
from app.editor.session import PhotoImport, Refinement, photo_key
from models.data.files import InputError
from models.inference.styles import StyleMatrix
from models.inference.stylize import kept_names

if TYPE_CHECKING:
    from app.editor.qt.host import StylesWindow

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
MASK_FILTER = "Masks (*.png)"
CODES_FILTER = "Style codes (*.npz)"


class StyleController:
    """The window's styles: photos and codes added, dropped on regions, randomised and
    refined, and the look. It works through `window` (app/editor/qt/host.py)."""

    def __init__(self, window: StylesWindow):
        self.window = window

    def drop_payload(self, payload: str, label: int, all_regions: bool, alone: bool = False) -> None:
        """A style dragged from a gallery, maybe another window's: only this edit's own apply."""
        model, key = read_source_payload(payload)
        if model != self.window.doc.model:
            self.window.show_error(
                f"That style comes from a '{model}' edit; it cannot be used on this '{self.window.doc.model}' edit"
            )
        elif key not in self.window.doc.sources and key != MEAN:
            self.window.show_error("That style belongs to another edit: add its photo or codes to this one first")
        else:
            self.drop_style(key, label, all_regions, alone)

    def drop_style(self, key: str, label: int, all_regions: bool, alone: bool = False) -> None:
        """A style dropped on `label`: it goes to the regions that belong with it (skin with
        nose, ears and neck; both eyes...), to `label` alone (Ctrl), or everywhere (Shift)."""
        if all_regions:
            labels = self.window.doc.labels_present()
        else:
            labels = [label] if alone else list(self.window.engine.labels.group_of(label))
        missing = self.window.doc.apply_source(key, labels)
        name = self.window.doc.sources[key].name if key in self.window.doc.sources else "Mean style"
        names = lambda cs: ", ".join(self.window.doc.label_names[c] for c in cs)
        if missing:
            keep = "those regions keep" if len(missing) > 1 else "that region keeps"
            self.window.statusBar().showMessage(f"{name} has no {names(missing)}: {keep} its previous style", 8000)
        else:
            where = "all regions" if all_regions else names(labels)
            hint = " (Ctrl-drop: one region alone)" if len(labels) > 1 and not all_regions else ""
            self.window.statusBar().showMessage(f"{where}: style of {name}{hint}", 4000)
        if not all_regions:  # the region panel follows the region the style went to
            self.window.palette_list.setCurrentRow(label)

    def randomise(self, labels: list[int]) -> None:
        key, source = self.window.session.random_source(self.window.doc)
        self.window.doc.add_source(key, source)
        self.window.doc.apply_source(key, labels)

    def add_photo_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self.window,
            "Add style photos or codes",
            str(self.window.files.start_folder()),
            f"{IMAGE_FILTER};;{CODES_FILTER}",
        )
        if paths:
            self.window.files.remember_folder(paths[0])
        self.add_photos(paths)

    def add_photos(self, paths: list[str]) -> None:
        """Style photos join the gallery (a photo needs a mask where the model has no parser)."""
        for path in paths:
            if self.window.engine.has_parser:
                self.add_photo(path)
            elif mask_path := self.ask_mask_for(path):
                self.add_photo(path, mask_path)

    def add_codes(self, path: str) -> None:
        """Style codes exported earlier (or by `encode`) join the gallery."""
        try:
            self.window.doc.add_source(*self.window.session.codes_source(path))
        except InputError as e:
            self.window.show_error(str(e))

    def ask_mask_for(self, photo_path: str) -> str | None:
        """No photo parser for this model: the user points at the photo's mask."""
        self.window.statusBar().showMessage(
            f"Model '{self.window.doc.model}' has no parser to make a mask from a photo: "
            f"choose the label mask for {Path(photo_path).name}",
            8000,
        )
        path, _ = QFileDialog.getOpenFileName(
            self.window,
            f"Model '{self.window.doc.model}' has no photo parser: choose the label mask of "
            f"{Path(photo_path).name} (index or colour PNG)",
            str(Path(photo_path).parent),
            MASK_FILTER,
        )
        return path or None

    def photo_import(self, path: str, mask_path: str | None, for_edit: bool = False, face: int = 0):
        """The engine-thread work that imports a photo; None (after saying why) when its
        mask is refused."""
        try:
            return self.window.session.photo_import(path, mask_path, for_edit, face)
        except InputError as e:
            self.window.show_error(str(e))
            return None

    def add_photo(self, path: str, mask_path: str | None = None) -> None:
        """Frame, parse and encode a style photo on the engine thread (once: cached), then
        add it to the gallery."""
        cache, cache_key = self.window.session.encode_cache, self.window.session.cache_key(path, mask_path)
        if cache_key in cache:
            self.window.doc.add_source(photo_key(path), cache[cache_key])
            return
        work = self.photo_import(path, mask_path)
        if work is None:
            return
        self.window.statusBar().showMessage(f"Reading the style of {Path(path).name}...")

        def added(photo: PhotoImport) -> None:
            cache[cache_key] = photo.source()
            self.window.doc.add_source(photo.key, cache[cache_key])
            note = "" if photo.found_face else " (no face found: its centre square was used)"
            self.window.statusBar().showMessage(f"Added {Path(path).name} to the styles{note}", 6000)
            self.refine_in_background(self.window.doc, photo, cache_key)

        self.window.worker.submit(work, added)

    def refine_in_background(self, doc: Document, photo: PhotoImport, cache_key: tuple | None = None) -> None:
        """Fit the photo's codes to it a slice at a time, as background work: painting stays
        live, and the picture comes closer slice by slice. Stops when the document is closed
        or the engine changes."""
        if not self.window.actions.refine.isChecked():
            return
        engine, name = self.window.engine, photo.path.stem
        refinement = Refinement(engine, photo)

        def sliced(codes: StyleMatrix) -> None:
            if doc is not self.window.doc or engine is not self.window.engine or photo.key not in doc.sources:
                return
            if not refinement.first_pass_done:
                # The first pass shows only its end: each frame between would delay the
                # refined picture by half a slice, and the encoder's picture is on screen.
                self.window.statusBar().showMessage(f"Refining the style of {name}: {refinement.progress}", 5000)
                self.window.worker.submit(refinement.next_slice, sliced, background=True)
                return
            doc.refine_source(photo.key, codes)
            if not refinement.done:
                self.window.statusBar().showMessage(
                    f"Refined the style of {name}; fitting it finer: {refinement.progress}", 5000
                )
                self.window.worker.submit(refinement.next_slice, sliced, background=True)
                return
            if cache_key is not None:
                self.window.session.encode_cache[cache_key] = doc.sources[photo.key]
            self.window.statusBar().showMessage(f"Refined the style of {name} fully", 4000)

        self.window.worker.submit(refinement.next_slice, sliced, background=True)

    # -- the look -------------------------------------------------------------------------
    def choose_look_dialog(self) -> None:
        path = self.window.files.ask_open_path("Look from photo", IMAGE_FILTER)
        if path:
            self.set_look_photo(path)

    def set_look_photo(self, path: str) -> None:
        """A photo becomes the whole picture's look: read, parsed and encoded on the engine
        thread; one undo step when it is ready."""
        doc, name = self.window.doc, Path(path).name
        self.window.statusBar().showMessage(f"Taking the look of {name}...")

        def ready(look) -> None:
            if doc is not self.window.doc:
                return
            doc.set_look(look)
            if look.labels is None:
                note = " (as one region: this model has no parser)"
            else:
                kept = kept_names(doc.label_names, doc.mask, look.labels)
                note = f"; it has too little {kept}: those keep theirs" if kept else ""
            self.window.statusBar().showMessage(f"The picture takes the look of {name}{note}", 8000)

        self.window.worker.submit(lambda: self.window.session.look_from_photo(path), ready)

    def set_look_strength(self, strength: float) -> None:
        if self.window.doc.look is not None and strength != self.window.doc.look.strength:
            self.window.doc.set_look(replace(self.window.doc.look, strength=strength))

    def remember_refine_choice(self, on: bool) -> None:
        self.window.store_setting("refine_photos", on)
