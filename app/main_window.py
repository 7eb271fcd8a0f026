"""The editor window: wires the document, the views and the engine worker together."""
from __future__ import annotations

import time
from collections import deque
from pathlib import Path

import cv2
import numpy as np
from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import (QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow,
                             QMessageBox, QSlider, QSplitter, QVBoxLayout, QWidget)

from app.canvas import ImageView, MaskCanvas, Tool, read_source_payload
from app.document import MEAN, Document, Source
from app.panels import LabelPalette, RegionPanel, StyleGallery, thumbnail
from app.samples import load_samples, sample_mask
from app.worker import EngineWorker
from models.engine import REFINE_STEPS, Engine, StyleMatrix, StyleRefiner
from models.framing import stretched_photo
from models.imageio import InputError, load_image, load_mask, save_image, save_mask, schemes_fitting_mask
from models.labels import LabelScheme
from models.weights import available_models, model_schemes

PROJECT_FILTER = "SEAN Studio project (*.sean)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp)"
REFINE_SLICE = 3   # refinement steps between frames: about half a second on two CPU cores


class MainWindow(QMainWindow):
    def __init__(self, engine: Engine, settings: QSettings | None = None, separate_process: bool = True):
        super().__init__()
        self.settings = settings or QSettings("SEAN Studio", "SEAN Studio")
        self.engine = engine
        self.separate_process = separate_process   # frames in a child process (see engine_process.py)
        self.worker = EngineWorker(engine, separate_process)
        self.result: np.ndarray | None = None
        # (requested, shown) on the perf_counter clock, and the engine's ms for the frame
        self.frames_shown: deque[tuple[float, float, float]] = deque(maxlen=10000)
        self.encode_cache: dict[tuple, Source] = {}   # (photo, mtime, mask) -> encoded source
        self.random = np.random.default_rng()
        self.doc = self.new_document_for(engine)
        self.build_views()
        self.build_actions()
        self.connect_worker()
        self.attach(self.doc)
        self.restore_layout()

    # -- construction -----------------------------------------------------------------
    def new_document_for(self, engine: Engine, mask: np.ndarray | None = None,
                         photo: np.ndarray | None = None) -> Document:
        """A fresh document for `engine`'s model, with the bundled sample styles."""
        model, labels = engine.info.model, engine.labels
        if mask is None:
            mask = sample_mask(model, labels, engine.size)
        samples = load_samples(model, labels.num_classes, engine.info.config.style_dim)
        return Document(model, labels.names, mask, samples, photo)

    def build_views(self) -> None:
        labels = self.engine.labels
        self.canvas = MaskCanvas(self.doc, labels.palette())
        self.result_view = ImageView("The synthesised photo appears here")
        self.photo_view = ImageView("No photo")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for view in (self.canvas, self.result_view, self.photo_view):
            self.splitter.addWidget(view)
        self.setCentralWidget(self.splitter)

        self.palette_list = LabelPalette(labels.names, labels.colors)
        self.brush_size = QSlider(Qt.Orientation.Horizontal)
        self.brush_size.setRange(1, 64)
        self.brush_size.setValue(int(self.canvas.radius))
        left = QWidget()
        layout = QVBoxLayout(left)
        layout.addWidget(QLabel("Labels"))
        layout.addWidget(self.palette_list)
        layout.addWidget(QLabel("Brush size  ([ and ])"))
        layout.addWidget(self.brush_size)
        self.add_dock("Labels", left, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.gallery = StyleGallery()
        self.region_panel = RegionPanel()
        right = QWidget()
        layout = QVBoxLayout(right)
        layout.addWidget(QLabel("Styles: drag onto a region (Shift: all regions)"))
        layout.addWidget(self.gallery)
        layout.addWidget(self.region_panel)
        self.add_dock("Styles", right, Qt.DockWidgetArea.RightDockWidgetArea)

        self.status_model = QLabel()
        self.status_time = QLabel("synthesis: -")
        self.status_cursor = QLabel()
        for w in (self.status_cursor, self.status_time, self.status_model):
            self.statusBar().addPermanentWidget(w)

        self.canvas.mask_edited.connect(self.request_synthesis)
        self.canvas.label_picked.connect(self.palette_list.setCurrentRow)
        self.canvas.style_dropped.connect(self.drop_payload)
        self.canvas.files_dropped.connect(self.open_files)
        self.canvas.cursor_moved.connect(self.status_cursor.setText)
        self.palette_list.label_chosen.connect(self.choose_label)
        self.palette_list.style_dropped.connect(self.drop_payload)
        self.gallery.files_dropped.connect(self.open_files)
        self.region_panel.changed.connect(lambda changes: self.doc.set_regions(changes))
        self.region_panel.random_requested.connect(self.randomise)
        self.brush_size.valueChanged.connect(self.set_brush_radius)

    def add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)

    def build_actions(self) -> None:
        def action(menu, text, slot, shortcut=None, checkable=False) -> QAction:
            a = QAction(text, self)
            if shortcut:
                a.setShortcuts([QKeySequence(s) for s in ([shortcut] if isinstance(shortcut, str) else shortcut)])
            a.setCheckable(checkable)
            a.triggered.connect(slot)
            menu.addAction(a)
            return a

        bar = self.menuBar()
        m = bar.addMenu("&File")
        action(m, "&New Blank Mask...", lambda: self.new_document_dialog(blank=True), "Ctrl+N")
        action(m, "New from &Sample Mask...", lambda: self.new_document_dialog(blank=False), "Ctrl+Shift+N")
        action(m, "&Open Project...", self.open_project_dialog, "Ctrl+O")
        action(m, "Open &Mask...", self.open_mask_dialog, "Ctrl+M")
        action(m, "Open &Photo...", self.open_photo_dialog, "Ctrl+P")
        m.addSeparator()
        action(m, "&Save Project", self.save_project, "Ctrl+S")
        action(m, "Save Project &As...", self.save_project_as, "Ctrl+Shift+S")
        m.addSeparator()
        action(m, "&Export Result...", self.export_result_dialog, "Ctrl+E")
        action(m, "Export Mas&k...", self.export_mask_dialog)
        action(m, "Export Style &Codes...", self.export_codes_dialog)
        m.addSeparator()
        action(m, "&Quit", self.close, "Ctrl+Q")

        m = bar.addMenu("&Edit")
        self.undo_action = action(m, "&Undo", self.doc_undo, "Ctrl+Z")
        self.redo_action = action(m, "&Redo", self.doc_redo, ["Ctrl+Shift+Z", "Ctrl+Y"])

        m = bar.addMenu("&Tools")
        group = QActionGroup(self)
        toolbar = self.addToolBar("Tools")
        toolbar.setObjectName("Tools")
        for tool, text, key in ((Tool.BRUSH, "Brush", "B"), (Tool.ERASER, "Eraser", "E"),
                                (Tool.FILL, "Fill", "G"), (Tool.RECT, "Rectangle", "R"),
                                (Tool.LASSO, "Lasso", "L"), (Tool.PICKER, "Eyedropper", "I")):
            a = action(m, text, lambda _, t=tool: self.set_tool(t), key, checkable=True)
            a.setToolTip(f"{text} ({key})")
            a.setChecked(tool == self.canvas.tool)
            group.addAction(a)
            toolbar.addAction(a)
        m.addSeparator()
        action(m, "Bigger Brush", lambda: self.brush_size.setValue(self.brush_size.value() + 2), "]")
        action(m, "Smaller Brush", lambda: self.brush_size.setValue(self.brush_size.value() - 2), "[")

        m = bar.addMenu("&View")
        action(m, "Zoom &In", lambda: self.canvas.set_zoom(self.canvas.zoom * 1.25), ["Ctrl+=", "Ctrl++"])
        action(m, "Zoom &Out", lambda: self.canvas.set_zoom(self.canvas.zoom / 1.25), "Ctrl+-")
        action(m, "&Fit", self.canvas.reset_view, "Ctrl+0")
        self.show_photo_action = action(m, "Show Original &Photo", self.update_photo_view, "Ctrl+Shift+P", True)
        self.show_photo_action.setChecked(True)
        self.overlay_action = action(m, "&Overlay Mask on Photo", self.toggle_overlay, "Ctrl+Shift+O", True)

        m = bar.addMenu("&Styles")
        action(m, "&Add Style Photo...", self.add_photo_dialog, "Ctrl+Shift+A")
        action(m, "&Mean Style for All Regions", lambda: self.doc.apply_source(MEAN, list(range(self.doc.num_classes))))
        m.addSeparator()
        self.refine_action = action(m, "&Refine Photo Styles", self.remember_refine_choice, checkable=True)
        self.refine_action.setToolTip("Fit each new photo's style codes to the photo: closer to the photo, "
                                      "a few seconds of background work on a CPU")
        self.refine_action.setChecked(self.settings.value("refine_photos", True, type=bool))

    def remember_refine_choice(self, on: bool) -> None:
        self.settings.setValue("refine_photos", on)

    def connect_worker(self) -> None:
        self.worker.synthesized.connect(self.show_result)
        self.worker.failed.connect(self.show_error)
        self.worker.notice.connect(lambda message: self.statusBar().showMessage(message, 10000))
        self.worker.busy.connect(self.result_view.set_busy)

    def restore_layout(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
            self.restoreState(self.settings.value("state"))
            self.splitter.restoreState(self.settings.value("splitter"))
        else:
            self.resize(1280, 720)

    # -- document ---------------------------------------------------------------------
    def attach(self, doc: Document) -> None:
        """Show `doc`: every view follows it from now on."""
        self.doc = doc
        doc.listeners.append(self.on_document_change)
        self.canvas.set_document(doc, self.engine.labels.palette())
        self.palette_list.set_labels(self.engine.labels.names, self.engine.labels.colors)
        self.gallery.set_sources(doc)
        self.region_panel.show_region(doc, self.canvas.label)
        self.status_model.setText(f"{self.engine.info.name} on {self.engine.device}")
        self.update_photo_view()
        self.update_title()
        self.request_synthesis()

    def on_document_change(self, what: str) -> None:
        if what in ("mask", "history", "styles"):
            self.canvas.refresh()
            self.request_synthesis()
        if what == "sources":
            self.gallery.set_sources(self.doc)
        if what == "refined":
            self.request_synthesis()
        if what in ("sources", "styles", "history"):
            self.region_panel.show_region(self.doc, self.canvas.label)
        self.update_title()

    def update_title(self) -> None:
        name = self.doc.path.name if self.doc.path else "Untitled"
        self.setWindowTitle(f"{name}{' *' if self.doc.modified else ''} - SEAN Studio ({self.doc.model})")
        self.undo_action.setEnabled(bool(self.doc.history.undo_stack))
        self.redo_action.setEnabled(bool(self.doc.history.redo_stack))

    def doc_undo(self) -> None:
        self.doc.undo()

    def doc_redo(self) -> None:
        self.doc.redo()

    # -- synthesis ---------------------------------------------------------------------
    def request_synthesis(self) -> None:
        self.worker.request_synthesis(
            self.doc.mask, self.doc.styles_per_block(self.engine.mean_style))

    def show_result(self, request_id: int, image: np.ndarray, compute_ms: float, asked_at: float) -> None:
        self.result = image
        self.result_view.set_image(image)
        shown_at = time.perf_counter()
        self.frames_shown.append((asked_at, shown_at, compute_ms))
        self.status_time.setText(f"synthesis: {compute_ms:.0f} ms (edit to screen {(shown_at - asked_at) * 1000:.0f} ms)")

    # -- tools -------------------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.canvas.tool = tool
        self.canvas.update()

    def set_brush_radius(self, value: int) -> None:
        self.canvas.radius = float(value)
        self.canvas.update()

    def choose_label(self, label: int) -> None:
        self.canvas.label = label
        self.region_panel.show_region(self.doc, label)

    def toggle_overlay(self, on: bool) -> None:
        self.canvas.overlay_photo = on
        self.canvas.update()

    def update_photo_view(self) -> None:
        self.photo_view.set_image(self.doc.photo)
        self.photo_view.setVisible(self.doc.photo is not None and self.show_photo_action.isChecked())

    # -- styles ------------------------------------------------------------------------
    def drop_payload(self, payload: str, label: int, all_regions: bool) -> None:
        """A style dragged from a gallery, maybe another window's: only this edit's own apply."""
        model, key = read_source_payload(payload)
        if model != self.doc.model:
            self.show_error(f"That style comes from a '{model}' edit; it cannot be used on this "
                            f"'{self.doc.model}' edit")
        elif key not in self.doc.sources and key != MEAN:
            self.show_error("That style belongs to another edit: add its photo or codes to this one first")
        else:
            self.drop_style(key, label, all_regions)

    def drop_style(self, key: str, label: int, all_regions: bool) -> None:
        labels = self.doc.labels_present() if all_regions else [label]
        missing = self.doc.apply_source(key, labels)
        name = self.doc.sources[key].name if key in self.doc.sources else "Mean style"
        if missing:
            names = ", ".join(self.doc.label_names[c] for c in missing)
            self.statusBar().showMessage(f"{name} has no {names}: "
                                         f"{'those regions keep' if len(missing) > 1 else 'that region keeps'} "
                                         "its previous style", 8000)
        else:
            where = "all regions" if all_regions else self.doc.label_names[label]
            self.statusBar().showMessage(f"{where}: style of {name}", 4000)

    def randomise(self, labels: list[int]) -> None:
        key = f"random-{int(time.time() * 1000)}"
        style = self.engine.random_style(self.random)
        number = sum(s.kind == "random" for s in self.doc.sources.values()) + 1
        self.doc.add_source(key, Source(f"Random {number}", style, None, "random"))
        self.doc.apply_source(key, labels)

    def add_photo_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add style photos or codes", "",
                                                f"{IMAGE_FILTER};;Style codes (*.npz)")
        self.add_photos(paths)

    def add_photos(self, paths: list[str]) -> None:
        """Style photos join the gallery (a photo needs a mask where the model has no parser)."""
        for path in paths:
            if self.engine.has_parser:
                self.add_photo(path)
            elif mask_path := self.ask_mask_for(path):
                self.add_photo(path, mask_path)

    def open_files(self, paths: list[str]) -> None:
        """Dropped or named files, each by its kind: a project opens, a mask becomes the mask
        (a new edit if it is another model's), codes and photos join the styles."""
        for path in paths:
            suffix = Path(path).suffix.lower()
            if suffix == ".sean":
                self.open_project(path)
            elif suffix == ".npz":
                self.add_codes(path)
            elif suffix == ".png" and self.models_fitting_mask(path, self.model_schemes()):
                self.open_mask(path)
            else:
                self.add_photos([path])

    def add_codes(self, path: str) -> None:
        """Style codes exported earlier (or by `encode`) join the gallery."""
        cfg = self.engine.info.config
        try:
            style = StyleMatrix.load(path, cfg.num_classes, cfg.style_dim, self.doc.model)
        except InputError as e:
            self.show_error(str(e))
            return
        self.doc.add_source(f"codes:{Path(path).resolve()}", Source(Path(path).stem, style, None, "codes"))

    def ask_mask_for(self, photo_path: str) -> str | None:
        """No photo parser for this model: the user points at the photo's mask."""
        self.statusBar().showMessage(f"Model '{self.doc.model}' has no parser to make a mask from a photo: "
                                     f"choose the label mask for {Path(photo_path).name}", 8000)
        path, _ = QFileDialog.getOpenFileName(
            self, f"Model '{self.doc.model}' has no photo parser: choose the label mask of "
            f"{Path(photo_path).name} (index or colour PNG)", "", "Masks (*.png)")
        return path or None

    def photo_mask(self, mask_path: str) -> np.ndarray:
        """A style photo's mask, refused when it is another model's (a face photo's mask on a
        scene edit): that photo's styles would mean nothing here."""
        other = self.models_fitting_mask(mask_path, self.model_schemes())
        if other and other[0] != self.doc.model:
            raise InputError(f"{Path(mask_path).name} is a '{other[0]}' mask: styles from a {other[0]} photo "
                             f"cannot be used on this '{self.doc.model}' edit")
        return load_mask(mask_path, self.engine.labels)

    def photo_work(self, path: str, mask_path: str | None):
        """Read the files here (errors are shown at once); return the engine-thread work that
        frames and parses (without a mask) and encodes: -> (photo, mask, face found, style)."""
        try:
            photo = load_image(path)
            mask = self.photo_mask(mask_path) if mask_path else None
        except InputError as e:
            self.show_error(str(e))
            return None
        if mask is not None and photo.shape[:2] != mask.shape:
            self.show_error(f"{Path(path).name} is {photo.shape[1]}x{photo.shape[0]} but its mask is "
                            f"{mask.shape[1]}x{mask.shape[0]}")
            return None
        engine, size = self.engine, self.engine.size

        def work():
            engine.check_photo_suits(photo, Path(path).name)
            if mask is None:
                framed, parsed, found = engine.frame_and_parse(photo)
            else:
                framed = stretched_photo(photo, size)
                parsed, found = cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST), True
            return framed, parsed, found, engine.encode(framed, parsed)
        return work

    def add_photo(self, path: str, mask_path: str | None = None) -> None:
        """Frame, parse and encode a style photo on the engine thread (once: cached), then
        add it to the gallery."""
        key = f"photo:{Path(path).resolve()}"
        try:
            cache_key = (key, Path(path).stat().st_mtime, mask_path)
        except OSError:
            cache_key = None
        if cache_key in self.encode_cache:
            self.doc.add_source(key, self.encode_cache[cache_key])
            return
        work = self.photo_work(path, mask_path)
        if work is None:
            return
        self.statusBar().showMessage(f"Reading the style of {Path(path).name}...")

        def added(result) -> None:
            framed, mask, found, style = result
            source = Source(Path(path).stem, style, thumbnail(framed), "photo")
            self.encode_cache[cache_key] = source
            self.doc.add_source(key, source)
            note = "" if found else " (no face found: its centre square was used)"
            self.statusBar().showMessage(f"Added {Path(path).name} to the styles{note}", 6000)
            self.refine_in_background(self.doc, key, framed, mask, style, cache_key)

        self.worker.submit(work, added)

    def refine_in_background(self, doc: Document, key: str, framed: np.ndarray, mask: np.ndarray,
                             style: StyleMatrix, cache_key: tuple | None = None) -> None:
        """Fit source `key`'s codes to its photo (`StyleRefiner`) a slice at a time, as
        background work: painting stays live, and the picture comes closer slice by slice.
        Stops early when the document is closed or the engine changes."""
        if not self.refine_action.isChecked():
            return
        engine, name = self.engine, doc.sources[key].name
        refiner: StyleRefiner | None = None

        def work() -> StyleMatrix:
            nonlocal refiner
            if refiner is None:   # made on the engine thread, where all network work runs
                refiner = engine.refiner(framed, mask, style)
            return refiner.step(REFINE_SLICE)

        def sliced(codes: StyleMatrix) -> None:
            if doc is not self.doc or engine is not self.engine or not doc.refine_source(key, codes):
                return
            if refiner.steps_done < REFINE_STEPS:
                self.statusBar().showMessage(f"Refining the style of {name}: "
                                             f"{refiner.steps_done}/{REFINE_STEPS}", 5000)
                self.worker.submit(work, sliced, background=True)
                return
            if cache_key is not None:
                self.encode_cache[cache_key] = doc.sources[key]
            self.statusBar().showMessage(f"Refined the style of {name}", 4000)

        self.worker.submit(work, sliced, background=True)

    # -- files -------------------------------------------------------------------------
    def confirm_discard(self) -> bool:
        """Ask before losing unsaved work; True when it is fine to go on."""
        if not self.doc.modified:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "Save the changes to this edit first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save_project()
        return answer == QMessageBox.StandardButton.Discard

    def model_schemes(self) -> dict[str, LabelScheme]:
        """Every installed model's labels, the current model first."""
        schemes = model_schemes(self.engine.weights_dir)
        return {self.doc.model: self.engine.labels, **schemes}

    def models_fitting_mask(self, path: str, schemes: dict[str, LabelScheme]) -> list[str]:
        """The models a mask file could belong to, most likely first (see schemes_fitting_mask)."""
        try:
            return schemes_fitting_mask(path, schemes)
        except InputError:
            return []

    def switch_engine(self, model: str) -> bool:
        if model == self.engine.info.model:
            return True
        try:
            engine = Engine.load(model, str(self.engine.device), self.engine.weights_dir)
        except InputError as e:
            self.show_error(str(e))
            return False
        self.worker.stop()
        self.engine = engine
        self.worker = EngineWorker(engine, self.separate_process)
        self.connect_worker()
        return True

    def new_document_dialog(self, blank: bool) -> None:
        models = available_models(self.engine.weights_dir) or [self.doc.model]
        model, ok = models[0], True
        if len(models) > 1:
            current = models.index(self.doc.model) if self.doc.model in models else 0
            model, ok = QInputDialog.getItem(self, "New edit", "Model:", models, current, False)
        if ok:
            self.new_document(model, blank)

    def new_document(self, model: str, blank: bool = False) -> None:
        if self.confirm_discard() and self.switch_engine(model):
            size = self.engine.size
            mask = np.zeros((size, size), np.uint8) if blank else None
            self.attach(self.new_document_for(self.engine, mask))

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", PROJECT_FILTER)
        if path:
            self.open_project(path)

    def open_project(self, path: str) -> None:
        if not self.confirm_discard():
            return
        try:
            doc = Document.load(path)
        except InputError as e:
            self.show_error(str(e))
            return
        if self.switch_engine(doc.model):
            if doc.label_names != self.engine.labels.names:
                self.show_error(f"{Path(path).name} was made with other labels than model '{doc.model}' has")
                return
            self.attach(doc)

    def open_mask_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open mask", "", "Masks (*.png)")
        if path:
            self.open_mask(path)

    def open_mask(self, path: str) -> None:
        """A mask of this edit's model replaces the mask (one undo step); another model's mask
        starts a new edit with that model. Any size is scaled to the model's."""
        schemes = self.model_schemes()
        fitting = self.models_fitting_mask(path, schemes)
        model = fitting[0] if fitting else self.doc.model
        try:
            mask = load_mask(path, schemes[model])   # with no fitting model: this model's reason
        except InputError as e:
            self.show_error(str(e))
            return
        if model != self.doc.model and not (self.confirm_discard() and self.switch_engine(model)):
            return
        size = self.engine.size
        if mask.shape != (size, size):
            mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)
        if model != self.doc.model:
            self.attach(self.new_document_for(self.engine, mask))
            self.statusBar().showMessage(f"{Path(path).name} is a '{model}' mask: opened a new {model} edit", 8000)
        else:
            self.doc.set_mask(mask)
            self.statusBar().showMessage(f"Opened {Path(path).name} at {size}x{size}", 5000)

    def open_photo_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open photo", "", IMAGE_FILTER)
        if not path:
            return
        if self.engine.has_parser:
            self.open_photo(path)
        elif mask_path := self.ask_mask_for(path):
            self.open_photo(path, mask_path)

    def open_photo(self, path: str, mask_path: str | None = None) -> None:
        """A new edit that starts from a photo: framed, parsed into the mask (unless one is
        given), and its style on every region."""
        if not self.confirm_discard():
            return
        work = self.photo_work(path, mask_path)
        if work is None:
            return
        self.statusBar().showMessage(f"Opening {Path(path).name}...")

        def opened(result) -> None:
            framed, mask, found, style = result
            doc = self.new_document_for(self.engine, mask, framed)
            key = f"photo:{Path(path).resolve()}"
            doc.add_source(key, Source(Path(path).stem, style, thumbnail(framed), "photo"))
            doc.apply_source(key, list(range(doc.num_classes)))
            doc.saved_state = doc.history.current
            self.attach(doc)
            if found:   # replaces "Opening ...", which would otherwise stay
                self.statusBar().showMessage(f"Opened {Path(path).name}", 5000)
            else:
                self.statusBar().showMessage("No face found: the photo's centre square was used; "
                                             "repaint the mask where needed", 10000)
            self.refine_in_background(doc, key, framed, mask, style)

        self.worker.submit(work, opened)

    def save_project(self) -> bool:
        if self.doc.path is None:
            return self.save_project_as()
        return self.save_to(self.doc.path)

    def save_project_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save project", "untitled.sean", PROJECT_FILTER)
        if not path:
            return False
        return self.save_to(Path(path).with_suffix(".sean"))

    def save_to(self, path: Path) -> bool:
        try:
            self.doc.save(path)
        except InputError as e:
            self.show_error(str(e))
            return False
        self.statusBar().showMessage(f"Saved {path.name}", 4000)
        return True

    def export_result_dialog(self) -> None:
        size = self.engine.size
        choices = [f"{size} (model size)", str(size * 2), str(size * 4)]
        choice, ok = QInputDialog.getItem(self, "Export result", "Size in pixels:", choices, 0, False)
        if not ok:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export result", "result.png", "PNG (*.png);;JPEG (*.jpg)")
        if path:
            self.export_result(path, int(choice.split()[0]))

    def export_result(self, path: str, size: int | None = None) -> bool:
        if self.result is None:
            self.show_error("Nothing to export yet: the result is still being made")
            return False
        image = self.result
        if size and size != image.shape[0]:
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_LANCZOS4)
        return self.guarded(lambda: save_image(path, image), f"Exported {Path(path).name}")

    def export_mask_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export mask", "mask.png", "PNG (*.png)")
        if path:
            self.export_mask(path)

    def export_mask(self, path: str) -> bool:
        """The index PNG at `path` and a colour PNG beside it (NAME_color.png)."""
        path = Path(path).with_suffix(".png")
        colour = path.with_name(f"{path.stem}_color.png")
        labels = self.engine.labels
        return self.guarded(lambda: (save_mask(path, self.doc.mask, labels),
                                     save_image(colour, labels.colorize(self.doc.mask))),
                            f"Exported {path.name} and {colour.name}")

    def export_codes_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export style codes", "codes.npz", "Style codes (*.npz)")
        if path:
            self.export_codes(path)

    def export_codes(self, path: str) -> bool:
        """The first block's style matrix (what `synth --codes` reads); with crossover in use
        the blocks differ, so the project file is the way to keep those."""
        style = self.doc.styles_per_block(self.engine.mean_style)[0]
        return self.guarded(lambda: style.save(path, self.doc.model, self.doc.label_names),
                            f"Exported {Path(path).name}")

    def guarded(self, work, done_message: str) -> bool:
        try:
            work()
        except InputError as e:
            self.show_error(str(e))
            return False
        self.statusBar().showMessage(done_message, 4000)
        return True

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        QMessageBox.warning(self, "SEAN Studio", message)

    # -- closing -----------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        if not self.confirm_discard():
            event.ignore()
            return
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("state", self.saveState())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.worker.stop()
        event.accept()
