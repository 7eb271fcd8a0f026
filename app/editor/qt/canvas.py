"""Views: the mask canvas the user paints on, and a plain image view for results."""

from __future__ import annotations

from enum import Enum

import numpy as np
import qimage2ndarray
from PyQt6.QtCore import QPointF, QRect, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import QWidget

from app.editor import tools
from app.editor.document import Document

SOURCE_MIME = "application/x-sean-style-source"  # drag payload: "MODEL\nKEY", a style source of an edit


def source_payload(model: str, key: str) -> bytes:
    """The drag payload of a style source; the model lets a drop refuse another model's style."""
    return f"{model}\n{key}".encode()


def read_source_payload(payload: str) -> tuple[str, str]:
    """(model, source key) of a drag payload."""
    model, _, key = payload.partition("\n")
    return model, key


def drop_scope(modifiers: Qt.KeyboardModifier) -> tuple[bool, bool]:
    """(to every region, to the region alone) for a style drop: Shift gives it to all,
    Ctrl to the one region without those that belong with it; neither, to its group."""
    return (bool(modifiers & Qt.KeyboardModifier.ShiftModifier), bool(modifiers & Qt.KeyboardModifier.ControlModifier))


class Tool(Enum):
    BRUSH = "brush"
    ERASER = "eraser"
    FILL = "fill"
    RECT = "rect"
    LASSO = "lasso"
    PICKER = "picker"


def to_qimage(rgb: np.ndarray) -> QImage:
    return qimage2ndarray.array2qimage(np.ascontiguousarray(rgb))


class ZoomableView(QWidget):
    """An image fitted to the widget, with zoom (wheel) and pan (space-drag or middle-drag)."""

    zoom_changed = pyqtSignal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.zoom = 1.0
        self.pan = QPointF(0, 0)
        self.image_size = (256, 256)  # (width, height) of what is shown
        self._pan_from: QPointF | None = None
        self.space_down = False
        self.setMinimumSize(160, 160)

    def image_rect(self) -> QRectF:
        w, h = self.image_size
        fit = min(self.width() / w, self.height() / h) * self.zoom
        x = (self.width() - w * fit) / 2 + self.pan.x()
        y = (self.height() - h * fit) / 2 + self.pan.y()
        return QRectF(x, y, w * fit, h * fit)

    def to_image(self, pos: QPointF) -> tuple[float, float]:
        r = self.image_rect()
        return ((pos.x() - r.x()) * self.image_size[0] / r.width(), (pos.y() - r.y()) * self.image_size[1] / r.height())

    def set_zoom(self, zoom: float) -> None:
        self.zoom = float(np.clip(zoom, 0.25, 16))
        self.zoom_changed.emit(self.zoom)
        self.update()

    def reset_view(self) -> None:
        self.zoom, self.pan = 1.0, QPointF(0, 0)
        self.zoom_changed.emit(self.zoom)
        self.update()

    def wheelEvent(self, event) -> None:
        factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
        before = self.to_image(event.position())
        self.set_zoom(self.zoom * factor)
        # keep the point under the cursor where it was
        r = self.image_rect()
        after = QPointF(
            r.x() + before[0] * r.width() / self.image_size[0], r.y() + before[1] * r.height() / self.image_size[1]
        )
        self.pan += event.position() - after
        self.update()

    def start_pan(self, event) -> bool:
        if event.button() == Qt.MouseButton.MiddleButton or (
            self.space_down and event.button() == Qt.MouseButton.LeftButton
        ):
            self._pan_from = event.position()
            return True
        return False

    def continue_pan(self, event) -> bool:
        if self._pan_from is None:
            return False
        self.pan += event.position() - self._pan_from
        self._pan_from = event.position()
        self.update()
        return True

    def end_pan(self) -> bool:
        was = self._pan_from is not None
        self._pan_from = None
        return was


class FileDrops:
    """Mixed into a widget that has a `files_dropped` signal and accepts drops: the local
    files dropped on it are emitted."""

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            self.files_dropped.emit(files)
            event.acceptProposedAction()


