"""The editor, driven through its real widgets offscreen (pytest-qt)."""

import threading

import numpy as np
import pytest
import qimage2ndarray
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from PyQt6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt
from PyQt6.QtGui import QDropEvent, QImage
from PyQt6.QtWidgets import QMessageBox

from app.editor import tools
from app.editor.document import MEAN, USE_B, Document, Source
from app.editor.qt.canvas import SOURCE_MIME, Tool, source_payload
from app.editor.qt.main_window import MainWindow
from app.editor.qt.worker import EngineWorker
from models.data.files import save_mask
from models.inference.engine import Engine
from models.inference.styles import StyleMatrix
from tests.helpers import SIZE, STREET, TOY, toy_mask, toy_photo


@pytest.fixture
def errors(monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    return shown


@pytest.fixture
def window(qtbot, tmp_path, weights_json, errors):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    # Refinement has its own test; elsewhere it would change frames between a test's steps.
    settings.setValue("refine_photos", False)
    w = MainWindow(Engine.load(str(weights_json), "cpu"), settings, separate_process=False)
    qtbot.addWidget(w)
    w.resize(1000, 600)
    w.show()
    w.doc.set_mask(toy_mask())
    settle(qtbot, w)
    yield w
    w.worker.stop()


def settle(qtbot, w):
    """Wait until the engine thread has nothing left to do and its results are shown (a
    photo edit's painted shapes at the photo's size too: asked when painting pauses)."""
    done = lambda: w.worker.idle() and not w.photo_size_timer.isActive()
    qtbot.waitUntil(lambda: done() and w.result is not None, timeout=10000)
    qtbot.wait(20)
    qtbot.waitUntil(done, timeout=10000)


def add_photo_source(w, qtbot, tmp_path, seed=1, name="photo"):
    mask = toy_mask()
    Image.fromarray(toy_photo(mask, seed=seed)).save(tmp_path / f"{name}.png")
    Image.fromarray(mask).save(tmp_path / f"{name}_mask.png")
    w.styles.add_photo(str(tmp_path / f"{name}.png"), str(tmp_path / f"{name}_mask.png"))
    qtbot.waitUntil(lambda: any(k.startswith("photo:") and name in k for k in w.doc.sources), timeout=10000)
    return next(k for k in w.doc.sources if k.startswith("photo:") and name in k)


def test_photo_styles_are_refined_in_the_background(qtbot, window, tmp_path):
    window.actions.refine.trigger()
    assert window.settings.value("refine_photos", type=bool)
    undo_depth = len(window.doc.history.undo_stack)
    key = add_photo_source(window, qtbot, tmp_path)
    qtbot.waitUntil(lambda: "fully" in window.statusBar().currentMessage(), timeout=20000)
    settle(qtbot, window)
    mask, photo = toy_mask(), toy_photo(toy_mask(), seed=1)
    plain, refined = window.engine.encode(photo, mask), window.doc.sources[key].style
    error = lambda style: np.mean((window.engine.synthesize(mask, style).astype(float) - photo) ** 2)
    assert error(refined) < error(plain)
    assert len(window.doc.history.undo_stack) == undo_depth  # no edit of the user's to undo


def test_background_work_waits_for_frames_and_other_work(qtbot, weights_json):
    engine = Engine.load(str(weights_json), "cpu")
    worker = EngineWorker(engine)
    gate, order = threading.Event(), []
    worker.synthesized.connect(lambda *_: order.append("frame"))
    worker.submit(gate.wait, lambda _: None)  # holds the engine thread while the rest queues
    worker.submit(lambda: None, lambda _: order.append("background"), background=True)
    worker.request_synthesis(toy_mask(), [engine.mean_style])
    worker.submit(lambda: None, lambda _: order.append("task"))
    gate.set()
    qtbot.waitUntil(lambda: len(order) == 3, timeout=10000)
    worker.stop()
    assert order == ["task", "frame", "background"]


def test_a_frame_that_yields_to_background_work_is_given_up_and_said_so(qtbot, weights_json):
    """The photo-size fill gives way to any waiting work, refinement's background slices
    too (`anything_waits`), where other frames give way to newer frames alone."""
    from models.inference.texture_fill import Interrupted

    engine = Engine.load(str(weights_json), "cpu")
    worker = EngineWorker(engine)
    gate, asked, given_up, shown = threading.Event(), [], [], []
    worker.given_up.connect(given_up.append)
    worker.synthesized.connect(lambda request_id, *_: shown.append(request_id))

    def finish(image):
        asked.append((worker.superseded(), worker.anything_waits()))
        if worker.anything_waits():
            raise Interrupted
        return image

    worker.submit(gate.wait, lambda _: None)  # holds the engine thread while the rest queues
    frame = worker.request_synthesis(toy_mask(), [engine.mean_style], finish)
    worker.submit(lambda: None, lambda _: None, background=True)
    gate.set()
    qtbot.waitUntil(lambda: given_up == [frame], timeout=10000)
    worker.stop()
    assert asked == [(False, True)] and not shown


def canvas_point(w, x, y) -> QPoint:
    p = w.canvas.to_widget((x, y))
    return QPoint(int(p.x()), int(p.y()))


def test_painting_changes_mask_then_result(qtbot, window):
    assert window.splitter.orientation() == Qt.Orientation.Horizontal  # a square face: the mask beside
    before_mask, before_result = window.doc.mask.copy(), window.result.copy()
    window.palette_list.setCurrentRow(2)
    window.canvas.radius = 3
    qtbot.mousePress(window.canvas, Qt.MouseButton.LeftButton, pos=canvas_point(window, 2, 2))
    qtbot.mouseMove(window.canvas, canvas_point(window, 12, 4))
    # mid-stroke, the canvas shows the mask as painted so far (recoloured in place)
    shown = qimage2ndarray.rgb_view(window.canvas.mask_image.convertToFormat(QImage.Format.Format_RGB32))
    assert np.array_equal(shown, window.canvas.palette[window.doc.mask])
    qtbot.mouseRelease(window.canvas, Qt.MouseButton.LeftButton, pos=canvas_point(window, 12, 4))
    settle(qtbot, window)
    assert (window.doc.mask[1:4, 3:11] == 2).all()
    assert not np.array_equal(window.doc.mask, before_mask)
    assert not np.array_equal(window.result, before_result)
    assert window.doc.modified and "*" in window.windowTitle()


coord = st.floats(-20, 60)


@settings(max_examples=60, deadline=None)
@given(coord, coord, coord, coord, st.floats(0.3, 12))
def test_brush_box_holds_every_changed_pixel(x0, y0, x1, y1, radius):
    mask = np.zeros((40, 32), np.uint8)
    bx0, by0, bx1, by1 = tools.paint_line(mask, (x0, y0), (x1, y1), radius, 5)
    inside = np.zeros_like(mask, bool)
    inside[by0:by1, bx0:bx1] = True
    assert not (mask.astype(bool) & ~inside).any()


def test_fill_rect_lasso_and_picker(qtbot, window):
    c = window.canvas
    window.palette_list.setCurrentRow(3)
    window.set_tool(Tool.FILL)
    qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=canvas_point(window, 1, 1))
    assert (window.doc.mask[toy_mask() == 0] == 3).all()
    window.palette_list.setCurrentRow(2)
    window.set_tool(Tool.RECT)
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=canvas_point(window, 0, 0))
    qtbot.mouseMove(c, canvas_point(window, 4, 4))
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=canvas_point(window, 4, 4))
    assert (window.doc.mask[1:4, 1:4] == 2).all()
    window.palette_list.setCurrentRow(0)
    window.set_tool(Tool.LASSO)
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=canvas_point(window, 20, 26))
    for x, y in ((30, 26), (30, 31)):
        qtbot.mouseMove(c, canvas_point(window, x, y))
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=canvas_point(window, 20, 31))
    assert (window.doc.mask[27:30, 22:28] == 0).all()
    window.set_tool(Tool.PICKER)
    qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=canvas_point(window, 16, 16))
    assert window.canvas.label == toy_mask()[16, 16] and window.palette_list.currentRow() == window.canvas.label
    assert len(window.doc.history.undo_stack) == 4  # set_mask, fill, rectangle, lasso


