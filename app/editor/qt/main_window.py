"""The editor window: wires the document, the views, the session and the engine worker
together. Its file work is in files.py, its style work in styles.py and its bank fills in
bank.py (controllers, each given the window as the interface of host.py), its menus in
actions.py, autosave in autosaving.py; what the editor does without Qt is app/editor/session.py."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QSlider, QSplitter, QVBoxLayout, QWidget

from app.editor.document import Change, Document
from app.editor.qt.actions import build_menus
from app.editor.qt.autosaving import Autosaver
from app.editor.qt.bank import BankController
from app.editor.qt.canvas import ImageView, MaskCanvas, Tool
from app.editor.qt.files import FileController
from app.editor.qt.panels import LabelPalette, LookPanel, RegionPanel, StyleGallery
from app.editor.qt.styles import StyleController
from app.editor.qt.worker import EngineWorker
from app.editor.session import PREVIEW_SIDE, EditorSession
from models.data.files import InputError
from models.inference.engine import Engine

SCREEN_SHARE = 0.9  # of the screen a first start's window takes
MIN_PREVIEW_SIDE = 512
WIDE_ASPECT = 1.5  # a picture this much wider than tall stacks the panes (`arrange_views`)
# painting paused this long after a frame of painted shapes: their photo-size fill starts
PHOTO_SIZE_PAUSE_MS = 400
FILLING_PHOTO_SIZE = "Filling the painted shapes at the photo's own size..."
FILLED_PHOTO_SIZE = "Painted shapes filled at the photo's own size"  # then how long it took


class MainWindow(QMainWindow):
    def __init__(
        self,
        engine: Engine,
        settings: QSettings | None = None,
        separate_process: bool = True,
        data_folder: Path | None = None,
    ):
        super().__init__()
        self.settings = settings or QSettings("SEAN Studio", "SEAN Studio")
        self.session = EditorSession(engine)
        self.separate_process = separate_process  # frames in a child process (see engine_process.py)
        self.worker = EngineWorker(engine, separate_process)
        self.result: np.ndarray | None = None
        # (requested, shown) on the perf_counter clock, and the engine's ms for the frame
        self.frames_shown: deque[tuple[float, float, float]] = deque(maxlen=10000)
        # the frame whose showing starts the photo-size fill's wait, and that fill's frame
        self._settled_frame: int | None = None
        self._photo_size_frame: int | None = None
        self.photo_size_timer = QTimer(self)
        self.photo_size_timer.setSingleShot(True)
        self.photo_size_timer.setInterval(PHOTO_SIZE_PAUSE_MS)
        self.photo_size_timer.timeout.connect(self.request_photo_size)
        self.doc = self.session.new_document()
        # what the window does with files, styles and banks, each given the window as the
        # small interface it needs (app/editor/qt/host.py)
        self.files, self.styles, self.banks = FileController(self), StyleController(self), BankController(self)
        self.build_views()
        self.actions = build_menus(self)
        self.connect_worker()
        self.attach(self.doc)
        self.restore_layout()
        self.autosaver = Autosaver(self, self.settings, lambda: self.doc, data_folder)
        self.autosaver.failed.connect(lambda message: self.statusBar().showMessage(message, 10000))

    @property
    def engine(self) -> Engine:
        return self.session.engine

    # -- construction -----------------------------------------------------------------
    def build_views(self) -> None:
        labels = self.engine.labels
        self.canvas = MaskCanvas(self.doc, labels.palette())
        self.result_view = ImageView(
            "The synthesised photo appears here (drop a photo here: its look)", accepts_files=True
        )
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
        self.add_dock(
            "Labels",
            Qt.DockWidgetArea.LeftDockWidgetArea,
            QLabel("Labels"),
            self.palette_list,
            QLabel("Brush size  ([ and ])"),
            self.brush_size,
        )
        self.gallery = StyleGallery()
        self.region_panel = RegionPanel()
        self.look_panel = LookPanel()
        self.add_dock(
            "Styles",
            Qt.DockWidgetArea.RightDockWidgetArea,
            QLabel("Styles: drag onto a region (Ctrl: that region alone; Shift: all)"),
            self.gallery,
            self.region_panel,
            self.look_panel,
        )

        self.status_model = QLabel()
        self.status_time = QLabel("synthesis: -")
        self.status_cursor = QLabel()
        for w in (self.status_cursor, self.status_time, self.status_model):
            self.statusBar().addPermanentWidget(w)

        self.canvas.mask_edited.connect(lambda: self.request_synthesis(stroke=self.canvas.stroking))
        self.canvas.label_picked.connect(self.palette_list.setCurrentRow)
        self.canvas.style_dropped.connect(self.styles.drop_payload)
        self.canvas.files_dropped.connect(self.files.open_files)
        self.canvas.cursor_moved.connect(self.status_cursor.setText)
        self.palette_list.label_chosen.connect(self.choose_label)
        self.palette_list.style_dropped.connect(self.styles.drop_payload)
        self.gallery.files_dropped.connect(self.files.open_files)
        self.region_panel.changed.connect(lambda changes: self.doc.set_regions(changes))
        self.region_panel.random_requested.connect(self.styles.randomise)
        for target in (self.look_panel, self.result_view):
            target.files_dropped.connect(lambda files: self.styles.set_look_photo(files[0]))
        self.look_panel.choose_requested.connect(self.styles.choose_look_dialog)
        self.look_panel.strength_changed.connect(self.styles.set_look_strength)
        self.look_panel.removed.connect(lambda: self.doc.set_look(None))
        self.brush_size.valueChanged.connect(self.set_brush_radius)
        self.result_view.zoom_changed.connect(lambda _: self.doc.photo_edit is not None and self.request_synthesis())

    def add_dock(self, title: str, area: Qt.DockWidgetArea, *widgets: QWidget) -> None:
        inside = QWidget()
        layout = QVBoxLayout(inside)
        for widget in widgets:
            layout.addWidget(widget)
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(inside)
        self.addDockWidget(area, dock)

    def connect_worker(self) -> None:
        self.worker.synthesized.connect(self.show_result)
        self.worker.given_up.connect(self.frame_given_up)
        self.worker.failed.connect(self.show_error)
        self.worker.notice.connect(lambda message: self.statusBar().showMessage(message, 10000))
        self.worker.busy.connect(self.result_view.set_busy)

    def switch_engine(self, model: str) -> bool:
        """The engine (and worker) of `model`; False, after saying why, when it cannot load."""
        if model == self.engine.info.model:
            return True
        try:
            engine = self.session.engine_for(model)
        except InputError as e:
            self.show_error(str(e))
            return False
        self.worker.stop()
        self.session.switch_to(engine)
        self.worker = EngineWorker(engine, self.separate_process)
        self.connect_worker()
        return True

    # -- settings and layout --------------------------------------------------------------
    def store_setting(self, key: str, value) -> bool:
        """Settings go to a file too: a read-only or full disk is said, never fatal."""
        self.settings.setValue(key, value)
        self.settings.sync()
        if self.settings.status() != QSettings.Status.NoError:
            self.statusBar().showMessage(f"Settings could not be saved to {self.settings.fileName()}", 8000)
            return False
        return True

    def restore_layout(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
            self.restoreState(self.settings.value("state"))
            self.splitter.restoreState(self.settings.value("splitter"))
            self.views_column.restoreState(self.settings.value("views_column"))
            return
        screen = self.screen().availableGeometry()  # a first start: most of the screen
        self.resize(int(screen.width() * SCREEN_SHARE), int(screen.height() * SCREEN_SHARE))
        self.move(screen.center() - self.rect().center())
        self.splitter.setSizes([1, 1])
        self.views_column.setSizes([1, 1])

    def save_layout(self) -> None:
        for key, value in (
            ("geometry", self.saveGeometry()),
            ("state", self.saveState()),
            ("splitter", self.splitter.saveState()),
            ("views_column", self.views_column.saveState()),
        ):
            self.store_setting(key, value)

    def offer_recovery(self) -> None:
        status = self.autosaver.offer_recovery(self.files.open_document)
        if status:
            self.update_title()
            self.statusBar().showMessage(status, 10000)

    # -- document ---------------------------------------------------------------------
    def attach(self, doc: Document) -> None:
        """Show `doc`: every view follows it from now on."""
        self.doc = doc
        doc.listeners.append(self.on_document_change)
        labels = self.engine.labels
        self.canvas.set_document(doc, labels.palette())
        self.palette_list.set_labels(labels.names, labels.colors)
        self.gallery.set_sources(doc)
        self.region_panel.show_region(doc, self.canvas.label, self.engine.labels.group_of(self.canvas.label))
        self.look_panel.show_look(doc.look)
        self.status_model.setText(f"{self.engine.info.name} on {self.engine.device}")
        self.update_photo_view()
        self.arrange_views()
        self.update_title()
        self.request_synthesis()

    def arrange_views(self) -> None:
        """A wide picture (a 2:1 street) stacks the mask over the result (and the photo
        beside it), so that each pane is as wide as the window rather than a strip among
        dark bands; a square or tall one keeps the mask beside them."""
        height, width = self.doc.mask.shape
        wide = width >= WIDE_ASPECT * height
        self.splitter.setOrientation(Qt.Orientation.Vertical if wide else Qt.Orientation.Horizontal)
        self.views_column.setOrientation(Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical)

    def on_document_change(self, what: Change) -> None:
        if what in (Change.MASK, Change.HISTORY, Change.STYLES):
            self.canvas.refresh()
        if what in (Change.MASK, Change.HISTORY, Change.STYLES, Change.REFINED, Change.LOOK, Change.BANK):
            self.request_synthesis()
        if what in (Change.LOOK, Change.HISTORY):
            self.look_panel.show_look(self.doc.look)
        if what == Change.SOURCES:
            self.gallery.set_sources(self.doc)
        if what in (Change.SOURCES, Change.STYLES, Change.HISTORY):
            self.region_panel.show_region(self.doc, self.canvas.label, self.engine.labels.group_of(self.canvas.label))
        self.update_title()

    def update_title(self) -> None:
        # an edit not yet saved is named after its photo (doc.title), as other editors do
        name = self.doc.path.name if self.doc.path else self.doc.title or "Untitled"
        self.setWindowTitle(f"{name}{' *' if self.doc.modified else ''} - SEAN Studio ({self.doc.model})")
        self.actions.undo.setEnabled(self.doc.can_undo)
        self.actions.redo.setEnabled(self.doc.can_redo)

    # -- synthesis ---------------------------------------------------------------------
    def request_synthesis(self, stroke: bool = False, photo_size: bool = False) -> None:
        """A new frame; for a photo edit shown as the photo, composited into it (`stroke`:
        in the middle of a brush stroke; its end, a change of the document, asks again;
        `photo_size`: painted shapes filled as the export fills them, at the photo's size:
        asked when painting pauses, and given up for any newer frame)."""
        self.photo_size_timer.stop()
        if not photo_size and self.statusBar().currentMessage() == FILLING_PHOTO_SIZE:
            self.statusBar().clearMessage()  # given up for this frame; asked again when painting pauses
        styles = self.doc.styles_per_block(self.engine.mean_style)
        pipeline = self.session.frame_pipeline(
            self.doc,
            styles,
            self.preview_side(),
            as_photo=self.actions.composite.isChecked(),
            texture=self.actions.texture.isChecked(),
            stroke=stroke,
            superseded=self.worker.anything_waits if photo_size else self.worker.superseded,
            photo_size=photo_size,
        )
        frame = self.worker.request_synthesis(self.doc.mask, styles, pipeline if pipeline.steps else None)
        self._settled_frame = None if stroke or photo_size else frame
        self._photo_size_frame = frame if photo_size else None

    def has_painted_shapes(self) -> bool:
        """A photo edit shown as the photo with shapes painted that the texture fills."""
        edit = self.doc.photo_edit
        shown = self.actions.composite.isChecked() and self.actions.texture.isChecked()
        return edit is not None and shown and bool((self.doc.mask != edit.mask).any())

    def request_photo_size(self) -> None:
        if self.has_painted_shapes():
            self.statusBar().showMessage(FILLING_PHOTO_SIZE)
            self.request_synthesis(photo_size=True)

    def preview_side(self) -> int:
        """How large the live composite is: twice the pane's size (sharp, and cheap to show),
        times the pane's zoom, so zooming in reaches the photo's own pixels."""
        view = self.result_view
        side = view.devicePixelRatio() * 2 * max(view.width(), view.height()) * max(1.0, view.zoom)
        edit = self.doc.photo_edit
        full = max(edit.original.shape[:2]) if edit is not None else PREVIEW_SIDE
        return int(min(full, max(MIN_PREVIEW_SIDE, min(side, PREVIEW_SIDE * max(1.0, view.zoom)))))

    def show_result(self, request_id: int, image: np.ndarray, compute_ms: float, asked_at: float) -> None:
        self.result = image
        self.result_view.set_image(self.pane_image(image))
        shown_at = time.perf_counter()
        self.frames_shown.append((asked_at, shown_at, compute_ms))
        latency = (shown_at - asked_at) * 1000
        self.status_time.setText(f"synthesis: {compute_ms:.0f} ms (edit to screen {latency:.0f} ms)")
        if request_id == self._settled_frame and self.has_painted_shapes():
            self.photo_size_timer.start()
        elif request_id == self._photo_size_frame:
            self.statusBar().showMessage(f"{FILLED_PHOTO_SIZE} ({compute_ms / 1000:.1f} s)", 5000)

    def frame_given_up(self, request_id: int) -> None:
        """A frame the engine gave up for newer work; the photo-size fill is asked again at
        the next pause (the newer work's frame starts the wait)."""
        if request_id == self._photo_size_frame and self.statusBar().currentMessage() == FILLING_PHOTO_SIZE:
            self.statusBar().clearMessage()

    def show_last_result(self) -> None:
        """The result pane again (the bank canvas view was switched on or off)."""
        if self.result is not None:
            self.result_view.set_image(self.pane_image(self.result))

    def pane_image(self, image: np.ndarray) -> np.ndarray:
        """What the result pane shows: the frame, or (View > Show Before, on a photo edit)
        the photo as it was, at the frame's size, to compare."""
        edit = self.doc.photo_edit
        if self.actions.before.isChecked() and edit is not None and image.shape[:2] != (self.engine.size,) * 2:
            before = self.session.preview(edit, max(image.shape[:2])).original
            if before.shape == image.shape:
                return before
        return self.banks.shown_result(image)

    # -- tools and views ----------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.canvas.tool = tool
        self.canvas.update()

    def set_brush_radius(self, value: int) -> None:
        self.canvas.radius = float(value)
        self.canvas.update()

    def choose_label(self, label: int) -> None:
        self.canvas.label = label
        self.region_panel.show_region(self.doc, label, self.engine.labels.group_of(label))

    def toggle_overlay(self, on: bool) -> None:
        self.canvas.overlay_photo = on
        self.canvas.update()

    def update_photo_view(self) -> None:
        self.photo_view.set_image(self.doc.photo)
        self.photo_view.setVisible(self.doc.photo is not None and self.actions.show_photo.isChecked())

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        QMessageBox.warning(self, "SEAN Studio", message)

    # -- closing -----------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        if not self.files.confirm_discard():
            event.ignore()
            return
        self.save_layout()
        self.autosaver.stop()
        self.worker.stop()
        event.accept()
