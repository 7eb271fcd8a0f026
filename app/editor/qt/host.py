"""What the window's controllers need of it, as small typed interfaces: the file
controller, the style controller and the bank controller each get the window as one of
these, and use nothing else of it. MainWindow gives them all."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QStatusBar

    from app.editor.document import Document
    from app.editor.qt.actions import Actions
    from app.editor.qt.canvas import MaskCanvas
    from app.editor.qt.files import FileController
    from app.editor.qt.panels import LabelPalette
    from app.editor.qt.styles import StyleController
    from app.editor.qt.worker import EngineWorker
    from app.editor.session import EditorSession
    from models.inference.engine import Engine


class Window(Protocol):
    """What every controller reads: the document shown, the session and the worker that
    make its frames, the settings, and the window's status bar and error messages (the
    window is also the parent of the controllers' dialogs)."""

    doc: Document
    session: EditorSession
    worker: EngineWorker
    settings: QSettings
    actions: Actions

    @property
    def engine(self) -> Engine: ...

    def statusBar(self) -> QStatusBar: ...

    def show_error(self, message: str) -> None: ...

    def store_setting(self, key: str, value) -> bool: ...


class FilesWindow(Window, Protocol):
    """The file controller's window: it also shows another document, switches model,
    hands photos and codes to the styles and exports the last result."""

    result: np.ndarray | None
    styles: StyleController

    def attach(self, doc: Document) -> None: ...

    def switch_engine(self, model: str) -> bool: ...


class StylesWindow(Window, Protocol):
    """The style controller's window: it also asks the files for folders and paths, and
    follows a drop in the label palette."""

    files: FileController
    palette_list: LabelPalette


class BankWindow(Window, Protocol):
    """The bank controller's window: it also reads the canvas (the label painted, the
    point under the cursor)."""

    canvas: MaskCanvas