def test_undo_redo_restore_exactly(qtbot, window, tmp_path):
    states = [window.doc.mask.copy()]
    for label, (x, y) in ((2, (3, 3)), (3, (28, 28))):
        window.palette_list.setCurrentRow(label)
        qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, pos=canvas_point(window, x, y))
        states.append(window.doc.mask.copy())
    key = add_photo_source(window, qtbot, tmp_path)
    window.styles.drop_style(key, 1, False)
    regions_after = window.doc.regions
    window.actions.undo.trigger()
    assert window.doc.regions[1].source_a == MEAN
    window.actions.undo.trigger()
    assert np.array_equal(window.doc.mask, states[1])
    window.actions.undo.trigger()
    assert np.array_equal(window.doc.mask, states[0])
    window.actions.redo.trigger()
    window.actions.redo.trigger()
    window.actions.redo.trigger()
    assert np.array_equal(window.doc.mask, states[2]) and window.doc.regions == regions_after
    settle(qtbot, window)


def drop(window, key, label_xy, shift=False, model="toy"):
    mime = QMimeData()
    mime.setData(SOURCE_MIME, source_payload(model, key))
    mods = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    event = QDropEvent(
        QPointF(window.canvas.to_widget(label_xy)), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, mods
    )
    window.canvas.dropEvent(event)


