"""`python main.py` with no command: the editor on the bundled face model."""

from __future__ import annotations

import sys

from app.editor.display_check import display_problem
from models.data.files import InputError
from models.inference.engine import Engine

DEFAULT_MODEL = "face"
BAD_INPUT = 2


def run_editor(model: str = DEFAULT_MODEL, device: str | None = None, files: list[str] | None = None) -> int:
    """The editor on `model`. `files` open as File > Open would: a project, a mask or a
    photo starts the edit (a project or mask brings up its own model); codes and further
    photos join the styles."""
    problem = display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return BAD_INPUT
    from PyQt6.QtWidgets import QApplication, QMessageBox

    from app.editor.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("SEAN Studio")
    try:
        engine = Engine.load(model, device)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        QMessageBox.critical(None, "SEAN Studio", f"Cannot open the editor: {e}")
        return BAD_INPUT
    window = MainWindow(engine)
    window.show()
    window.offer_recovery()
    window.files.open_files(files or [], first_photo_opens=True)
    return app.exec()
