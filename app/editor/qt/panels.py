"""Side panels: the label palette, the style gallery and the per-region style editor."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QMimeData, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QDrag, QIcon, QPixmap
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QWidget,
)

from app.editor.document import BLEND, MEAN, USE_A, USE_B, Document, RegionStyle
from app.editor.qt.canvas import SOURCE_MIME, FileDrops, drop_scope, source_payload, to_qimage
from models.data.labels import display_name
from models.inference.recolour import ColourAdjust
from models.nets.config import BLOCK_NAMES

KEY_ROLE = Qt.ItemDataRole.UserRole


def value_label(slider: QSlider, text: Callable[[int], str]) -> QLabel:
    """A label that shows a slider's value as it moves (a slider alone shows none)."""
    label = QLabel(text(slider.value()))
    label.setMinimumWidth(44)
    slider.valueChanged.connect(lambda v: label.setText(text(v)))
    slider.shown_value = lambda: label.setText(text(slider.value()))  # for `set_quietly`
    return label


def set_quietly(slider: QSlider, value: int) -> None:
    """Show a value the document holds without reporting it as the user's change (its
    signals blocked); the slider's value label follows all the same."""
    slider.blockSignals(True)
    slider.setValue(value)
    slider.blockSignals(False)
    if hasattr(slider, "shown_value"):
        slider.shown_value()


def swatch(color: str, size: int = 14) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(QColor(color))
    return QIcon(pix)


class LabelPalette(QListWidget):
    """Class names with their colours; the current row is the label the tools paint.
    Dropping a style on an entry gives that label the style."""

    label_chosen = pyqtSignal(int)
    style_dropped = pyqtSignal(str, int, bool, bool)  # payload, label, to all regions, alone

    def __init__(self, names: tuple[str, ...], colors: tuple[str, ...], parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.set_labels(names, colors)
        self.currentRowChanged.connect(lambda row: row >= 0 and self.label_chosen.emit(row))

    def set_labels(self, names: tuple[str, ...], colors: tuple[str, ...]) -> None:
        self.blockSignals(True)
        self.clear()
        for i, (name, color) in enumerate(zip(names, colors)):
            item = QListWidgetItem(swatch(color), f"{i:2d}  {display_name(name)}")
            item.setToolTip(f"class {i}: {name}")  # the dataset's own code, as masks and the command line use it
            self.addItem(item)
        self.blockSignals(False)
        self.setCurrentRow(min(1, self.count() - 1))

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(SOURCE_MIME):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        item = self.itemAt(event.position().toPoint())
        if item is not None and event.mimeData().hasFormat(SOURCE_MIME):
            payload = bytes(event.mimeData().data(SOURCE_MIME)).decode()
            self.style_dropped.emit(payload, self.row(item), *drop_scope(event.modifiers()))
            event.acceptProposedAction()


class StyleGallery(QListWidget):
    """Thumbnails of the document's style sources; drag one onto a region or a label."""

    files_dropped = pyqtSignal(list)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(72, 72))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setWordWrap(True)
        self.model = ""

    def set_sources(self, doc: Document) -> None:
        self.model = doc.model
        self.clear()
        for key, source in doc.sources.items():
            item = QListWidgetItem(source.name)
            item.setData(KEY_ROLE, key)
            item.setToolTip(
                f"{source.name} ({source.kind}): drag onto a region (with the regions that "
                "belong with it; Ctrl: that region alone; Shift: all regions)"
            )
            if source.thumbnail is not None:
                item.setIcon(QIcon(QPixmap.fromImage(to_qimage(source.thumbnail))))
            self.addItem(item)

    def startDrag(self, actions) -> None:
        item = self.currentItem()
        if item is None:
            return
        mime = QMimeData()
        mime.setData(SOURCE_MIME, source_payload(self.model, item.data(KEY_ROLE)))
        drag = QDrag(self)
        drag.setMimeData(mime)
        if not item.icon().isNull():
            drag.setPixmap(item.icon().pixmap(48, 48))
        drag.exec(Qt.DropAction.CopyAction)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            self.files_dropped.emit([u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()])
            event.acceptProposedAction()