def test_drop_changes_only_that_region(qtbot, window, tmp_path):
    key = add_photo_source(window, qtbot, tmp_path)
    before = window.doc.regions
    drop(window, key, (16, 16))  # skin
    after = window.doc.regions
    assert after[1].source_a == key
    assert [r for i, r in enumerate(after) if i != 1] == [r for i, r in enumerate(before) if i != 1]
    drop(window, key, (16, 16), shift=True)
    assert all(r.source_a == key for r in window.doc.regions)


def test_dropping_a_style_that_lacks_a_region_says_so(qtbot, window, tmp_path):
    mask = toy_mask()
    no_eyes = np.where(mask >= 2, 1, mask).astype(np.uint8)
    Image.fromarray(toy_photo(mask)).save(tmp_path / "p.png")
    Image.fromarray(no_eyes).save(tmp_path / "p_mask.png")
    window.styles.add_photo(str(tmp_path / "p.png"), str(tmp_path / "p_mask.png"))
    qtbot.waitUntil(lambda: len(window.doc.sources) == 1, timeout=10000)
    key = next(iter(window.doc.sources))
    window.styles.drop_style(key, 2, False)
    assert window.doc.regions[2].source_a == MEAN
    assert "has no l_eye" in window.statusBar().currentMessage()


def test_slider_and_crossover_change_the_image(qtbot, window, tmp_path):
    a = add_photo_source(window, qtbot, tmp_path, seed=1, name="a")
    b = add_photo_source(window, qtbot, tmp_path, seed=7, name="b")
    window.doc.apply_source(a, list(range(4)))
    window.doc.apply_source(b, list(range(4)), slot="b")
    window.choose_label(1)
    window.region_panel.all_regions.setChecked(True)
    settle(qtbot, window)
    only_a = window.result.copy()
    window.region_panel.slider.setValue(100)
    settle(qtbot, window)
    only_b = window.result.copy()
    assert not np.array_equal(only_a, only_b)
    window.region_panel.slider.setValue(0)
    window.region_panel.crossover[6].click()  # blend -> A
    window.region_panel.crossover[6].click()  # A -> B for the last block
    assert window.doc.regions[1].crossover[6] == USE_B
    settle(qtbot, window)
    assert not np.array_equal(window.result, only_a) and not np.array_equal(window.result, only_b)


