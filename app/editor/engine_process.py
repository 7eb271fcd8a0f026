"""Synthesis in a child process, so that painting never waits for the GUI's Python.

In one process the engine thread and the GUI thread share the interpreter lock: each of
a frame's few hundred tensor operations can wait for the GUI's Python code, which made
frames about a third slower while painting (98 ms instead of 74 ms on two cores,
`python main.py lab bench --edit-loop`). A child process has its own interpreter. It loads
the same weights file and answers (mask, styles) -> image over a pipe; nothing here
imports Qt, so the child starts light.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np

from models.data.files import InputError
from models.inference.engine import Engine
from models.inference.styles import StyleMatrix


def serve(conn, json_path: str, device: str) -> None:
    """The child's loop. Replies: ("ready", None) once loaded, then ("image", image),
    ("bad_input", message) or ("error", message) per request; None stops it."""
    try:
        engine = Engine.load(json_path, device)
    except Exception as e:  # reported to the parent, which falls back to its own engine
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except EOFError:  # the parent went away
            return
        if request is None:
            return
        mask, styles = request
        try:
            conn.send(("image", engine.synthesize(mask, styles)))
        except InputError as e:
            conn.send(("bad_input", str(e)))
        except Exception as e:
            conn.send(("error", f"{type(e).__name__}: {e}"))


class EngineProcess:
    """The parent's side. `synthesize` blocks, without holding the interpreter lock, until
    the child answers; it raises InputError for bad input and RuntimeError when the child
    failed to start or has stopped."""

    def __init__(self, json_path: Path, device: str):
        context = multiprocessing.get_context("spawn")  # never fork a process that runs Qt and threads
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(
            target=serve, args=(child_conn, str(json_path), device), name="sean-engine", daemon=True
        )
        self.process.start()
        child_conn.close()
        self.ready = False

    def wait_ready(self) -> None:
        """Block until the child has loaded the model (a few seconds after the start)."""
        if not self.ready:
            self._reply("ready")
            self.ready = True

    def synthesize(self, mask: np.ndarray, styles: list[StyleMatrix]) -> np.ndarray:
        self.wait_ready()
        try:
            self.conn.send((mask, styles))
        except OSError as e:
            raise RuntimeError(f"the engine process stopped ({e})") from None
        return self._reply("image")

    def _reply(self, expected: str):
        try:
            kind, payload = self.conn.recv()
        except (EOFError, OSError):
            raise RuntimeError(f"the engine process stopped (exit code {self.process.exitcode})") from None
        if kind == "bad_input":
            raise InputError(payload)
        if kind != expected:
            raise RuntimeError(f"the engine process failed: {payload}")
        return payload

    def close(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
        self.conn.close()
