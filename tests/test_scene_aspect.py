"""Street layouts are painted at their streets' aspect, not squeezed into the model's square."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.data.datasets import find_pairs
from models.data.labels import LabelScheme
from models.evaluation.reconstruction import evaluate
from models.inference.engine import Engine
from tests.helpers import SIZE, STREET, make_dataset, toy_mask
from tests.test_cli import run
from tests.test_sims import street_mask, write_streets


@pytest.fixture
def street(scene_json) -> Engine:
    return Engine.load(str(scene_json), "cpu")


def test_a_square_street_layout_is_painted_at_its_streets_aspect(street):
    square = street_mask(0)
    wide = street.scene_layout(square)
    assert wide.shape == (SIZE, 2 * SIZE)  # the scheme's 2:1, as pix2pix squeezed Cityscapes
    # un-squeezed, not cropped: every column of the square is there twice
    assert np.array_equal(wide[:, ::2], square)
    picture = street.synthesize(wide, street.mean_style)
    assert picture.shape == (SIZE, 2 * SIZE, 3)
    # a layout that has an aspect of its own keeps it (within a multiple of 32 px), to a limit
    assert street.scene_layout(np.zeros((SIZE, 3 * SIZE), np.uint8)).shape == (SIZE, 3 * SIZE)
    assert street.scene_layout(np.zeros((4, 40 * SIZE), np.uint8)).shape == (SIZE, 4 * SIZE)
    assert street.scene_layout(square, aspect=1.0).shape == (SIZE, SIZE)
    assert street.synthesize(square, street.mean_style).shape == (SIZE, SIZE, 3)  # a square asked for


def test_frames_of_other_shapes_do_not_reuse_each_others_maps(street, scene_json):
    """The engine keeps a frame's modulations to patch after a stroke; a frame of another
    shape (a photo edit's square after a street) must not be patched from them."""
    wide, square = street.scene_layout(street_mask(1)), street_mask(2)
    street.synthesize(wide, street.mean_style)
    after_wide = street.synthesize(square, street.mean_style)
    fresh = Engine.load(str(scene_json), "cpu").synthesize(square, street.mean_style)
    assert np.array_equal(after_wide, fresh)
    again = street.synthesize(wide, street.mean_style)
    assert np.array_equal(again, Engine.load(str(scene_json), "cpu").synthesize(wide, street.mean_style))


def test_a_face_stays_in_the_models_square(weights_json):
    face = Engine.load(str(weights_json), "cpu")
    wide = np.zeros((SIZE, 2 * SIZE), np.uint8)
    wide[:, SIZE // 2 : 3 * SIZE // 2] = toy_mask()
    assert face.render_shape(wide.shape) == (SIZE, SIZE)
    assert face.synthesize(wide, face.mean_style).shape == (SIZE, SIZE, 3)


def test_a_schemes_aspect_is_checked_and_kept(tmp_path):
    with pytest.raises(ValueError, match="aspect"):
        LabelScheme(name="bad", names=("a",), colors=("#000000",), flip_pairs=(), aspect=0.0)
    with pytest.raises(ValueError, match="aspect"):
        LabelScheme(name="bad", names=("a",), colors=("#000000",), flip_pairs=(), aspect="2")
    assert LabelScheme.from_dict(STREET.to_dict()).aspect == 2.0
    old = LabelScheme.named("cityscapes").to_dict()
    del old["aspect"]  # weights saved before the field: the scheme of the same name has it
    assert LabelScheme.from_dict(old).aspect == 2.0
    assert LabelScheme.named("face").aspect == 1.0


def test_synth_writes_a_street_at_its_aspect_and_refuses_an_aspect_for_a_face(
    tmp_path, capsys, scene_json, weights_json, toy_files
):
    mask = tmp_path / "street.png"
    Image.fromarray(street_mask(3)).save(mask)
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "synth", "--model", scene_json, "--mask", mask, "--out", out)
    assert code == 0 and Image.open(out).size == (2 * SIZE, SIZE), err
    code, _, err = run(capsys, "synth", "--model", scene_json, "--mask", mask, "--out", out, "--size", 64)
    assert code == 0 and Image.open(out).size == (128, 64), err  # --size is the height
    code, _, err = run(capsys, "synth", "--model", scene_json, "--mask", mask, "--out", out, "--aspect", 1)
    assert code == 0 and Image.open(out).size == (SIZE, SIZE), err
    code, _, err = run(capsys, "synth", "--model", weights_json, "--mask", toy_files["mask"], "--out", out)
    assert code == 0 and Image.open(out).size == (SIZE, SIZE), err
    code, _, err = run(
        capsys, "synth", "--model", weights_json, "--mask", toy_files["mask"], "--out", out, "--aspect", 2
    )
    assert code != 0 and "--aspect is for scenes" in err


def test_eval_at_aspect_compares_the_same_pixels_as_the_square(tmp_path, street):
    pairs = find_pairs(write_streets(tmp_path / "streets", 4))
    square = evaluate(street, pairs, fid=False, progress=False)
    wide = evaluate(street, pairs, fid=False, progress=False, at_aspect=True)
    assert wide["at_aspect"] and not square["at_aspect"]
    assert np.isfinite(wide["psnr"]) and wide["psnr"] != square["psnr"]  # another picture, squeezed back


def test_a_new_street_edit_is_at_its_aspect_and_exports_so(qtbot, scene_json, tmp_path):
    from PyQt6.QtCore import QSettings, Qt

    from app.editor.qt.main_window import MainWindow
    from tests.test_editor import settle

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Engine.load(str(scene_json), "cpu"), settings, separate_process=False)
    qtbot.addWidget(window)
    try:
        settle(qtbot, window)
        assert window.doc.mask.shape == (SIZE, 2 * SIZE) and window.result.shape == (SIZE, 2 * SIZE, 3)
        assert window.splitter.orientation() == Qt.Orientation.Vertical  # the mask over the result
        out = tmp_path / "out.png"
        assert window.files.export_result(str(out), 2 * SIZE)
        assert Image.open(out).size == (4 * SIZE, 2 * SIZE)  # larger, at its aspect
        window.files.new_document("street", blank=True)
        settle(qtbot, window)
        assert window.doc.mask.shape == (SIZE, 2 * SIZE) and not window.doc.mask.any()
        wider = tmp_path / "wider.png"  # a street of another aspect opens as a new edit at its own
        Image.fromarray(np.zeros((SIZE, 3 * SIZE), np.uint8)).save(wider)
        window.files.open_mask(str(wider))
        settle(qtbot, window)
        assert window.doc.mask.shape == (SIZE, 3 * SIZE) and window.result.shape == (SIZE, 3 * SIZE, 3)
    finally:
        window.worker.stop()


def test_sample_thumbnails_show_a_street_at_its_aspect(tmp_path, street, weights_json):
    from app.cli.showcase import THUMB, make_samples

    pairs = find_pairs(write_streets(tmp_path / "streets", 2))
    make_samples(street, pairs, 2, tmp_path / "street_samples")
    assert Image.open(tmp_path / "street_samples" / "style_01.png").size == (2 * THUMB, THUMB)
    face = Engine.load(str(weights_json), "cpu")
    make_samples(face, find_pairs(make_dataset(tmp_path / "faces", 1, SIZE, 4)), 1, tmp_path / "face_samples")
    assert Image.open(tmp_path / "face_samples" / "style_01.png").size == (THUMB, THUMB)