def test_export_and_project_round_trip(qtbot, window, tmp_path):
    key = add_photo_source(window, qtbot, tmp_path)
    window.styles.drop_style(key, 1, True)
    settle(qtbot, window)
    shown = window.result.copy()
    assert window.files.export_result(str(tmp_path / "out.png"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), shown)
    assert window.files.export_result(str(tmp_path / "big.jpg"), SIZE * 2)
    assert Image.open(tmp_path / "big.jpg").size == (SIZE * 2, SIZE * 2)
    assert window.files.export_mask(str(tmp_path / "m.png"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "m.png")), window.doc.mask)
    assert (tmp_path / "m_color.png").exists()
    assert window.files.export_codes(str(tmp_path / "c.npz"))

    assert window.files.save_to(tmp_path / "edit.sean") and not window.doc.modified
    window.files.new_document("toy")
    window.files.open_project(str(tmp_path / "edit.sean"))
    settle(qtbot, window)
    assert np.array_equal(window.result, shown)


def test_bad_files_show_an_error_and_leave_the_document(qtbot, window, tmp_path, errors):
    mask_before, regions_before = window.doc.mask.copy(), window.doc.regions
    (tmp_path / "junk.png").write_bytes(b"not a png")
    Image.fromarray(np.full((8, 8), 99, np.uint8)).save(tmp_path / "high.png")
    (tmp_path / "junk.sean").write_bytes(b"PK not a zip")
    window.files.open_mask(str(tmp_path / "junk.png"))
    window.files.open_mask(str(tmp_path / "high.png"))
    window.files.open_project(str(tmp_path / "junk.sean"))
    window.styles.add_photo(str(tmp_path / "junk.png"), str(tmp_path / "high.png"))
    assert len(errors) == 4
    assert "holds label 99" in errors[1] and "not a SEAN Studio project" in errors[2]
    assert np.array_equal(window.doc.mask, mask_before) and window.doc.regions == regions_before
    assert not window.files.export_result(str(tmp_path / "no_such_dir" / "x.png"))
    assert "does not exist" in errors[-1]


def test_document_model_has_no_qt():
    import app.editor.document as document

    source = open(document.__file__).read()
    assert "PyQt" not in source and "qimage2ndarray" not in source
    doc = Document("toy", ("a", "b"), np.zeros((4, 4), np.uint8))
    doc.add_source("s", Source("s", StyleMatrix(np.ones((2, 3), np.float32), np.array([True, False]))))
    assert doc.apply_source("s", [0, 1]) == [1]


def test_a_refined_source_is_no_undo_step_but_outdates_the_saved_project(tmp_path):
    codes = lambda value: StyleMatrix(np.full((2, 3), value, np.float32), np.array([True, True]))
    doc = Document("toy", ("a", "b"), np.zeros((4, 4), np.uint8))
    doc.add_source("s", Source("s", codes(0.0)))
    assert doc.refine_source("s", codes(0.2)) and not doc.modified  # a new, unsaved edit: nothing to lose
    doc.apply_source("s", [0, 1])
    doc.save(tmp_path / "p.sean")
    told, undo_depth = [], len(doc.history.undo_stack)
    doc.listeners.append(told.append)
    assert doc.refine_source("s", codes(0.5)) and told == ["refined"]
    assert doc.modified and len(doc.history.undo_stack) == undo_depth  # the file holds the old codes
    assert np.array_equal(doc.styles_per_block(codes(0.0))[0].codes, codes(0.5).codes)
    assert not doc.refine_source("gone", codes(0.5))


