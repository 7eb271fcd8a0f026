"""The editor window: wires the document, the views and the engine worker together."""
from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import cv2
import numpy as np
from PyQt6.QtCore import QSettings, QStandardPaths, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.editor.autosave import AUTOSAVE_SECONDS, Autosave
from app.editor.document import MEAN, Document, ProjectSnapshot, Source
from app.editor.qt.canvas import ImageView, MaskCanvas, Tool, read_source_payload
from app.editor.qt.panels import LabelPalette, RegionPanel, StyleGallery, thumbnail
from app.editor.qt.worker import EngineWorker
from app.editor.samples import load_samples, sample_mask
from models.data.files import (
    WORKING_SIDE,
    InputError,
    load_image,
    load_mask,
    looks_like_label_map,
    save_image,
    save_mask,
    schemes_fitting_mask,
)
from models.data.framing import stretched_photo
from models.data.labels import LabelScheme
from models.inference.engine import Engine
from models.inference.refiner import REFINE_STEPS, StyleRefiner
from models.inference.styles import StyleMatrix
from models.inference.weights import available_models, model_schemes

PROJECT_FILTER = "SEAN Studio project (*.sean)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
MASK_FILTER = "Masks (*.png)"
CODES_FILTER = "Style codes (*.npz)"
REFINE_SLICE = 3   # refinement steps between frames: about half a second on two CPU cores
SCREEN_SHARE = 0.9   # of the screen a first start's window takes


