"""`python main.py` with no command: the editor on the bundled face model."""
from __future__ import annotations

import sys

from models.engine import Engine
from models.imageio import InputError

DEFAULT_MODEL = "face"


def run_editor(model: str = DEFAULT_MODEL, device: str | None = None, files: list[str] | None = None) -> int:
    """The editor on `model`; `files` (a project, a mask, photos) open as if dropped on it,
    so a project or mask brings up its own model."""
    from PyQt6.QtWidgets import QApplication, QMessageBox
    from app.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("SEAN Studio")
    try:
        engine = Engine.load(model, device)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        QMessageBox.critical(None, "SEAN Studio", f"Cannot open the editor: {e}")
        return 2
    window = MainWindow(engine)
    window.show()
    window.open_files(files or [])
    return app.exec()