class ImageView(FileDrops, ZoomableView):
    """Shows an RGB image (the result, or the original photo), with an optional busy mark;
    with `accepts_files`, files dropped on it are passed on (the result takes a look)."""

    files_dropped = pyqtSignal(list)

    def __init__(self, placeholder: str, parent: QWidget | None = None, accepts_files: bool = False):
        super().__init__(parent)
        self.placeholder = placeholder
        self.qimage: QImage | None = None
        self.busy = False
        self.setAcceptDrops(accepts_files)

    def set_image(self, rgb: np.ndarray | None) -> None:
        self.qimage = None if rgb is None else to_qimage(rgb)
        if rgb is not None:
            self.image_size = (rgb.shape[1], rgb.shape[0])
        self.update()

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 44))
        if self.qimage is None:
            p.setPen(QColor(170, 170, 170))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
        else:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawImage(self.image_rect(), self.qimage)
        if self.busy:  # a small dot in the corner: working, not blocking
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setBrush(QColor(255, 196, 0))
            p.setPen(Qt.PenStyle.NoPen)
            p.drawEllipse(QPointF(self.width() - 12, 12), 5, 5)

    def mousePressEvent(self, event) -> None:
        self.start_pan(event) or event.ignore()

    def mouseMoveEvent(self, event) -> None:
        self.continue_pan(event)

    def mouseReleaseEvent(self, event) -> None:
        self.end_pan()