class RegionPanel(QGroupBox):
    """Source A, source B, the A-B slider and the per-block crossover for the selected region
    and the regions that belong with it (skin with nose, ears and neck: the label scheme's
    groups, as drops use them), or for it alone, or for all regions."""

    changed = pyqtSignal(dict)  # {label: RegionStyle}
    random_requested = pyqtSignal(list)  # labels

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Region style", parent)
        self.doc: Document | None = None
        self.label = 1
        self.group: tuple[int, ...] = (1,)
        self.source_a, self.source_b = QComboBox(), QComboBox()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        # the region's colour by hand, through the same colour transform a restyle uses
        self.adjusters = {
            "hue": self.adjust_slider(-180, 180, "Hue, degrees"),
            "saturation": self.adjust_slider(-100, 100, "Saturation, %"),
            "lightness": self.adjust_slider(-100, 100, "Lightness, %"),
        }
        self.all_regions = QCheckBox("Apply to all regions")
        self.alone = QCheckBox("This region alone (not its group)")
        self.crossover = [QPushButton("~") for _ in BLOCK_NAMES]
        grid = QGridLayout(self)
        self.title = QLabel()
        grid.addWidget(self.title, 0, 0, 1, 4)
        grid.addWidget(QLabel("A"), 1, 0)
        grid.addWidget(self.source_a, 1, 1, 1, 3)
        grid.addWidget(QLabel("B"), 2, 0)
        grid.addWidget(self.source_b, 2, 1, 1, 3)
        grid.addWidget(QLabel("A"), 3, 0)
        grid.addWidget(self.slider, 3, 1, 1, 2)
        grid.addWidget(value_label(self.slider, lambda v: f"B {v}%"), 3, 3)
        row = QHBoxLayout()
        row.addWidget(QLabel("Blocks"))
        for i, button in enumerate(self.crossover):
            button.setFixedWidth(28)
            button.setToolTip(
                f"SEAN block {i + 1} ({BLOCK_NAMES[i]}): click to cycle ~ (the A-B blend), "
                "A alone, B alone. Early blocks set coarse structure, late blocks colour and "
                "texture."
            )
            button.clicked.connect(lambda _, i=i: self.cycle_block(i))
            row.addWidget(button)
        grid.addLayout(row, 4, 0, 1, 4)
        buttons = QHBoxLayout()
        for text, slot in (("Mean", self.use_mean), ("Random", self.use_random), ("Reset", self.reset)):
            b = QPushButton(text)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        grid.addLayout(buttons, 5, 0, 1, 4)
        for row, (name, slider) in enumerate(self.adjusters.items(), start=6):
            grid.addWidget(QLabel(name.capitalize()), row, 0)
            grid.addWidget(slider, row, 1, 1, 2)
            unit = "\u00b0" if name == "hue" else "%"
            grid.addWidget(value_label(slider, lambda v, unit=unit: f"{v:+d}{unit}"), row, 3)
        grid.addWidget(self.all_regions, 9, 0, 1, 4)
        grid.addWidget(self.alone, 10, 0, 1, 4)
        self.source_a.activated.connect(lambda _: self.emit_change(source_a=self.source_a.currentData()))
        self.source_b.activated.connect(lambda _: self.emit_change(source_b=self.source_b.currentData()))
        self.slider.sliderReleased.connect(lambda: self.emit_change(blend=self.slider.value() / 100))
        self.slider.valueChanged.connect(self.slider_moved)

    def adjust_slider(self, low: int, high: int, tip: str) -> QSlider:
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(low, high)
        slider.setToolTip(f"{tip} (0: the region's colour as its style gives it)")
        slider.sliderReleased.connect(self.emit_adjust)
        slider.valueChanged.connect(lambda _: None if slider.isSliderDown() else self.emit_adjust())
        return slider

    def emit_adjust(self) -> None:
        values = {name: s.value() for name, s in self.adjusters.items()}
        adjust = ColourAdjust(float(values["hue"]), values["saturation"] / 100, values["lightness"] / 100)
        if adjust != self.doc.regions[self.label].adjust:
            self.emit_change(adjust=adjust)

    def targets(self) -> list[int]:
        if self.all_regions.isChecked():
            return list(range(self.doc.num_classes))
        return [self.label] if self.alone.isChecked() else list(self.group)

    def show_region(self, doc: Document, label: int, group: tuple[int, ...] | None = None) -> None:
        """Show `label`'s style; changes go to `group` (the label first) unless "alone"."""
        self.doc, self.label, self.group = doc, label, group or (label,)
        region = doc.regions[label]
        with_group = ", ".join(display_name(doc.label_names[c]) for c in self.group[1:])
        group_note = f" (with {with_group})" if with_group else ""
        self.title.setText(f"<b>{label}: {display_name(doc.label_names[label])}</b>{group_note}")
        self.alone.setVisible(len(self.group) > 1)
        for combo, current, allow_none in (
            (self.source_a, region.source_a, False),
            (self.source_b, region.source_b, True),
        ):
            combo.blockSignals(True)
            combo.clear()
            if allow_none:
                combo.addItem("(none)", None)
            combo.addItem("Mean style", MEAN)
            for key, source in doc.sources.items():
                combo.addItem(source.name, key)
            combo.setCurrentIndex(max(0, combo.findData(current)))
            combo.blockSignals(False)
        set_quietly(self.slider, round(region.blend * 100))
        adjust = region.adjust
        for name, value in (
            ("hue", adjust.hue),
            ("saturation", adjust.saturation * 100),
            ("lightness", adjust.lightness * 100),
        ):
            set_quietly(self.adjusters[name], round(value))
        has_b = region.source_b is not None  # blending and crossing over need a B
        self.slider.setEnabled(has_b)
        self.slider.setToolTip("" if has_b else "Choose a source B to blend A with")
        for button, choice in zip(self.crossover, region.crossover):
            button.setText({BLEND: "~", USE_A: "A", USE_B: "B"}[choice])
            button.setEnabled(has_b)

    def slider_moved(self, value: int) -> None:
        if not self.slider.isSliderDown():  # keyboard or click: commit at once
            self.emit_change(blend=value / 100)

    def emit_change(self, **fields) -> None:
        regions = self.doc.regions
        self.changed.emit({c: RegionStyle(**{**regions[c].__dict__, **fields}) for c in self.targets()})

    def cycle_block(self, block: int) -> None:
        order = (BLEND, USE_A, USE_B)
        current = self.doc.regions[self.label].crossover[block]
        choice = order[(order.index(current) + 1) % 3]
        changes = {}
        for c in self.targets():
            crossover = list(self.doc.regions[c].crossover)
            crossover[block] = choice
            changes[c] = RegionStyle(**{**self.doc.regions[c].__dict__, "crossover": tuple(crossover)})
        self.changed.emit(changes)

    def use_mean(self) -> None:
        self.emit_change(source_a=MEAN, source_b=None, blend=0.0)

    def use_random(self) -> None:
        self.random_requested.emit(self.targets())

    def reset(self) -> None:
        self.changed.emit({c: RegionStyle() for c in self.targets()})