def test_new_blank_document(qtbot, window):
    window.files.new_document("toy", blank=True)
    assert (window.doc.mask == 0).all() and not window.doc.modified
    settle(qtbot, window)


def test_photos_are_framed_and_parsed_when_the_model_has_a_parser(qtbot, tmp_path, weights_json, toy_parser, errors):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    w = MainWindow(Engine.load(str(weights_json), "cpu"), settings, separate_process=False)
    qtbot.addWidget(w)
    Image.fromarray(toy_photo(np.kron(toy_mask(), np.ones((3, 3), np.uint8)))).save(tmp_path / "big.png")
    w.styles.add_photos([str(tmp_path / "big.png")])  # as a drop from the file manager
    qtbot.waitUntil(lambda: any(k.startswith("photo:") for k in w.doc.sources), timeout=10000)
    assert "centre square" in w.statusBar().currentMessage()
    w.files.open_photo(str(tmp_path / "big.png"))
    qtbot.waitUntil(lambda: w.doc.photo is not None, timeout=10000)
    assert w.doc.photo.shape == (SIZE, SIZE, 3) and w.doc.mask.shape == (SIZE, SIZE)
    assert all(w.doc.regions[c].source_a.startswith("photo:") for c in w.doc.labels_present())
    assert not w.doc.modified
    assert w.photo_view.isVisibleTo(w)
    w.worker.stop()


def test_codes_of_another_model_are_refused(qtbot, window, tmp_path, errors):
    style = window.engine.mean_style
    style.save(tmp_path / "mine.npz", "toy", window.doc.label_names)
    style.save(tmp_path / "faces.npz", "face", window.doc.label_names)
    window.files.open_files([str(tmp_path / "mine.npz"), str(tmp_path / "faces.npz")])
    assert any(k.startswith("codes:") for k in window.doc.sources)
    assert len(errors) == 1 and "'face' styles; they cannot be used with model 'toy'" in errors[0]


def test_editor_without_weights_says_so(monkeypatch, capsys):
    from app.editor.launch import run_editor

    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    assert run_editor("no_such_model") == 2
    assert "unknown model 'no_such_model'" in shown[0] and "error:" in capsys.readouterr().err


