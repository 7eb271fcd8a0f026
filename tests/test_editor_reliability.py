"""The editor never loses work: refused writes, autosave and recovery after a kill, and the
small things a person trips over (command-line files, grouped regions, dialogs, window)."""

import errno
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QFileDialog, QMessageBox

from app.editor.autosave import Autosave
from app.editor.document import Document
from app.editor.qt.main_window import MainWindow
from models.inference.engine import Engine
from tests.helpers import SIZE, toy_mask, toy_photo
from tests.test_editor import add_photo_source, drop, settle

ROOT = Path(__file__).resolve().parent.parent
UNWRITABLE = "/proc"  # a folder that refuses new files even to root, unlike a chmod-ed one


def new_window(qtbot, tmp_path, weights_json, data_folder=None) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("refine_photos", False)
    w = MainWindow(
        Engine.load(str(weights_json), "cpu"),
        settings,
        separate_process=False,
        data_folder=data_folder or tmp_path / "data",
    )
    qtbot.addWidget(w)
    return w


@pytest.fixture
def window(qtbot, tmp_path, weights_json, errors):
    w = new_window(qtbot, tmp_path, weights_json)
    w.show()
    w.doc.set_mask(toy_mask())
    settle(qtbot, w)
    yield w
    w.worker.stop()


@pytest.fixture
def errors(monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    return shown


# -- every write fails with a message, and the edit stays open and unsaved -------------
WRITES = {
    "project": lambda w, folder: w.files.save_to(Path(folder) / "p.sean"),
    "result": lambda w, folder: w.files.export_result(f"{folder}/r.png"),
    "mask": lambda w, folder: w.files.export_mask(f"{folder}/m.png"),
    "codes": lambda w, folder: w.files.export_codes(f"{folder}/c.npz"),
}


@pytest.mark.parametrize("what", list(WRITES))
def test_a_refused_write_leaves_the_edit_open_and_unsaved(window, tmp_path, errors, what):
    assert window.doc.modified
    mask = window.doc.mask.copy()
    assert not WRITES[what](window, UNWRITABLE)
    assert len(errors) == 1 and "cannot write" in errors[0]
    assert window.doc.modified and np.array_equal(window.doc.mask, mask) and window.isVisible()
    assert window.doc.path is None


@pytest.mark.parametrize("what", list(WRITES))
def test_a_full_disk_leaves_the_edit_open_and_the_old_file_whole(window, tmp_path, errors, monkeypatch, what):
    assert WRITES[what](window, tmp_path)
    written = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and p.suffix != ".ini"}
    window.doc.set_mask(toy_mask(shift=2))

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    assert not WRITES[what](window, tmp_path)
    assert "No space left on device" in errors[-1] and window.doc.modified
    assert {p: p.read_bytes() for p in written} == written  # what was there is intact
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_settings_that_cannot_be_written_are_said_not_fatal(qtbot, tmp_path, weights_json, errors):
    w = new_window(qtbot, tmp_path, weights_json)
    w.settings = QSettings(f"{UNWRITABLE}/settings.ini", QSettings.Format.IniFormat)
    assert not w.store_setting("refine_photos", True)
    assert "Settings could not be saved" in w.statusBar().currentMessage()
    w.close()  # closing writes the layout: still closes
    assert not w.isVisible()


# -- autosave and recovery ------------------------------------------------------------
EDITOR_TO_KILL = textwrap.dedent("""
    import sys
    from pathlib import Path
    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QApplication
    from app.editor.qt.main_window import MainWindow
    from models.inference.engine import Engine

    weights, data, settings_file = sys.argv[1:]
    app = QApplication([])
    settings = QSettings(settings_file, QSettings.Format.IniFormat)
    settings.setValue("autosave_seconds", 0.2)
    settings.setValue("refine_photos", False)
    window = MainWindow(Engine.load(weights, "cpu"), settings, separate_process=False, data_folder=Path(data))
    mask = window.doc.mask.copy()
    mask[2:12, 2:12] = 3
    window.doc.set_mask(mask)   # unsaved work
    window.show()
    app.exec()
""")


def test_an_edit_survives_a_killed_editor(qtbot, tmp_path, weights_json, monkeypatch):
    data = tmp_path / "data"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    editor = subprocess.Popen(
        [sys.executable, "-c", EDITOR_TO_KILL, str(weights_json), str(data), str(tmp_path / "killed.ini")],
        cwd=ROOT,
        env=env,
    )
    autosaved = data / "autosave" / f"{editor.pid}.sean"
    try:
        qtbot.waitUntil(autosaved.exists, timeout=60000)
        qtbot.wait(300)  # let a second autosave begin too: a kill halfway must not matter
    finally:
        editor.kill()  # SIGKILL: no closeEvent, no cleanup
        editor.wait()
    assert autosaved.exists()

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    w = new_window(qtbot, tmp_path, weights_json, data_folder=data)
    w.offer_recovery()
    assert (w.doc.mask[2:12, 2:12] == 3).all()
    assert w.doc.modified and "Recovered" in w.statusBar().currentMessage()
    assert not autosaved.exists() and w.autosaver.store.path.exists()  # now this editor's autosave
    assert Autosave(data).orphans() == []
    w.worker.stop()


