"""Autosave on a timer and a thread of its own, and the offer to recover after a crash
(the files and their rules: app/editor/autosave.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

from PyQt6.QtCore import QObject, QSettings, QTimer, pyqtSignal
from PyQt6.QtWidgets import QMessageBox, QWidget

from app.editor.autosave import AUTOSAVE_SECONDS, Autosave
from app.editor.document import Document
from app.editor.project_file import ProjectSnapshot
from models.data.files import InputError


def described(doc: Document, autosave: Path) -> str:
    """How the recovery dialog names an autosaved edit: its project, or its photo."""
    if doc.path != autosave:
        return f"“{doc.path.name}”"
    return f"an unsaved edit of “{doc.title}”" if doc.title else "an unsaved edit"


class Autosaver(QObject):
    """Every AUTOSAVE_SECONDS, an edit with unsaved changes is written to the app's data
    folder; a saved or discarded edit leaves nothing there."""

    failed = pyqtSignal(str)  # from the autosave thread

    def __init__(
        self, window: QWidget, settings: QSettings, document: Callable[[], Document], data_folder: Path | None = None
    ):
        super().__init__(window)
        self.window, self.document = window, document
        self.store = Autosave(data_folder)
        self.written: tuple | None = None  # (document, revision) last written
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.autosave_now)
        seconds = settings.value("autosave_seconds", AUTOSAVE_SECONDS, type=float)
        self.timer.start(max(100, int(seconds * 1000)))

    def autosave_now(self) -> None:
        doc = self.document()
        if not doc.modified:  # nothing that a crash could lose
            if self.written is not None:
                self.pool.submit(self.store.discard)
                self.written = None
            return
        if self.written == (doc, doc.revision):
            return
        self.written = (doc, doc.revision)
        snapshot = doc.snapshot(autosave_of=str(doc.path) if doc.path else None)
        self.pool.submit(self.write, snapshot)

    def write(self, snapshot: ProjectSnapshot) -> None:
        """On the autosave thread."""
        try:
            self.store.write(snapshot.to_bytes())
        except InputError as e:
            self.failed.emit(f"Autosave failed: {e}")

    def flush(self) -> None:
        """Wait for the writes asked for so far."""
        self.pool.submit(lambda: None).result()

    def stop(self) -> None:
        """Closing properly: the edit was saved or discarded, so there is nothing to recover."""
        self.timer.stop()
        self.pool.shutdown(wait=True)
        self.store.discard()

    def offer_recovery(self, open_document: Callable[[Document, str], bool]) -> str | None:
        """After an editor ended without closing: offer the newest edit it autosaved, and
        open it with `open_document`. The status to show, if any."""
        orphans = self.store.orphans()
        if not orphans:
            return None
        newest = orphans[0]
        when = time.strftime("%d %b %Y %H:%M", time.localtime(newest.stat().st_mtime))
        try:
            doc = Document.load(newest, recovering=True)
        except InputError as e:
            doc, unreadable = None, e
        what = "an edit it could not read back" if doc is None else described(doc, newest)
        answer = QMessageBox.question(
            self.window,
            "Recover unsaved work",
            f"SEAN Studio did not close properly; it had autosaved {what} at {when}.\n\n"
            "Yes: recover it. Discard: delete it. Cancel: decide on the next start.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Discard:
            newest.unlink(missing_ok=True)
        if answer != QMessageBox.StandardButton.Yes:
            return None
        if doc is None:
            return f"The autosaved edit cannot be read, so it was not recovered: {unreadable}"
        if not open_document(doc, newest.name):
            return None
        doc.mark_unsaved()
        with suppress(OSError):
            os.replace(newest, self.store.path)  # it is this editor's autosave now
        self.written = (doc, doc.revision)
        return "Recovered the autosaved edit: save it to keep it"