class LookPanel(FileDrops, QGroupBox):
    """The whole picture's look: a reference photo (drop one here, or choose it), its
    strength, and removing it. The look is applied after synthesis, region by region
    when the photo could be parsed (see EditorSession.apply_look)."""

    files_dropped = pyqtSignal(list)  # paths: the first becomes the look
    choose_requested = pyqtSignal()
    strength_changed = pyqtSignal(float)
    removed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Look (drop a photo: its light and colours)", parent)
        self.setAcceptDrops(True)
        self.thumbnail = QLabel("No look")
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setMinimumHeight(64)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setToolTip("Strength of the look: 0 keeps the picture as it is")
        choose, remove = QPushButton("Choose..."), QPushButton("Remove")
        self.remove_button = remove
        grid = QGridLayout(self)
        grid.addWidget(self.thumbnail, 0, 0, 1, 3)
        grid.addWidget(QLabel("Strength"), 1, 0)
        grid.addWidget(self.slider, 1, 1)
        grid.addWidget(value_label(self.slider, lambda v: f"{v}%"), 1, 2)
        grid.addWidget(choose, 2, 0, 1, 2)
        grid.addWidget(remove, 2, 2)
        choose.clicked.connect(self.choose_requested)
        remove.clicked.connect(self.removed)
        self.slider.sliderReleased.connect(lambda: self.strength_changed.emit(self.slider.value() / 100))
        self.slider.valueChanged.connect(self.slider_moved)
        self.show_look(None)

    def show_look(self, look) -> None:
        """Show `look` (a document Look, or None)."""
        set_quietly(self.slider, round((look.strength if look else 1.0) * 100))
        self.slider.setEnabled(look is not None)
        self.remove_button.setEnabled(look is not None)
        if look is None:
            self.thumbnail.setPixmap(QPixmap())
            self.thumbnail.setText("No look")
            return
        pix = QPixmap.fromImage(to_qimage(look.photo))
        self.thumbnail.setPixmap(pix.scaledToHeight(64, Qt.TransformationMode.SmoothTransformation))
        self.thumbnail.setToolTip(f"{look.name}{'' if look.labels is not None else ' (one region: not parsed)'}")

    def slider_moved(self, value: int) -> None:
        if not self.slider.isSliderDown():  # keyboard or click: commit at once
            self.strength_changed.emit(value / 100)
