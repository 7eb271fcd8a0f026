"""The window's files: new, open and save edits, exports, and the dialogs, which open where
the user last was, with names taken from the photo's. Every write is guarded: a refusal
(read-only folder, full disk) is a message, and the edit stays open and unsaved."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
from PyQt6.QtCore import QStandardPaths
from PyQt6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from app.editor.document import Document
from app.editor.qt.styles import CODES_FILTER, IMAGE_FILTER, MASK_FILTER
from app.editor.session import PhotoImport
from models.data.files import (
    DEFAULT_QUALITY,
    InputError,
    image_format,
    jpeg_quality,
    looks_like_label_map,
    photo_metadata,
    save_image,
    save_mask,
)

if TYPE_CHECKING:
    from app.editor.qt.host import FilesWindow

PROJECT_FILTER = "SEAN Studio project (*.sean)"


class FileController:
    """The window's files: new, open and save edits, exports, and the dialogs. It works
    through `window` (app/editor/qt/host.py: what it needs of the window, no more)."""

    def __init__(self, window: FilesWindow):
        self.window = window

    def open_files(self, paths: list[str], first_photo_opens: bool = False) -> None:
        """Dropped or named files, each by its kind: a project opens, a mask becomes the mask
        (a new edit if it is another model's; a file meant as a mask that no model can read
        gets Open Mask's reason), codes and photos join the styles. With
        `first_photo_opens` (files named on the command line), the first photo starts a new
        edit, as File > Open Photo does."""
        for path in paths:
            suffix = Path(path).suffix.lower()
            if suffix == ".sean":
                self.open_project(path)
            elif suffix == ".npz":
                self.window.styles.add_codes(path)
            elif suffix == ".png" and (self.window.session.models_fitting_mask(path) or looks_like_label_map(path)):
                self.open_mask(path)
            elif first_photo_opens:
                self.open_photo_file(path)
                first_photo_opens = False
            else:
                self.window.styles.add_photos([path])

    def confirm_discard(self) -> bool:
        """Ask before losing unsaved work; True when it is fine to go on."""
        if not self.window.doc.modified:
            return True
        answer = QMessageBox.question(
            self.window,
            "Unsaved changes",
            "Save the changes to this edit first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save_project()
        return answer == QMessageBox.StandardButton.Discard

    # -- new and open -------------------------------------------------------------------
    def new_document_dialog(self, blank: bool) -> None:
        models = self.window.session.available_models()
        model, ok = models[0], True
        if len(models) > 1:
            current = models.index(self.window.doc.model) if self.window.doc.model in models else 0
            model, ok = QInputDialog.getItem(self.window, "New edit", "Model:", models, current, False)
        if ok:
            self.new_document(model, blank)

    def new_document(self, model: str, blank: bool = False) -> None:
        if self.confirm_discard() and self.window.switch_engine(model):
            self.window.attach(self.window.session.new_document(blank=blank))

    def open_project_dialog(self) -> None:
        path = self.ask_open_path("Open project", PROJECT_FILTER)
        if path:
            self.open_project(path)

    def open_project(self, path: str) -> None:
        if not self.confirm_discard():
            return
        try:
            doc = Document.load(path)
        except InputError as e:
            self.window.show_error(str(e))
            return
        self.open_document(doc, Path(path).name)

    def open_document(self, doc: Document, name: str) -> bool:
        """Show a loaded document, with its model's engine."""
        if not self.window.switch_engine(doc.model):
            return False
        try:
            self.window.session.check_fits(doc, name)
        except InputError as e:
            self.window.show_error(str(e))
            return False
        self.window.attach(doc)
        return True

    def open_mask_dialog(self) -> None:
        path = self.ask_open_path("Open mask", MASK_FILTER)
        if path:
            self.open_mask(path)

    def open_mask(self, path: str) -> None:
        """A mask of this edit's model replaces the mask (one undo step); another model's mask
        starts a new edit with that model. Any size is scaled to the model's."""
        try:
            model, mask = self.window.session.mask_to_open(path)
        except InputError as e:
            self.window.show_error(str(e))
            return
        if model != self.window.doc.model:
            if self.confirm_discard() and self.window.switch_engine(model):
                self.window.attach(self.window.session.new_document(mask))
                self.window.doc.title = Path(path).stem
                self.window.statusBar().showMessage(
                    f"{Path(path).name} is a '{model}' mask: opened a new {model} edit", 8000
                )
            return
        doc = self.window.doc
        layout = mask
        if doc.photo_edit is None:
            layout = self.window.engine.scene_layout(mask)
            if layout.shape != doc.mask.shape:  # a street of another aspect: a new edit at its own
                if self.confirm_discard():
                    self.window.attach(self.window.session.new_document(mask))
                    self.window.doc.title = Path(path).stem
                    h, w = self.window.doc.mask.shape
                    self.window.statusBar().showMessage(f"{Path(path).name}: a new edit at {w}x{h}, its aspect", 8000)
                return
        h, w = doc.mask.shape
        doc.set_mask(cv2.resize(layout, (w, h), interpolation=cv2.INTER_NEAREST))
        self.window.statusBar().showMessage(f"Opened {Path(path).name} at {w}x{h}", 5000)

    def open_photo_dialog(self) -> None:
        path = self.ask_open_path("Open photo", IMAGE_FILTER)
        if path:
            self.open_photo_file(path)

    def open_photo_file(self, path: str) -> None:
        """A photo starts a new edit; a model without a parser asks for its mask first."""
        if self.window.engine.has_parser:
            self.open_photo(path)
        elif mask_path := self.window.styles.ask_mask_for(path):
            self.open_photo(path, mask_path)

    def open_next_face(self) -> None:
        """The same photo, framed on its next face (a group photo: the largest comes first)."""
        edit = self.window.doc.photo_edit
        if edit is None or not edit.source_key.startswith("photo:"):
            self.window.show_error("Next Face works on an edit that started from a photo")
            return
        self.open_photo(edit.source_key[len("photo:") :], face=self.window.doc.face + 1)

    def open_photo(self, path: str, mask_path: str | None = None, face: int = 0) -> None:
        """A new edit that starts from a photo: framed (on its largest face, or the `face`-th),
        parsed into the mask (unless one is given), and its style on every region."""
        if not self.confirm_discard():
            return
        work = self.window.styles.photo_import(path, mask_path, for_edit=True, face=face)
        if work is None:
            return
        self.window.statusBar().showMessage(f"Opening {Path(path).name}...")

        def opened(photo: PhotoImport) -> None:
            doc = self.window.session.photo_document(photo)
            self.window.attach(doc)
            if photo.faces > 1:
                self.window.statusBar().showMessage(
                    f"Opened {Path(path).name}: face {photo.face + 1} of {photo.faces} "
                    "(File > Edit Next Face in Photo picks another)",
                    8000,
                )
            elif photo.found_face:  # replaces "Opening ...", which would otherwise stay
                self.window.statusBar().showMessage(f"Opened {Path(path).name}", 5000)
            else:
                self.window.statusBar().showMessage(
                    "No face found: the photo's centre square was used; repaint the mask where needed", 10000
                )
            self.window.styles.refine_in_background(doc, photo)

        self.window.worker.submit(work, opened)

    # -- save and export ------------------------------------------------------------------
    def save_project(self) -> bool:
        if self.window.doc.path is None:
            return self.save_project_as()
        return self.save_to(self.window.doc.path)

    def save_project_as(self) -> bool:
        path = self.ask_save_path("Save project", ".sean", PROJECT_FILTER)
        return self.save_to(Path(path).with_suffix(".sean")) if path else False

    def save_to(self, path: Path) -> bool:
        return self.guarded(lambda: self.window.doc.save(path), f"Saved {path.name}")

    def export_result_dialog(self) -> None:
        doc, edit = self.window.doc, self.window.doc.photo_edit
        h, w = self.window.engine.render_shape(doc.mask.shape)
        choices = [f"{w}x{h} (model size)", f"{w * 2}x{h * 2}", f"{w * 4}x{h * 4}"]
        if edit is not None:
            h, w = edit.original.shape[:2]
            choices.insert(0, f"The photo at its own size ({w}x{h})")
        choice, ok = QInputDialog.getItem(self.window, "Export result", "Export:", choices, 0, False)
        if not ok:
            return
        path = self.ask_save_path(
            "Export result",
            "_edited.jpg" if edit else "_edited.png",
            "JPEG (*.jpg);;PNG (*.png)" if edit else "PNG (*.png);;JPEG (*.jpg)",
        )
        if not path:
            return
        quality = DEFAULT_QUALITY
        if Path(path).suffix.lower() in (".jpg", ".jpeg"):
            # a JPEG export encodes every pixel again: the original's own quality loses least
            own = jpeg_quality(io.BytesIO(edit.file)) if edit is not None and edit.file else None
            label = f"JPEG quality (the original's: {own}):" if own else "JPEG quality:"
            quality, ok = QInputDialog.getInt(self.window, "Export result", label, own or DEFAULT_QUALITY, 1, 100)
            if not ok:
                return
        if choice.startswith("The photo"):
            self.export_photo(path, quality)
        else:
            self.export_result(path, int(choice.split()[0].split("x")[1]))

    def export_photo(self, path: str, quality: int = DEFAULT_QUALITY) -> None:
        """A photo edit at the photo's own size, with its EXIF and colour profile; made on
        the engine thread, written when done (the status bar says when)."""
        doc = self.window.doc
        try:
            image_format(path)
        except InputError as e:
            self.window.show_error(str(e))
            return
        metadata = photo_metadata(io.BytesIO(doc.photo_edit.file)) if doc.photo_edit.file else {}
        self.window.statusBar().showMessage(f"Exporting {Path(path).name}...")

        def write(image) -> None:
            self.guarded(
                lambda: save_image(path, image, quality, metadata),
                f"Exported {Path(path).name} ({image.shape[1]}x{image.shape[0]})",
            )

        texture = self.window.actions.texture.isChecked()  # the export is what the view shows
        self.window.worker.submit(lambda: self.window.session.render_photo(doc, texture), write)

    def export_result(self, path: str, height: int | None = None) -> bool:
        """The result as shown, scaled to `height` (a street keeps its aspect)."""
        if self.window.result is None:
            self.window.show_error("Nothing to export yet: the result is still being made")
            return False
        image = self.window.result
        if height and height != image.shape[0]:
            width = round(height * image.shape[1] / image.shape[0])
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LANCZOS4)
        return self.guarded(lambda: save_image(path, image), f"Exported {Path(path).name}")

    def export_mask_dialog(self) -> None:
        path = self.ask_save_path("Export mask", "_mask.png", MASK_FILTER)
        if path:
            self.export_mask(path)

    def export_mask(self, path: str) -> bool:
        """The index PNG at `path` and a colour PNG beside it (NAME_color.png)."""
        path = Path(path).with_suffix(".png")
        colour = path.with_name(f"{path.stem}_color.png")
        labels = self.window.engine.labels
        return self.guarded(
            lambda: (
                save_mask(path, self.window.doc.mask, labels),
                save_image(colour, labels.colorize(self.window.doc.mask)),
            ),
            f"Exported {path.name} and {colour.name}",
        )

    def export_codes_dialog(self) -> None:
        path = self.ask_save_path("Export style codes", "_codes.npz", CODES_FILTER)
        if path:
            self.export_codes(path)

    def export_codes(self, path: str) -> bool:
        """The first block's style matrix (what `synth --codes` reads); with crossover in use
        the blocks differ, so the project file is the way to keep those."""
        style = self.window.doc.styles_per_block(self.window.engine.mean_style)[0]
        return self.guarded(
            lambda: style.save(path, self.window.doc.model, self.window.doc.label_names), f"Exported {Path(path).name}"
        )

    def guarded(self, work, done_message: str) -> bool:
        """Every file the editor writes goes through here."""
        try:
            work()
        except InputError as e:
            self.window.show_error(str(e))
            return False
        except OSError as e:
            where = f"{e.filename}: " if e.filename else ""
            self.window.show_error(f"{where}cannot write ({e.strerror or e}); the edit is still open and unsaved")
            return False
        self.window.statusBar().showMessage(done_message, 4000)
        return True

    # -- dialogs --------------------------------------------------------------------------
    def start_folder(self) -> Path:
        last = self.window.settings.value("last_folder", "", type=str)
        if last and Path(last).is_dir():
            return Path(last)
        pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
        return Path(pictures) if pictures and Path(pictures).is_dir() else Path.home()

    def file_stem(self) -> str:
        """What offered file names start with: the project's name, else the photo's."""
        return self.window.doc.path.stem if self.window.doc.path else (self.window.doc.title or "untitled")

    def ask_open_path(self, title: str, filters: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.window, title, str(self.start_folder()), filters)
        return self.remember_folder(path)

    def ask_save_path(self, title: str, ending: str, filters: str) -> str | None:
        """`ending` follows the stem: ".sean", "_edited.png"..."""
        offered = self.start_folder() / f"{self.file_stem()}{ending}"
        path, _ = QFileDialog.getSaveFileName(self.window, title, str(offered), filters)
        return self.remember_folder(path)

    def remember_folder(self, path: str | None) -> str | None:
        if path:
            self.window.store_setting("last_folder", str(Path(path).parent))
        return path or None