class MainWindow(QMainWindow):
    autosave_failed = pyqtSignal(str)   # from the autosave thread

    def __init__(self, engine: Engine, settings: QSettings | None = None, separate_process: bool = True,
                 data_folder: Path | None = None):
        super().__init__()
        self.settings = settings or QSettings("SEAN Studio", "SEAN Studio")
        self.autosave = Autosave(data_folder)
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
        self.start_autosave()

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
        # The mask beside a column of result over photo: each pane stays near square on a
        # wide screen, instead of three narrow panes among dark bands.
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.views_column = QSplitter(Qt.Orientation.Vertical)
        self.views_column.addWidget(self.result_view)
        self.views_column.addWidget(self.photo_view)
        self.splitter.addWidget(self.canvas)
        self.splitter.addWidget(self.views_column)
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
        layout.addWidget(QLabel("Styles: drag onto a region (Ctrl: that region alone; Shift: all)"))
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
        self.store_setting("refine_photos", on)

    def store_setting(self, key: str, value) -> bool:
        """Settings go to a file too: a read-only or full disk is said, never fatal."""
        self.settings.setValue(key, value)
        self.settings.sync()
        if self.settings.status() != QSettings.Status.NoError:
            self.statusBar().showMessage(f"Settings could not be saved to {self.settings.fileName()}", 8000)
            return False
        return True

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
            self.views_column.restoreState(self.settings.value("views_column"))
            return
        screen = self.screen().availableGeometry()   # a first start: most of the screen
        self.resize(int(screen.width() * SCREEN_SHARE), int(screen.height() * SCREEN_SHARE))
        self.move(screen.center() - self.rect().center())
        self.splitter.setSizes([1, 1])
        self.views_column.setSizes([1, 1])

    def save_layout(self) -> None:
        for key, value in (("geometry", self.saveGeometry()), ("state", self.saveState()),
                           ("splitter", self.splitter.saveState()),
                           ("views_column", self.views_column.saveState())):
            self.store_setting(key, value)

    # -- autosave and recovery ----------------------------------------------------------
    def start_autosave(self) -> None:
        """Every AUTOSAVE_SECONDS, an edit with unsaved changes is written to the app's data
        folder on a thread of its own (see app/autosave.py)."""
        self.autosaved: tuple | None = None          # (document, revision) last written
        self.autosave_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")
        self.autosave_failed.connect(lambda message: self.statusBar().showMessage(message, 10000))
        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave_now)
        seconds = self.settings.value("autosave_seconds", AUTOSAVE_SECONDS, type=float)
        self.autosave_timer.start(max(100, int(seconds * 1000)))

    def autosave_now(self) -> None:
        doc = self.doc
        if not doc.modified:   # nothing that a crash could lose
            if self.autosaved is not None:
                self.autosave_pool.submit(self.autosave.discard)
                self.autosaved = None
            return
        if self.autosaved == (doc, doc.revision):
            return
        self.autosaved = (doc, doc.revision)
        snapshot = doc.snapshot(autosave_of=str(doc.path) if doc.path else None)
        self.autosave_pool.submit(self.write_autosave, snapshot)

    def write_autosave(self, snapshot: ProjectSnapshot) -> None:
        """On the autosave thread."""
        try:
            self.autosave.write(snapshot.to_bytes())
        except InputError as e:
            self.autosave_failed.emit(f"Autosave failed: {e}")

    def stop_autosave(self) -> None:
        """Closing properly: the edit was saved or discarded, so there is nothing to recover."""
        self.autosave_timer.stop()
        self.autosave_pool.shutdown(wait=True)
        self.autosave.discard()

    def offer_recovery(self) -> None:
        """After an editor ended without closing: offer the edit it autosaved."""
        orphans = self.autosave.orphans()
        if not orphans:
            return
        newest = orphans[0]
        when = time.strftime("%d %b %Y %H:%M", time.localtime(newest.stat().st_mtime))
        answer = QMessageBox.question(
            self, "Recover unsaved work",
            f"SEAN Studio did not close properly; it had autosaved an edit at {when}.\n\n"
            "Yes: recover it. Discard: delete it. Cancel: decide on the next start.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Discard:
            newest.unlink(missing_ok=True)
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            doc = Document.load(newest)
        except InputError as e:
            self.show_error(f"The autosaved edit cannot be read, so it was not recovered: {e}")
            return
        if self.open_document(doc, newest.name):
            doc.mark_unsaved()
            with suppress(OSError):
                os.replace(newest, self.autosave.path)   # it is this editor's autosave now
            self.autosaved = (doc, doc.revision)
            self.update_title()
            self.statusBar().showMessage("Recovered the autosaved edit: save it to keep it", 10000)

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
    def drop_payload(self, payload: str, label: int, all_regions: bool, alone: bool = False) -> None:
        """A style dragged from a gallery, maybe another window's: only this edit's own apply."""
        model, key = read_source_payload(payload)
        if model != self.doc.model:
            self.show_error(f"That style comes from a '{model}' edit; it cannot be used on this "
                            f"'{self.doc.model}' edit")
        elif key not in self.doc.sources and key != MEAN:
            self.show_error("That style belongs to another edit: add its photo or codes to this one first")
        else:
            self.drop_style(key, label, all_regions, alone)

    def drop_style(self, key: str, label: int, all_regions: bool, alone: bool = False) -> None:
        """A style dropped on `label`: it goes to the regions that belong with it (skin with
        nose, ears and neck; both eyes...), to `label` alone (Ctrl), or everywhere (Shift)."""
        if all_regions:
            labels = self.doc.labels_present()
        else:
            labels = [label] if alone else list(self.engine.labels.group_of(label))
        missing = self.doc.apply_source(key, labels)
        name = self.doc.sources[key].name if key in self.doc.sources else "Mean style"
        names = lambda cs: ", ".join(self.doc.label_names[c] for c in cs)
        if missing:
            self.statusBar().showMessage(f"{name} has no {names(missing)}: "
                                         f"{'those regions keep' if len(missing) > 1 else 'that region keeps'} "
                                         "its previous style", 8000)
        else:
            where = "all regions" if all_regions else names(labels)
            hint = " (Ctrl-drop: one region alone)" if len(labels) > 1 and not all_regions else ""
            self.statusBar().showMessage(f"{where}: style of {name}{hint}", 4000)
        if not all_regions:   # the region panel follows the region the style went to
            self.palette_list.setCurrentRow(label)

    def randomise(self, labels: list[int]) -> None:
        key = f"random-{int(time.time() * 1000)}"
        style = self.engine.random_style(self.random)
        number = sum(s.kind == "random" for s in self.doc.sources.values()) + 1
        self.doc.add_source(key, Source(f"Random {number}", style, None, "random"))
        self.doc.apply_source(key, labels)

    def add_photo_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add style photos or codes", str(self.start_folder()),
                                                f"{IMAGE_FILTER};;{CODES_FILTER}")
        if paths:
            self.remember_folder(paths[0])
        self.add_photos(paths)

    def add_photos(self, paths: list[str]) -> None:
        """Style photos join the gallery (a photo needs a mask where the model has no parser)."""
        for path in paths:
            if self.engine.has_parser:
                self.add_photo(path)
            elif mask_path := self.ask_mask_for(path):
                self.add_photo(path, mask_path)

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
                self.add_codes(path)
            elif suffix == ".png" and (self.models_fitting_mask(path, self.model_schemes())
                                       or looks_like_label_map(path)):
                self.open_mask(path)
            elif first_photo_opens:
                self.open_photo_file(path)
                first_photo_opens = False
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
            f"{Path(photo_path).name} (index or colour PNG)", str(Path(photo_path).parent), MASK_FILTER)
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
        """Check the mask here (errors are shown at once); return the engine-thread work that
        reads the photo (a large one scaled down as it is decoded: the GUI never waits for
        it), frames and parses it (without a mask) and encodes: -> (photo, mask, face found,
        style). Its InputErrors reach the user through the worker."""
        try:
            mask = self.photo_mask(mask_path) if mask_path else None
        except InputError as e:
            self.show_error(str(e))
            return None
        engine, size = self.engine, self.engine.size

        def work():
            photo = load_image(path, max_side=None if mask is not None else WORKING_SIDE)
            if mask is not None and photo.shape[:2] != mask.shape:
                raise InputError(f"{Path(path).name} is {photo.shape[1]}x{photo.shape[0]} but its mask is "
                                 f"{mask.shape[1]}x{mask.shape[0]}")
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
        path = self.ask_open_path("Open project", PROJECT_FILTER)
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
        self.open_document(doc, Path(path).name)

    def open_document(self, doc: Document, name: str) -> bool:
        """Show a loaded document, with its model's engine."""
        if not self.switch_engine(doc.model):
            return False
        if doc.label_names != self.engine.labels.names:
            self.show_error(f"{name} was made with other labels than model '{doc.model}' has")
            return False
        style_shape = (len(doc.label_names), self.engine.info.config.style_dim)
        if any(s.style.codes.shape != style_shape or not np.isfinite(s.style.codes).all()
               for s in doc.sources.values()):
            self.show_error(f"{name} holds style codes that do not fit model '{doc.model}' (another version?)")
            return False
        self.attach(doc)
        return True

    def open_mask_dialog(self) -> None:
        path = self.ask_open_path("Open mask", MASK_FILTER)
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
            self.doc.title = Path(path).stem
            self.statusBar().showMessage(f"{Path(path).name} is a '{model}' mask: opened a new {model} edit", 8000)
        else:
            self.doc.set_mask(mask)
            self.statusBar().showMessage(f"Opened {Path(path).name} at {size}x{size}", 5000)

    def open_photo_dialog(self) -> None:
        path = self.ask_open_path("Open photo", IMAGE_FILTER)
        if path:
            self.open_photo_file(path)

    def open_photo_file(self, path: str) -> None:
        """A photo starts a new edit; a model without a parser asks for its mask first."""
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
            doc.title = Path(path).stem
            doc.mark_saved()   # nothing of the user's to lose yet
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
        path = self.ask_save_path("Save project", ".sean", PROJECT_FILTER)
        if not path:
            return False
        return self.save_to(Path(path).with_suffix(".sean"))

    def save_to(self, path: Path) -> bool:
        return self.guarded(lambda: self.doc.save(path), f"Saved {path.name}")

    # -- file dialogs: they open where the user last was, with names from the photo's ---
    def start_folder(self) -> Path:
        last = self.settings.value("last_folder", "", type=str)
        if last and Path(last).is_dir():
            return Path(last)
        pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
        return Path(pictures) if pictures and Path(pictures).is_dir() else Path.home()

    def file_stem(self) -> str:
        """What offered file names start with: the project's name, else the photo's."""
        return self.doc.path.stem if self.doc.path else (self.doc.title or "untitled")

    def ask_open_path(self, title: str, filters: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, title, str(self.start_folder()), filters)
        return self.remember_folder(path)

    def ask_save_path(self, title: str, ending: str, filters: str) -> str | None:
        """`ending` follows the stem: ".sean", "_edited.png"..."""
        offered = self.start_folder() / f"{self.file_stem()}{ending}"
        path, _ = QFileDialog.getSaveFileName(self, title, str(offered), filters)
        return self.remember_folder(path)

    def remember_folder(self, path: str | None) -> str | None:
        if path:
            self.store_setting("last_folder", str(Path(path).parent))
        return path or None

    def export_result_dialog(self) -> None:
        size = self.engine.size
        choices = [f"{size} (model size)", str(size * 2), str(size * 4)]
        choice, ok = QInputDialog.getItem(self, "Export result", "Size in pixels:", choices, 0, False)
        if not ok:
            return
        path = self.ask_save_path("Export result", "_edited.png", "PNG (*.png);;JPEG (*.jpg)")
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
        path = self.ask_save_path("Export mask", "_mask.png", MASK_FILTER)
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
        path = self.ask_save_path("Export style codes", "_codes.npz", CODES_FILTER)
        if path:
            self.export_codes(path)

    def export_codes(self, path: str) -> bool:
        """The first block's style matrix (what `synth --codes` reads); with crossover in use
        the blocks differ, so the project file is the way to keep those."""
        style = self.doc.styles_per_block(self.engine.mean_style)[0]
        return self.guarded(lambda: style.save(path, self.doc.model, self.doc.label_names),
                            f"Exported {Path(path).name}")

    def guarded(self, work, done_message: str) -> bool:
        """Every file the editor writes goes through here: a refusal (read-only folder, full
        disk) is a message, and the edit stays open with its unsaved state."""
        try:
            work()
        except InputError as e:
            self.show_error(str(e))
            return False
        except OSError as e:
            where = f"{e.filename}: " if e.filename else ""
            self.show_error(f"{where}cannot write ({e.strerror or e}); the edit is still open and unsaved")
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
        self.save_layout()
        self.stop_autosave()
        self.worker.stop()
        event.accept()