# -- more than one model ----------------------------------------------------------------
def street_mask() -> np.ndarray:
    m = np.ones((SIZE, SIZE), np.uint8)  # sky
    m[SIZE // 2 :] = 0  # road
    m[12:20, 8:20] = 2  # car
    return m


def test_a_new_edit_takes_the_chosen_models_labels(qtbot, window, scene_json):
    window.files.new_document("street")
    settle(qtbot, window)
    assert window.doc.model == "street" and window.engine.info.model == "street"
    assert window.palette_list.count() == 3 and window.doc.label_names == STREET.names
    # a street is painted at its streets' aspect (the scheme's 2:1), not squeezed into the square
    assert "street" in window.windowTitle() and window.result.shape == (SIZE, 2 * SIZE, 3)
    window.files.new_document("toy")
    settle(qtbot, window)
    assert window.doc.model == "toy" and window.palette_list.count() == 4


def test_a_mask_or_project_opens_with_its_own_model(qtbot, window, scene_json, tmp_path):
    save_mask(tmp_path / "street.png", street_mask(), STREET)  # carries the street palette
    Image.fromarray(STREET.colorize(np.roll(street_mask(), 4, axis=1))).save(tmp_path / "street_colour.png")
    window.files.open_files([str(tmp_path / "street.png")])
    settle(qtbot, window)
    # the square street layout at its streets' 2:1, as the model paints it
    assert window.doc.model == "street" and np.array_equal(window.doc.mask, window.engine.scene_layout(street_mask()))
    assert "'street' mask" in window.statusBar().currentMessage()
    window.files.save_to(tmp_path / "scene.sean")
    save_mask(tmp_path / "face.png", toy_mask(), TOY)
    window.files.open_mask(str(tmp_path / "face.png"))
    settle(qtbot, window)
    assert window.doc.model == "toy" and np.array_equal(window.doc.mask, toy_mask())
    window.files.open_project(str(tmp_path / "scene.sean"))
    settle(qtbot, window)
    assert window.doc.model == "street" and window.palette_list.count() == 3
    window.files.open_mask(str(tmp_path / "street_colour.png"))  # same model: just the mask, undoable
    assert window.doc.model == "street" and len(window.doc.history.undo_stack) == 1
    assert np.array_equal(window.doc.mask, window.engine.scene_layout(np.roll(street_mask(), 4, axis=1)))


def test_styles_cannot_cross_models(qtbot, window, scene_json, tmp_path, errors):
    from app.editor.samples import SAMPLES_DIR

    toy_key = add_photo_source(window, qtbot, tmp_path)
    window.engine.mean_style.save(tmp_path / "toy_codes.npz", "toy", TOY.names)
    save_mask(tmp_path / "toy_mask.png", toy_mask(), TOY)
    Image.fromarray(toy_photo(toy_mask())).save(tmp_path / "toy_photo.png")
    window.files.new_document("street")
    settle(qtbot, window)
    drop(window, toy_key, (16, 4), model="toy")  # another window's toy style
    window.files.open_files([str(tmp_path / "toy_codes.npz")])
    window.styles.add_photo(str(tmp_path / "toy_photo.png"), str(tmp_path / "toy_mask.png"))
    portrait = SAMPLES_DIR / "face" / "style_01.png"  # a face our face model made
    Image.fromarray(np.zeros(load_shape(portrait), np.uint8)).save(tmp_path / "portrait_mask.png")
    window.styles.add_photo(str(portrait), str(tmp_path / "portrait_mask.png"))
    qtbot.waitUntil(lambda: len(errors) == 4, timeout=10000)
    assert "comes from a 'toy' edit" in errors[0]
    assert "'toy' styles; they cannot be used with model 'street'" in errors[1]
    assert "is a 'toy' mask: styles from a toy photo cannot be used on this 'street' edit" in errors[2]
    assert "looks like a face photo" in errors[3]
    assert not any(k.startswith(("photo:", "codes:")) for k in window.doc.sources)
    assert all(r.source_a == MEAN for r in window.doc.regions)


def load_shape(path) -> tuple[int, int]:
    w, h = Image.open(path).size
    return h, w


def test_a_scene_photo_asks_for_its_mask(qtbot, window, scene_json, tmp_path, monkeypatch):
    from PyQt6.QtWidgets import QFileDialog

    window.files.new_document("street")
    photo = toy_photo(street_mask(), seed=3)
    Image.fromarray(np.kron(photo, np.ones((2, 1, 1), np.uint8))).save(tmp_path / "scene.jpg")
    Image.fromarray(np.kron(street_mask(), np.ones((2, 1), np.uint8))).save(tmp_path / "scene_mask.png")
    asked = []
    answers = iter([str(tmp_path / "scene.jpg"), str(tmp_path / "scene_mask.png")])
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda parent, caption, *a: (asked.append(caption), next(answers), "")[1:]
    )
    window.files.open_photo_dialog()
    qtbot.waitUntil(lambda: window.doc.photo is not None, timeout=10000)
    assert "no photo parser" in asked[1] and "scene.jpg" in asked[1]
    assert window.doc.photo.shape == (SIZE, SIZE, 3)  # a 64x32 photo stretched, as the model trained
    assert np.array_equal(window.doc.mask, street_mask())
    assert all(window.doc.regions[c].source_a.startswith("photo:") for c in range(3))