class MaskCanvas(ZoomableView):
    """Paints the document's mask with the current tool; accepts style drops on regions."""

    mask_edited = pyqtSignal()  # the working mask changed (mid-stroke too: see `stroking`)
    label_picked = pyqtSignal(int)
    style_dropped = pyqtSignal(str, int, bool, bool)  # payload, label under the drop, to all, alone
    files_dropped = pyqtSignal(list)
    cursor_moved = pyqtSignal(str)  # "x, y: label" for the status bar

    def __init__(self, doc: Document, palette: np.ndarray, parent: QWidget | None = None):
        super().__init__(parent)
        self.tool = Tool.BRUSH
        self.label = 1
        self.radius = 8.0
        self.overlay_photo = False
        self.overlay_opacity = 0.5
        self._last: tuple[float, float] | None = None
        self._shape: list[tuple[float, float]] = []
        self._hover: QPointF | None = None
        self.last_point: tuple[float, float] | None = None  # the last point of the mask under the
        # cursor, in mask pixels (a menu keeps it)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.set_document(doc, palette)

    def set_document(self, doc: Document, palette: np.ndarray) -> None:
        self.doc, self.palette = doc, palette
        self.image_size = (doc.mask.shape[1], doc.mask.shape[0])
        self.photo_image = None if doc.photo is None else to_qimage(doc.photo)
        self.refresh()

    def refresh(self, box: tools.Box | None = None) -> None:
        """Show the mask as it is now; with `box`, only that part changed (a brush event:
        recolouring the whole mask 60 times a second takes CPU from the engine)."""
        mask = self.doc.mask
        if box is not None and self._mask_rgb.shape[:2] == mask.shape:
            x0, y0, x1, y1 = box
            self._mask_rgb[y0:y1, x0:x1] = self.palette[mask[y0:y1, x0:x1]]
            self.update(self.widget_rect(box))
            return
        self._mask_rgb = np.ascontiguousarray(self.palette[mask])
        h, w = mask.shape
        # The image reads the array's memory, so recolouring a box in place shows at once.
        self.mask_image = QImage(self._mask_rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.update()

    def widget_rect(self, box: tools.Box) -> QRect:
        """The widget pixels showing a box of mask pixels (repainting only those is cheaper)."""
        x0, y0, x1, y1 = box
        return QRectF(self.to_widget((x0, y0)), self.to_widget((x1, y1))).toAlignedRect().adjusted(-2, -2, 2, 2)

    def brush_outline_rect(self, pos: QPointF | None) -> QRect:
        """The widget pixels the brush outline at `pos` covers."""
        if pos is None:
            return QRect()
        reach = self.radius * self.image_rect().width() / self.image_size[0] + 2
        return QRectF(pos.x() - reach, pos.y() - reach, 2 * reach, 2 * reach).toAlignedRect()

    # -- drawing ----------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 44))
        r = self.image_rect()
        if self.overlay_photo and self.photo_image is not None:
            p.drawImage(r, self.photo_image)
            p.setOpacity(self.overlay_opacity)
        p.drawImage(r, self.mask_image)
        p.setOpacity(1.0)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine))
        p.setBrush(Qt.BrushStyle.NoBrush)
        if len(self._shape) >= 2 and self.tool == Tool.RECT:
            p.drawRect(QRectF(self.to_widget(self._shape[0]), self.to_widget(self._shape[-1])))
        elif len(self._shape) >= 2 and self.tool == Tool.LASSO:
            path = QPainterPath(self.to_widget(self._shape[0]))
            for pt in self._shape[1:]:
                path.lineTo(self.to_widget(pt))
            p.drawPath(path)
        if self._hover is not None and self.tool in (Tool.BRUSH, Tool.ERASER):
            scale = r.width() / self.image_size[0]
            p.setPen(QPen(QColor(255, 255, 255), 1))
            p.drawEllipse(self._hover, self.radius * scale, self.radius * scale)

    def to_widget(self, pt: tuple[float, float]) -> QPointF:
        r = self.image_rect()
        return QPointF(r.x() + pt[0] * r.width() / self.image_size[0], r.y() + pt[1] * r.height() / self.image_size[1])

    # -- painting ---------------------------------------------------------------------
    def paint_label(self) -> int:
        return 0 if self.tool == Tool.ERASER else self.label

    def mousePressEvent(self, event) -> None:
        if self.start_pan(event) or event.button() != Qt.MouseButton.LeftButton:
            return
        pt = self.to_image(event.position())
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            self._last = pt
            self.edited(tools.paint_line(self.doc.mask, pt, pt, self.radius, self.paint_label()))
        elif self.tool == Tool.FILL:
            tools.flood_fill(self.doc.mask, pt, self.label)
            self.edited()
            self.doc.commit_mask()
        elif self.tool == Tool.PICKER:
            label = tools.pick_label(self.doc.mask, pt)
            if label is not None:
                self.label_picked.emit(label)
        else:
            self._shape = [pt]

    def mouseMoveEvent(self, event) -> None:
        previous_hover, self._hover = self._hover, event.position()
        pt = self.to_image(event.position())
        label = tools.pick_label(self.doc.mask, pt)
        if label is not None:
            self.last_point = pt
        self.cursor_moved.emit("" if label is None else f"{int(pt[0])}, {int(pt[1])}: {label}")
        if self.continue_pan(event):
            return
        if self._last is not None:
            box = tools.paint_line(self.doc.mask, self._last, pt, self.radius, self.paint_label())
            self._last = pt
            self.edited(box)
        elif self._shape:
            self._shape = [self._shape[0], pt] if self.tool == Tool.RECT else self._shape + [pt]
            self.update()
            return
        self.update(self.brush_outline_rect(previous_hover))  # the outline moves
        self.update(self.brush_outline_rect(self._hover))

    def mouseReleaseEvent(self, event) -> None:
        if self.end_pan() or event.button() != Qt.MouseButton.LeftButton:
            return
        if self._shape:
            end = self.to_image(event.position())
            if self.tool == Tool.RECT:
                tools.fill_rect(self.doc.mask, self._shape[0], end, self.label)
            else:
                tools.fill_polygon(self.doc.mask, self._shape + [end], self.label)
            self._shape = []
            self.edited()
        self._last = None
        self.doc.commit_mask()  # the document says the mask changed: a frame of the ended stroke

    @property
    def stroking(self) -> bool:
        """A brush stroke is under way (the mouse is down)."""
        return self._last is not None

    def leaveEvent(self, event) -> None:
        self._hover = None
        self.update()

    def edited(self, box: tools.Box | None = None) -> None:
        self.refresh(box)
        self.mask_edited.emit()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.space_down = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.space_down = False
            self.unsetCursor()
        else:
            super().keyReleaseEvent(event)

    # -- drops ------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(SOURCE_MIME) or event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        data = event.mimeData()
        if data.hasFormat(SOURCE_MIME):
            payload = bytes(data.data(SOURCE_MIME)).decode()
            label = tools.pick_label(self.doc.mask, self.to_image(event.position()))
            if label is not None:
                self.style_dropped.emit(payload, label, *drop_scope(event.modifiers()))
        elif data.hasUrls():
            self.files_dropped.emit([u.toLocalFile() for u in data.urls() if u.isLocalFile()])
        event.acceptProposedAction()