def test_autosave_writes_unsaved_edits_and_clean_close_removes_it(qtbot, tmp_path, weights_json, errors, monkeypatch):
    w = new_window(qtbot, tmp_path, weights_json)
    w.doc.set_mask(toy_mask())
    w.autosaver.autosave_now()
    w.autosaver.flush()
    assert np.array_equal(Document.load(w.autosaver.store.path).mask, toy_mask())
    assert w.files.save_to(tmp_path / "saved.sean")
    w.autosaver.autosave_now()
    w.autosaver.flush()
    assert not w.autosaver.store.path.exists()  # saved: nothing to recover
    w.doc.set_mask(toy_mask(shift=1))
    w.autosaver.autosave_now()
    w.autosaver.flush()
    assert Document.load(w.autosaver.store.path, recovering=True).path == tmp_path / "saved.sean"  # as that project
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    w.close()
    assert not w.autosaver.store.path.exists()


def test_recovery_can_be_declined_or_put_off(qtbot, tmp_path, weights_json, monkeypatch):
    data = tmp_path / "data"
    orphan = Autosave(data, pid=2**22 + 12345)  # no such process
    doc = Document("toy", ("background", "skin", "l_eye", "r_eye"), toy_mask())
    orphan.write(doc.to_bytes())
    w = new_window(qtbot, tmp_path, weights_json, data_folder=data)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    w.offer_recovery()
    assert orphan.path.exists()  # asked again next time
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    w.offer_recovery()
    assert not orphan.path.exists()
    w.worker.stop()


# -- the editor's command line --------------------------------------------------------
def test_a_photo_named_on_the_command_line_opens_as_an_edit(qtbot, tmp_path, weights_json, toy_parser, errors):
    w = new_window(qtbot, tmp_path, weights_json)
    photo = tmp_path / "portrait.png"
    Image.fromarray(toy_photo(np.kron(toy_mask(), np.ones((2, 2), np.uint8)))).save(photo)
    w.files.open_files([str(photo)], first_photo_opens=True)
    qtbot.waitUntil(lambda: w.doc.photo is not None, timeout=10000)
    assert w.doc.title == "portrait" and not w.doc.modified
    assert all(w.doc.regions[c].source_a.startswith("photo:") for c in w.doc.labels_present())
    w.worker.stop()


@pytest.mark.parametrize("kind, reason", [("label 50", "holds label 50"), ("1x1", "too small for a mask")])
def test_a_bad_mask_on_the_command_line_gets_open_masks_message(qtbot, tmp_path, weights_json, errors, kind, reason):
    w = new_window(qtbot, tmp_path, weights_json)
    path = tmp_path / "bad.png"
    Image.fromarray(np.full((1, 1) if kind == "1x1" else (SIZE, SIZE), 0 if kind == "1x1" else 50, np.uint8)).save(path)
    w.files.open_files([str(path)], first_photo_opens=True)
    assert len(errors) == 1 and reason in errors[0]
    assert not w.doc.sources and w.doc.photo is None  # not a style, not an edit
    w.worker.stop()


def test_a_too_small_photo_is_refused_with_the_photo_rule(qtbot, tmp_path, weights_json, toy_parser, errors):
    w = new_window(qtbot, tmp_path, weights_json)
    Image.fromarray(toy_photo(toy_mask())[:20, :20]).save(tmp_path / "small.jpg")
    w.files.open_files([str(tmp_path / "small.jpg")], first_photo_opens=True)
    qtbot.waitUntil(lambda: bool(errors), timeout=10000)
    assert "too small (32 px" in errors[0] and w.doc.photo is None
    w.worker.stop()


def test_the_editor_without_a_display_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    if not sys.platform.startswith("linux"):
        pytest.skip("the xcb check is Linux's")
    done = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "DISPLAY is not set" in done.stderr


def test_missing_qt_libraries_are_named_with_their_packages(monkeypatch):
    from app.editor import display_check

    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(
        display_check, "missing_libraries", lambda plugin, lib: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    )
    problem = display_check.display_problem()
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1 are missing" in problem
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in problem
    assert display_check.debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_check.display_problem() is None


# -- small things ---------------------------------------------------------------------
def test_regions_that_belong_together_take_a_dropped_style_together(qtbot, window, tmp_path):
    from PyQt6.QtCore import QMimeData, QPointF, Qt
    from PyQt6.QtGui import QDropEvent

    from app.editor.qt.canvas import SOURCE_MIME, source_payload

    key = add_photo_source(window, qtbot, tmp_path)
    window.choose_label(1)
    drop(window, key, (11, 11))  # l_eye: both eyes take it
    assert window.doc.regions[2].source_a == key and window.doc.regions[3].source_a == key
    assert window.doc.regions[1].source_a != key
    assert window.canvas.label == 2 and "2: left eye" in window.region_panel.title.text()  # panel follows
    window.doc.undo()
    mime = QMimeData()
    mime.setData(SOURCE_MIME, source_payload("toy", key))
    event = QDropEvent(
        QPointF(window.canvas.to_widget((11, 11))),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ControlModifier,
    )
    window.canvas.dropEvent(event)  # Ctrl: that eye alone
    assert window.doc.regions[2].source_a == key and window.doc.regions[3].source_a != key