def test_frames_from_the_engine_process_match_and_survive_its_death(qtbot, tmp_path, weights_json, errors):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    engine = Engine.load(str(weights_json), "cpu")
    w = MainWindow(engine, settings)  # frames made in a child process
    qtbot.addWidget(w)
    w.doc.set_mask(toy_mask())
    settle(qtbot, w)
    assert w.worker._process is not None and w.worker._process.process.is_alive()
    assert np.array_equal(w.result, engine.synthesize(toy_mask(), w.doc.styles_per_block(engine.mean_style)))
    w.worker._process.process.kill()
    w.worker._process.process.join()
    w.doc.set_mask(toy_mask(shift=2))
    settle(qtbot, w)
    assert w.worker._process is None and "own process" in w.statusBar().currentMessage()
    assert np.array_equal(w.result, engine.synthesize(toy_mask(shift=2), w.doc.styles_per_block(engine.mean_style)))
    w.worker.stop()


def test_a_look_restyles_the_picture_undoes_and_is_saved(qtbot, window, tmp_path, toy_parser, monkeypatch):
    """A photo dropped as the look: parsed (the toy model has a parser), the result
    changes, the strength slider and removal are undo steps, and a project keeps it."""
    # the toy parser finds only the eyes in the look photo, whose maps barely move them; the
    # guided filter (streets' smoothing) changes the whole picture, which this test needs to see
    monkeypatch.setattr("app.editor.session.default_smoothing", lambda framing: "guided")
    w = window
    w.session.engine = Engine.load(str(toy_parser.parent / "toy_32.json"), "cpu")  # now with its parser
    before = w.result.copy()
    Image.fromarray(toy_photo(toy_mask(48), seed=7)).save(tmp_path / "look.png")
    w.styles.set_look_photo(str(tmp_path / "look.png"))
    qtbot.waitUntil(lambda: w.doc.look is not None, timeout=20000)
    settle(qtbot, w)
    look = w.doc.look
    assert look.labels is not None and look.labels.shape == look.photo.shape[:2]
    assert w.result.shape == before.shape and not np.array_equal(w.result, before)
    assert w.look_panel.slider.isEnabled() and w.look_panel.slider.value() == 100
    w.look_panel.slider.setValue(0)  # keyboard or click: one undo step
    settle(qtbot, w)
    assert w.doc.look.strength == 0 and w.doc.look.photo is look.photo
    assert np.array_equal(w.result, before)  # strength 0: the picture as it was
    w.doc.undo()
    assert w.doc.look is look and w.look_panel.slider.value() == 100
    w.doc.save(tmp_path / "look.sean")
    loaded = Document.load(tmp_path / "look.sean")
    assert loaded.look.name == "look.png" and np.array_equal(loaded.look.photo, look.photo)
    assert np.array_equal(loaded.look.labels, look.labels) and loaded.look.strength == 1.0
    w.look_panel.removed.emit()
    settle(qtbot, w)
    assert w.doc.look is None and np.array_equal(w.result, before)


def test_a_look_needs_no_network_weights(qtbot, window, tmp_path, errors, monkeypatch):
    """The editor's look is the colour transfer: no stylisation network to load or miss."""
    import models.inference.stylize as stylize

    monkeypatch.setattr(stylize, "WEIGHTS_DIR", tmp_path / "none")
    before = window.result.copy()
    Image.fromarray(toy_photo(toy_mask(48), seed=7)).save(tmp_path / "look.png")
    window.styles.set_look_photo(str(tmp_path / "look.png"))
    qtbot.waitUntil(lambda: window.doc.look is not None, timeout=20000)
    settle(qtbot, window)
    assert not errors and not np.array_equal(window.result, before)


