"""The edit loop, measured: paint continuously in the real editor (offscreen) and time
every brush event until a frame that includes it is on screen."""

from __future__ import annotations

import bisect
import math
import os
import statistics
import tempfile
import time

from models.inference.engine import Engine


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(q / 100 * len(ordered))) - 1)]


def measure_edit_loop(engine: Engine, seconds: float = 5.0, rate_hz: float = 60.0, photo: str | None = None) -> dict:
    """Brush events at `rate_hz` along a circle for `seconds`; with `photo`, on an edit of
    that photo shown composited (how long it takes to open, to refine and to export at its
    full size is measured too).

    An event's latency runs from the event to the display of the first frame requested
    at or after it; that includes waiting behind the frame in flight, which coalescing
    keeps to at most one.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QEventLoop, QPoint, QSettings, Qt, QTimer
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication

    from app.editor.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(engine, settings)
    window.resize(1280, 720)
    window.show()
    wait_idle(app, window)
    opening = open_photo(app, window, photo) if photo else None
    window.frames_shown.clear()
    canvas, size = window.canvas, engine.size

    def point(t: float) -> QPoint:
        angle = 2 * math.pi * t / 2.0
        p = canvas.to_widget((size / 2 + size / 4 * math.cos(angle), size / 2 + size / 4 * math.sin(angle)))
        return QPoint(int(p.x()), int(p.y()))

    # Brush events come from a 60 Hz timer through Qt's own event loop, as a mouse's do.
    edits: list[float] = []
    start = time.perf_counter()
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=point(0))
    loop = QEventLoop()
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)

    def brush() -> None:
        now = time.perf_counter()
        if now - start >= seconds:
            timer.stop()
            loop.quit()
            return
        edits.append(now)
        QTest.mouseMove(canvas, point(now - start))

    timer.timeout.connect(brush)
    timer.start(round(1000 / rate_hz))
    loop.exec()
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=point(seconds))
    released = time.perf_counter()
    wait_idle(app, window)
    frames = sorted(window.frames_shown)
    requested = [f[0] for f in frames]
    latencies = []
    for t in edits:
        i = bisect.bisect_left(requested, t)
        if i < len(frames):
            latencies.append((frames[i][1] - t) * 1000)
    export = (
        {"photo_size_fill_s": wait_photo_size(app, window, released), **time_export(app, window)} if photo else None
    )
    window.doc.mark_saved()  # nothing to save
    window.close()
    window.worker.stop()
    return {
        "edits": len(edits),
        "frames": len(frames),
        "seconds": seconds,
        "rate_hz": len(edits) / seconds,
        "latency_p50_ms": statistics.median(latencies),
        "latency_p95_ms": percentile(latencies, 95),
        "latency_max_ms": max(latencies),
        "fps": len(frames) / seconds,
        "frame_p50_ms": statistics.median(f[2] for f in frames),
        "photo": None if photo is None else {**opening, **export},
    }


def open_photo(app, window, photo: str) -> dict:
    """File > Open Photo, timed to frames on screen: the first composited result, the
    refined result (the first frame after the status bar says "Refined"), and the end of
    refinement (the status bar says "fully")."""
    window.actions.refine.setChecked(True)
    wait_idle(app, window)
    window.frames_shown.clear()
    start = time.perf_counter()
    window.files.open_photo(photo)
    first = refined = fully = None
    refined_after = None  # frames shown when the message came: the next one is the refined picture

    def frame_on_screen(after: int) -> float | None:
        return window.frames_shown[after][1] - start if len(window.frames_shown) > after else None

    while time.perf_counter() - start < 300 and fully is None:
        app.processEvents()
        message = window.statusBar().currentMessage()
        if first is None and window.doc.photo_edit is not None:
            first = frame_on_screen(0)
        if refined_after is None and first is not None and "Refined" in message:
            refined_after = len(window.frames_shown)
        if refined is None and refined_after is not None:
            refined = frame_on_screen(refined_after)
        if refined is not None and "fully" in message:
            fully = time.perf_counter() - start
        time.sleep(0.002)
    wait_idle(app, window)
    h, w = window.doc.photo_edit.original.shape[:2]
    return {"width": w, "height": h, "first_result_s": first, "refined_s": refined, "refined_fully_s": fully}


def wait_photo_size(app, window, released: float, timeout: float = 300.0) -> float | None:
    """Seconds from the stroke's end until the view shows the painted shapes filled at the
    photo's own size (the status bar says so); None when it never did."""
    from app.editor.qt.main_window import FILLED_PHOTO_SIZE

    while time.perf_counter() - released < timeout:
        app.processEvents()
        if window.statusBar().currentMessage().startswith(FILLED_PHOTO_SIZE):
            return time.perf_counter() - released
        time.sleep(0.005)
    return None


def time_export(app, window) -> dict:
    """The full-size composite of the edit (what Export Result writes: made on the engine
    thread, which keeps the one the view waited for), and writing it."""
    wait_idle(app, window)
    start = time.perf_counter()
    done: list = []
    window.worker.submit(lambda: window.session.render_photo(window.doc), done.append)
    while not done and time.perf_counter() - start < 300:
        app.processEvents()
        time.sleep(0.002)
    image = done[0]
    composite_s = time.perf_counter() - start
    path = os.path.join(tempfile.mkdtemp(), "export.jpg")
    from models.data.files import save_image

    save_image(path, image, 95)
    return {"export_s": composite_s, "export_with_jpeg_s": time.perf_counter() - start}


def wait_idle(app, window, timeout: float = 30.0) -> None:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end and not (window.worker.idle() and window.result is not None):
        app.processEvents()
        time.sleep(0.005)
    app.processEvents()
