"""Autosave and crash recovery, as in Krita: the open edit is written to the app's data
folder every minute or so, atomically; an editor that ends without closing (a crash, a
kill, a power cut) leaves its file behind, and the next start offers to recover it.

Each running editor writes `autosave/<pid>.sean`; a file whose process is gone is an
orphan, left by an editor that did not close. No Qt here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from models.data.files import InputError, atomic_write

AUTOSAVE_SECONDS = 60
APP_FOLDER = "SEAN Studio"


def data_dir() -> Path:
    """The app's data folder, as each platform places such folders."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_FOLDER


def process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):
        return False  # no process has such a number: not an autosave of ours
    except (PermissionError, OSError):
        return True  # exists, but belongs to someone else
    return True


def is_pid(name: str) -> bool:
    """Whether a file name could be a process number (what we name autosaves by): plain
    ASCII digits of a 32-bit number, not '²' or 20 digits someone left in the folder."""
    return name.isascii() and name.isdigit() and 0 < int(name) < 2**32


class Autosave:
    """This editor's autosave file, and the orphans other editors left."""

    def __init__(self, folder: Path | None = None, pid: int | None = None):
        self.folder = (folder or data_dir()) / "autosave"
        self.path = self.folder / f"{pid or os.getpid()}.sean"

    def write(self, data: bytes) -> None:
        """Atomically (a kill halfway leaves the previous autosave whole). InputError when
        the folder cannot be written."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"{self.folder}: cannot write ({e.strerror or e})") from None
        atomic_write(self.path, lambda p: p.write_bytes(data))

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)

    def orphans(self) -> list[Path]:
        """Autosaves of editors that are no longer running, newest first."""
        if not self.folder.is_dir():
            return []
        found = [
            p
            for p in self.folder.glob("*.sean")
            if is_pid(p.stem) and p != self.path and not process_alive(int(p.stem))
        ]
        return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