@pytest.mark.parametrize("target", ["result_view", "look_panel"])
def test_a_photo_dropped_on_the_result_or_the_look_slot_becomes_the_look(qtbot, window, tmp_path, target):
    from PyQt6.QtCore import QUrl

    Image.fromarray(toy_photo(toy_mask(48), seed=2)).save(tmp_path / "evening.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "evening.png"))])
    event = QDropEvent(
        QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    getattr(window, target).dropEvent(event)
    qtbot.waitUntil(lambda: window.doc.look is not None, timeout=20000)
    assert window.doc.look.name == "evening.png" and window.doc.look.labels is None  # no parser: one region
    assert window.doc.can_undo


def test_a_layout_filled_from_a_bank_shows_its_canvas_cycles_candidates_and_undoes(
    qtbot, window, scene_json, tmp_path, errors
):
    from models.data.bank import SegmentBank
    from models.data.datasets import find_pairs
    from tests.test_sims import save_canvas_net, street_mask, write_streets

    bank = tmp_path / "streets.npz"
    SegmentBank.build(find_pairs(write_streets(tmp_path / "streets", 6)), STREET, SIZE, "street_32").save(bank)
    save_canvas_net(scene_json.parent, "street_32", STREET.num_classes)
    window.files.new_document("street")
    settle(qtbot, window)
    window.doc.set_mask(window.engine.scene_layout(street_mask(3)))
    settle(qtbot, window)
    before = window.result.copy()
    window.settings.setValue("bank_path", str(bank))
    window.banks.fill_from_bank("layout")
    qtbot.waitUntil(lambda: window.doc.bank is not None, timeout=10000)
    settle(qtbot, window)
    assert window.doc.bank.classes is None and not np.array_equal(window.result, before)
    window.actions.show_canvas.trigger()  # the canvas as a view: the retrieved pixels
    shown = qimage2ndarray.rgb_view(window.result_view.qimage)
    assert np.array_equal(shown, window.session.last_canvas.image)
    window.actions.show_canvas.trigger()
    car = np.argwhere(window.doc.mask == 2)[5]
    window.canvas.last_point = (float(car[1]), float(car[0]))
    window.banks.next_bank_candidate()  # N: the car under the cursor takes its second candidate
    qtbot.waitUntil(lambda: bool(window.doc.bank.choices), timeout=10000)
    settle(qtbot, window)
    ((key, choice),) = window.doc.bank.choices
    assert key[0] == 2 and choice == 1
    window.doc.undo()
    window.doc.undo()
    settle(qtbot, window)
    assert window.doc.bank is None and np.array_equal(window.result, before)
    window.doc.redo()
    bank.unlink()  # the bank moved away: said once, frames go on without it
    window.session._banks.clear()
    window.session._painters.clear()
    window.doc.set_mask(window.engine.scene_layout(street_mask(4)))
    settle(qtbot, window)
    assert any("no such bank file" in e for e in errors)
    count = len(errors)
    window.doc.set_mask(window.engine.scene_layout(street_mask(5)))
    settle(qtbot, window)
    assert len(errors) == count and window.result is not None


@pytest.mark.parametrize("model", ["/etc", "/etc/passwd", "../weights/face", "a**b"])
def test_opening_a_project_naming_a_model_path_keeps_the_unsaved_edit(qtbot, window, tmp_path, errors, model):
    """A project whose model is a path (or a glob) is refused with a message; the editor
    stays up, and the unsaved edit it was asked to replace is still there, unsaved."""
    import io
    import json
    import zipfile

    good = zipfile.ZipFile(io.BytesIO(Document("toy", TOY.names, toy_mask()).to_bytes()))
    crafted = tmp_path / "crafted.sean"
    with zipfile.ZipFile(crafted, "w") as z:
        for name in good.namelist():
            body = good.read(name)
            if name == "project.json":
                body = json.dumps({**json.loads(body), "model": model}).encode()
            z.writestr(name, body)
    painted = np.roll(toy_mask(), 3, axis=1)
    window.doc.set_mask(painted)
    settle(qtbot, window)
    assert window.doc.modified
    doc = window.doc
    window.files.open_project(str(crafted))
    settle(qtbot, window)
    assert errors and window.doc is doc and doc.modified and np.array_equal(doc.mask, painted)
    assert window.isVisible()