def test_face_groups_skin_with_nose_ears_and_neck():
    from models.data.labels import LabelScheme

    face = LabelScheme.named("face")
    skin = [face.names[c] for c in face.group_of(face.names.index("skin"))]
    assert skin == ["skin", "nose", "l_ear", "r_ear", "neck"]
    assert [face.names[c] for c in face.group_of(face.names.index("u_lip"))] == ["u_lip", "l_lip"]
    assert face.group_of(face.names.index("hair")) == (face.names.index("hair"),)


def test_the_blend_slider_needs_a_b(qtbot, window, tmp_path):
    a = add_photo_source(window, qtbot, tmp_path, seed=1, name="a")
    window.choose_label(1)
    assert not window.region_panel.slider.isEnabled()
    assert not any(b.isEnabled() for b in window.region_panel.crossover)
    window.doc.apply_source(a, [1], slot="b")
    assert window.region_panel.slider.isEnabled() and all(b.isEnabled() for b in window.region_panel.crossover)


def test_dialogs_open_in_the_last_folder_with_the_photos_name(qtbot, window, tmp_path, monkeypatch):
    offered = []
    chosen = tmp_path / "exports" / "mine.png"
    chosen.parent.mkdir()
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        lambda parent, title, start, filters: (offered.append(start), (str(chosen), ""))[1],
    )
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda parent, title, start, filters: (offered.append(start), ("", ""))[1]
    )
    window.doc.title = "portrait"
    window.files.export_mask_dialog()
    assert Path(offered[0]).name == "portrait_mask.png"
    assert Path(offered[0]).parent != ROOT  # not the program's folder
    window.files.export_codes_dialog()
    assert offered[1] == str(chosen.parent / "portrait_codes.npz")  # where the user last was
    window.files.open_project_dialog()
    assert offered[2] == str(chosen.parent)


def test_project_entries_are_portable_and_old_projects_still_open(window, tmp_path, qtbot):
    key = add_photo_source(window, qtbot, tmp_path)
    window.styles.drop_style(key, 1, True)
    assert window.files.save_to(tmp_path / "p.sean")
    names = zipfile.ZipFile(tmp_path / "p.sean").namelist()
    assert all(":" not in n and not n.startswith("/") and "//" not in n for n in names), names
    assert "thumbnails/0.png" in names
    with np.load(_codes(tmp_path / "p.sean")) as npz:
        assert set(npz.files) == {"0.codes", "0.present", "0.colours"}  # the photo's colours beside its codes
    old = write_format_1_project(tmp_path / "old.sean", window.doc, key)
    loaded = Document.load(old)
    assert loaded.sources[key].name == window.doc.sources[key].name
    assert np.array_equal(loaded.sources[key].style.codes, window.doc.sources[key].style.codes)
    assert loaded.regions == window.doc.regions and loaded.sources[key].thumbnail is not None


def _codes(project: Path):
    import io

    return io.BytesIO(zipfile.ZipFile(project).read("codes.npz"))


def write_format_1_project(path: Path, doc: Document, key: str) -> Path:
    """A project as the first format wrote it: entries named after the sources' keys."""
    import io
    import json
    from dataclasses import asdict

    from app.editor.project_file import png_bytes

    source = doc.sources[key]
    meta = {
        "format": 1,
        "model": doc.model,
        "labels": list(doc.label_names),
        "regions": [asdict(r) for r in doc.regions],
        "sources": {key: {"name": source.name, "kind": source.kind}},
    }
    npz = io.BytesIO()
    np.savez(npz, **{f"{key}.codes": source.style.codes, f"{key}.present": source.style.present})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project.json", json.dumps(meta))
        z.writestr("mask.png", png_bytes(doc.mask))
        z.writestr("codes.npz", npz.getvalue())
        z.writestr(f"thumbnails/{key}.png", png_bytes(source.thumbnail))
    return path


def test_a_first_start_sizes_the_window_to_the_screen(qtbot, tmp_path, weights_json, errors):
    w = new_window(qtbot, tmp_path, weights_json)
    screen = w.screen().availableGeometry()
    assert w.width() >= 0.85 * screen.width() and w.height() >= 0.85 * screen.height()
    w.show()
    sizes = w.splitter.sizes()
    assert min(sizes) > 0.3 * sum(sizes)  # mask and views share the width
    w.worker.stop()


def test_the_recovery_dialog_names_the_edit_it_recovers(tmp_path):
    from app.editor.qt.autosaving import described

    doc = Document("toy", ("background", "skin", "l_eye", "r_eye"), toy_mask())
    autosave = tmp_path / "123.sean"
    doc.path, doc.title = autosave, "portrait"
    assert described(doc, autosave) == "an unsaved edit of “portrait”"
    doc.path = tmp_path / "wedding.sean"
    assert described(doc, autosave) == "“wedding.sean”"
