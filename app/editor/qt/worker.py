"""The engine's own thread: the GUI thread never runs the network.

Synthesis requests are coalesced: while one runs, newer requests replace the waiting
one, so a continuous brush stroke always renders its latest state and never queues
up stale frames. Frames are made in a child process when asked (see engine_process.py),
else on this thread. Other work (encoding a photo) is queued in order and runs here,
before waiting frames; background work (refining a photo's style, slice by slice) runs
only when no frame or other work waits, so painting stays live meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from app.editor.engine_process import EngineProcess
from models.data.files import InputError
from models.inference.engine import Engine
from models.inference.styles import StyleMatrix
from models.inference.texture_fill import Interrupted


class EngineWorker(QObject):
    synthesized = pyqtSignal(int, object, float, float)  # request id, image, compute ms, requested at
    given_up = pyqtSignal(int)  # request id of a frame given up for newer work (nothing to show)
    task_done = pyqtSignal(object, object)  # callback, result (called on the GUI thread)
    failed = pyqtSignal(str)
    notice = pyqtSignal(str)
    busy = pyqtSignal(bool)

    def __init__(self, engine: Engine, separate_process: bool = False):
        super().__init__()
        self.engine = engine
        self._process = (
            EngineProcess(engine.json_path, str(engine.device)) if separate_process and engine.json_path else None
        )
        self._cond = threading.Condition()
        self._synth: tuple | None = None
        self._tasks: deque = deque()
        self._background: deque = deque()
        self._next_id = 0
        self._stopping = False
        self._running = False
        self.task_done.connect(lambda callback, result: callback(result))
        self._thread = threading.Thread(target=self._loop, name="engine", daemon=True)
        self._thread.start()

    def request_synthesis(
        self, mask: np.ndarray, styles: list[StyleMatrix], finish: Callable[[np.ndarray], np.ndarray] | None = None
    ) -> int:
        """Queue a frame; returns its id. A waiting older request is dropped. `finish`, when
        given, turns the synthesis into what is shown (a photo edit's composite), here on
        the engine thread."""
        with self._cond:
            self._next_id += 1
            self._synth = (self._next_id, mask.copy(), styles, time.perf_counter(), finish)  # perf_counter clock
            self._cond.notify()
            return self._next_id

    def submit(self, work: Callable[[], object], callback: Callable[[object], None], background: bool = False) -> None:
        """Run `work()` on the engine thread, then `callback(result)` on the GUI thread;
        `background` work waits until no frame or other work does."""
        with self._cond:
            (self._background if background else self._tasks).append((work, callback))
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        process = self._process
        if process is not None:  # first, so that a thread waiting for it wakes up
            process.close()
        self._thread.join(timeout=5)

    def _synthesize(self, mask: np.ndarray, styles: list[StyleMatrix]) -> np.ndarray:
        if self._process is not None:
            try:
                return self._process.synthesize(mask, styles)
            except RuntimeError as e:
                self._without_process(e)
        return self.engine.synthesize(mask, styles)

    def _without_process(self, error: RuntimeError) -> None:
        """The engine process could not start or has died: carry on without it."""
        self._process.close()
        self._process = None
        if not self._stopping:  # closing the editor stops the process too: nothing to say then
            self.notice.emit(f"{error}; making frames in the editor's own process from now on")

    def _has_work(self) -> bool:
        """Anything waiting (a frame, work or background work); call holding the lock."""
        return self._synth is not None or bool(self._tasks) or bool(self._background)

    def superseded(self) -> bool:
        """A newer frame waits (asked by the frame in hand, on this thread: it may give up)."""
        with self._cond:
            return self._synth is not None

    def anything_waits(self) -> bool:
        """A frame or any work waits, background work too (asked by a frame that yields to
        all of it: the photo-size fill gives way to refinement, whose new styles would make
        it stale)."""
        with self._cond:
            return self._has_work()

    def idle(self) -> bool:
        with self._cond:
            return not self._has_work() and not self._running

    def _loop(self) -> None:
        if self._process is not None:  # its start-up is not a frame's time
            try:
                self._process.wait_ready()
            except RuntimeError as e:
                self._without_process(e)
        while True:
            with self._cond:
                while not self._stopping and not self._has_work():
                    self._cond.wait()
                if self._stopping:
                    return
                task = self._tasks.popleft() if self._tasks else None
                synth = None if task else self._synth
                if synth is not None:
                    self._synth = None
                elif task is None:
                    task = self._background.popleft()
                self._running = True
            self.busy.emit(True)
            try:
                if task:
                    work, callback = task
                    self.task_done.emit(callback, work())
                else:
                    request_id, mask, styles, asked_at, finish = synth
                    start = time.perf_counter()
                    image = self._synthesize(mask, styles)
                    if finish is not None:
                        image = finish(image)
                    end = time.perf_counter()
                    self.synthesized.emit(request_id, image, (end - start) * 1000, asked_at)
            except Interrupted:  # a frame given up for the newer one waiting: nothing to show
                if synth is not None:
                    self.given_up.emit(synth[0])
            except InputError as e:  # bad input found while working: its own message says why
                self.failed.emit(str(e))
            except Exception as e:  # shown to the user; the thread keeps serving
                self.failed.emit(f"The engine failed: {type(e).__name__}: {e}")
            finally:
                with self._cond:
                    self._running = False
                    pending = self._has_work()
                if not pending:
                    self.busy.emit(False)
