"""Photo edits: the result is the user's photo at its own size, changed only where edited."""

import zipfile

import cv2
import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.editor.document import Document
from models.data.framing import Framing
from models.inference.composite import PhotoEdit, composite, edge_fade, restyled_classes, soft_mask, start_edit
from models.inference.engine import Engine
from models.inference.styles import StyleMatrix
from tests.helpers import SIZE, toy_mask, toy_photo


def big_photo(seed: int = 0, shape=(90, 140)) -> np.ndarray:
    """A photo larger than the model's square, not square, with detail everywhere."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (*shape, 3), dtype=np.uint8)


def toy_edit(photo: np.ndarray) -> PhotoEdit:
    h, w = photo.shape[:2]
    return PhotoEdit(photo, Framing(30.0, 10.0, 64.0, True), toy_mask(), "photo")


def test_the_photos_own_style_gives_back_the_photo_bit_for_bit():
    photo = big_photo()
    edit = toy_edit(photo)
    synthesis = toy_photo(toy_mask())
    out = composite(edit, toy_mask(), synthesis, synthesis, np.zeros(4, bool))
    assert np.array_equal(out, photo)


def test_a_restyled_region_changes_there_and_nowhere_else():
    photo = big_photo()
    edit = toy_edit(photo)
    base = toy_photo(toy_mask())
    edited = base.copy()
    edited[toy_mask() == 1] = 255 - edited[toy_mask() == 1]  # skin restyled
    restyled = np.array([False, True, False, False])
    out = composite(edit, toy_mask(), base, edited, restyled)
    changed = (out != photo).any(-1)
    # the skin rectangle of the toy mask is model pixels 8..24 of the 64 px box at (30, 10): photo 46..78 x, 26..58 y
    assert changed[30:54, 50:74].mean() > 0.9
    seam = 2 * max(1.5, 0.02 * 64) + 2
    outside = np.ones_like(changed)
    outside[int(26 - seam) : int(58 + seam), int(46 - seam) : int(78 + seam)] = False
    assert not changed[outside].any()  # bit-identical beyond the seam
    assert out.shape == photo.shape


def test_a_change_of_style_keeps_the_photos_detail():
    """The change is added to the photo, so its texture survives under the new colour."""
    photo = big_photo()
    edit = toy_edit(photo)
    base = toy_photo(toy_mask())
    edited = np.clip(base.astype(int) + 40, 0, 255).astype(np.uint8)  # everything 40 brighter
    out = composite(edit, toy_mask(), base, edited, np.ones(4, bool))
    inner = (slice(30, 54), slice(50, 74))
    difference = out[inner].astype(int) - photo[inner].astype(int)
    kept = photo[inner].max(-1) < 120  # below the shoulder that bends the highlights under white
    assert np.abs(difference[kept] - 40).mean() < 3  # the detail moved by the change, no more


def textured_photo(shape=(90, 140), seed: int = 3) -> np.ndarray:
    """Mid-grey with fine detail everywhere (strands, pores), away from clipping."""
    rng = np.random.default_rng(seed)
    return np.clip(110 + rng.normal(0, 18, (*shape, 3)), 0, 255).astype(np.uint8)


def test_a_restyle_is_a_colour_map_of_the_photos_own_detail_and_leaves_the_models_speckle():
    """The synthesis's change is a colour change plus the model's own speckle; the photo
    takes the colour change on its own pixels and none of the speckle."""
    photo = textured_photo()
    edit = toy_edit(photo)
    mask = toy_mask()
    base = np.full((SIZE, SIZE, 3), 110, np.uint8)  # the model's picture of the photo
    edited = base.copy()
    skin = mask == 1
    rng = np.random.default_rng(0)
    speckle = rng.integers(-40, 41, (int(skin.sum()), 3))
    edited[skin] = np.clip(np.array([180, 120, 60]) + speckle, 0, 255)  # a new colour, noisily drawn
    out = composite(edit, mask, base, edited, np.array([False, True, False, False]))
    inner = (slice(32, 52), slice(52, 72))  # deep inside the skin
    mean = out[inner].reshape(-1, 3).mean(0)
    assert np.abs(mean - [180, 120, 60]).max() < 12  # the colour reached
    detail = lambda im: (im[inner].astype(float) - cv2.blur(im, (5, 5))[inner]).ravel()
    assert np.corrcoef(detail(out), detail(photo))[0, 1] > 0.9  # the photo's own detail kept


def test_a_restyled_region_goes_on_past_the_square_where_the_wider_parse_and_colour_find_it():
    from models.inference.composite import Surround

    photo = textured_photo((120, 140))
    photo[:, :, 0] = np.clip(photo[:, :, 0].astype(int) + 60, 0, 255)  # reddish "skin" everywhere
    photo[:40] = 30 + photo[:40] // 8  # a dark band at the top: background
    framing = Framing(40.0, 20.0, 64.0, True)
    mask = toy_mask()
    mask[:, :] = np.where(mask == 0, 1, mask)  # skin to the square's edges ...
    mask[:8] = 0  # ... background at its top
    wide = framing.widened(2.0)
    wide_mask = np.ones((SIZE, SIZE), np.uint8)  # the wider parse: skin all round
    edit = PhotoEdit(photo, framing, mask, "photo", surround=Surround(wide, wide_mask))
    base = np.full((SIZE, SIZE, 3), 120, np.uint8)
    edited = base.copy()
    edited[mask == 1] = (60, 150, 60)
    out = composite(edit, mask, base, edited, np.array([False, True, False, False]))
    changed = (out != photo).any(-1)
    # the wider parse covers x 8..136, y -12..116; the square x 40..104, y 20..84
    assert changed[92:110, 110:130].mean() > 0.99  # skin past the square's corner
    assert changed[60:110, 12:35].mean() > 0.99  # and to its left
    assert not changed[118:].any() and not changed[:, :6].any()  # beyond the wider parse
    assert not changed[:15].any()  # the dark band is not skin by colour


def test_a_region_past_the_square_takes_its_whole_new_colour_up_to_where_it_ends():
    """Past the square, a region that colour is fairly sure of takes all of its new
    colour, as it does in the square, up to a ramp's width from where it ends: not a
    blend of old and new that lightens hair over the shoulders, nor one that fades three
    seams in from the region's edge."""
    from models.inference.composite import SURE, Surround, seam_of, sureness

    assert sureness(np.array([0.4, 0.5]))[1] == 0 and sureness(np.array([SURE, 0.95])).min() == 1
    values = sureness(np.linspace(0.5, SURE, 20))
    assert (np.diff(values) > 0).all()
    rng = np.random.default_rng(8)
    photo = np.clip(rng.normal(110, 12, (120, 140, 3)), 0, 255).astype(np.uint8)
    photo[:, :, 0] = np.clip(photo[:, :, 0].astype(int) + 60, 0, 255)
    framing = Framing(40.0, 20.0, 64.0, True)
    mask = np.ones((SIZE, SIZE), np.uint8)
    photo[:, :24] = (30, 40, 120)  # a blue wall left of the skin, past the square
    wide = framing.widened(2.0)  # x 8..136, 4 photo px per model px
    wide_mask = mask.copy()
    wide_mask[:, :4] = 0  # the wall: photo x 8..24
    edit = PhotoEdit(photo, framing, mask, "photo", surround=Surround(wide, wide_mask))
    base = np.full((SIZE, SIZE, 3), 120, np.uint8)
    edited = base.copy()
    edited[:] = (60, 150, 60)
    out = composite(edit, mask, base, edited, np.array([False, True, False, False]))
    change = np.abs(out.astype(int) - photo.astype(int)).sum(-1)
    inside = change[40:64, 60:84].mean()
    # the skin ends at x = 24; its ramp reaches a seam in (1.5 px), the blur that fades an
    # unsure region past the square took three seams more
    assert seam_of(edit) == 1.5
    past = change[30:80, 25:31].mean()
    assert past > 0.97 * inside
    assert not (out[:, :20] != photo[:, :20]).any()  # the wall keeps its colour


def test_skin_past_the_square_that_meets_the_neck_changes_with_its_group():
    """Below the square the wider parse says skin (a chest) where the square's last rows
    say neck: the chest is the skin group's, joined to the face through the neck, and
    neck and skin need not be told apart by colour. Once it kept its old tone behind a
    hard line where the square ends: its colour was likelier the neck's than the face's."""
    from models.inference.composite import Surround, recolour

    rng = np.random.default_rng(5)
    photo = np.clip(rng.normal(0, 6, (120, 140, 3)) + (40, 60, 150), 0, 255)  # a blue wall
    photo[20:68, 40:104] += np.array((190, 130, 115)) - (40, 60, 150)  # the face's skin
    photo[68:, 40:104] += np.array((160, 100, 80)) - (40, 60, 150)  # neck and chest, darker
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    framing = Framing(40.0, 20.0, 64.0, True)  # the square: x 40..104, y 20..84
    q = SIZE // 4
    mask = np.ones((SIZE, SIZE), np.uint8)
    mask[3 * q :] = 3  # its last quarter neck: photo y 68..84
    wide = framing.widened(2.0)  # x 8..136, y -12..116: the square is its middle half
    wide_mask = np.zeros((SIZE, SIZE), np.uint8)
    wide_mask[q : 3 * q, q : 3 * q] = mask[::2, ::2]
    wide_mask[3 * q :, q : 3 * q] = 1  # the chest below the square: skin
    edit = PhotoEdit(photo, framing, mask, "photo", surround=Surround(wide, wide_mask))
    base = np.full((SIZE, SIZE, 3), 120, np.uint8)
    edited = np.full((SIZE, SIZE, 3), (60, 150, 60), np.uint8)
    restyled = np.array([False, True, False, True])
    out = recolour(edit, base, edited, restyled, groups=((1, 3),))
    change = np.abs(out.astype(int) - photo.astype(int)).sum(-1)
    inside = change[72:82, 50:95].mean()  # the neck
    assert change[92:110, 50:95].mean() > 0.9 * inside  # the chest below the square
    assert change[86:90, 50:95].mean() > 0.9 * inside  # no line where the square ends
    assert change[30:60, 10:30].max() == 0  # the wall


def test_skin_past_the_square_fades_where_the_square_calls_it_something_else():
    """The wider parse says skin where the square's own parse says background (its left
    half: a shoulder the square misread): skin past the square beside it fades out
    towards it instead of ending on the square's straight edge."""
    from models.inference.composite import Surround, recolour

    rng = np.random.default_rng(6)
    photo = np.clip(rng.normal(0, 6, (120, 140, 3)) + (200, 140, 120), 0, 255).astype(np.uint8)
    framing = Framing(40.0, 20.0, 64.0, True)  # the square: x 40..104, y 20..84
    q = SIZE // 4
    mask = np.ones((SIZE, SIZE), np.uint8)
    mask[:, : 2 * q] = 0  # its left half background (x 40..72)
    wide = np.ones((SIZE, SIZE), np.uint8)  # the wider parse: skin all round
    edit = PhotoEdit(photo, framing, mask, "photo", surround=Surround(framing.widened(2.0), wide))
    base = np.full((SIZE, SIZE, 3), 120, np.uint8)
    edited = np.full((SIZE, SIZE, 3), (60, 150, 60), np.uint8)
    out = recolour(edit, base, edited, np.array([False, True, False, False]), shaded=(1,))
    change = np.abs(out.astype(int) - photo.astype(int)).sum(-1)
    full = change[40:64, 80:100].mean()
    assert change[100:112, 90:100].mean() > 0.9 * full  # below the square, away from the misread half
    assert change[30:70, 36:40].mean() < 0.3 * full  # beside it: faded, no straight edge of full change
    assert change[30:70, 8:14].mean() > change[30:70, 36:40].mean()  # rising away from it


def test_a_square_reaching_the_photos_edge_changes_its_last_rows_as_the_rest():
    """A square that reaches just past the photo's bottom, on a grid smaller than the
    photo: the grid's last row lies past the square's last pixel, where the local colour
    maps were sampled with a zero border and drew the region towards black there (photo
    3's chest: a dark, reddened last row)."""
    from models.inference.composite import RegionGrid, Surround, inner_edges, recolour

    rng = np.random.default_rng(7)
    photo = np.clip(rng.normal(0, 6, (850, 900, 3)) + (190, 130, 115), 0, 255).astype(np.uint8)
    framing = Framing(30.0, 40.0, 810.6, True)  # its bottom 0.6 px past the photo's
    skin = np.ones((SIZE, SIZE), np.uint8)
    edit = PhotoEdit(photo, framing, skin, "photo", surround=Surround(framing.widened(1.5), skin))
    grid = RegionGrid(edit)
    assert grid.scale < 1 and not grid.in_square[-1].any() and not inner_edges(framing, photo.shape[:2])[1]
    base = np.full((SIZE, SIZE, 3), 120, np.uint8)
    edited = np.full((SIZE, SIZE, 3), (60, 150, 60), np.uint8)
    out = recolour(edit, base, edited, np.array([False, True, False, False]))
    change = out.astype(int) - photo.astype(int)
    above = change[780:830, 200:700].reshape(-1, 3).mean(0)
    assert np.abs(change[-2:, 200:700].reshape(-1, 3).mean(0) - above).max() < 3


def test_with_the_texture_fill_off_a_painted_region_takes_the_synthesis():
    photo = np.full((90, 140, 3), 20, np.uint8)
    edit = toy_edit(photo)
    painted = toy_mask().copy()
    painted[2:8, 2:30] = 3
    edited = np.full((SIZE, SIZE, 3), 230, np.uint8)
    out = composite(edit, painted, toy_photo(toy_mask()), edited, np.zeros(4, bool), fill=None)
    assert out[10 + 10, 30 + 30].mean() > 150  # model (30, 10) -> photo (90, 30)... inside the stroke
    assert np.array_equal(out[80:, :], photo[80:, :])


def test_a_painted_shape_has_a_smooth_outline_at_the_photos_size():
    """A 32 px mask on a photo 8 times larger: a painted diagonal edge reaches the photo
    as a line (a pixel or so per row), not as the mask's 8 px stairs."""
    from models.inference.composite import ShapeMaps

    photo = np.full((SIZE * 8, SIZE * 8, 3), 120, np.uint8)
    edit = PhotoEdit(photo, Framing(0.0, 0.0, SIZE * 8.0, False), np.zeros((SIZE, SIZE), np.uint8), "photo")
    painted = edit.mask.copy()
    painted[np.add.outer(np.arange(SIZE), np.arange(SIZE)) < SIZE] = 2  # everything above the anti-diagonal
    maps = ShapeMaps.of(edit, painted, toy_photo(painted), photo.shape[:2])
    y0, x0 = maps.box[0], maps.box[2]
    rows = [r for r in range(maps.area.shape[0]) if 0 < maps.area[r].sum() < maps.area.shape[1]]
    edge = np.array([x0 + maps.area[r].sum() for r in rows])  # where each row's shape ends
    assert len(rows) > 100 and np.abs(np.diff(edge)).max() <= 2
    assert np.abs(edge + (np.array(rows) + y0) - SIZE * 8).max() <= 4  # on the line the mask drew
    assert set(np.unique(maps.labels[maps.area])) == {2}


def test_soft_masks_and_fades_are_weights():
    area = np.zeros((40, 40), bool)
    area[10:30, 10:30] = True
    w = soft_mask(area, 3)
    assert w[20, 20] == 1 and w[0, 0] == 0 and 0 < w[10, 20] < 1
    fade = edge_fade(32)
    assert fade[16, 16] == 1 and fade[0, 0] < 0.5


def test_restyled_classes_compares_every_block():
    own = StyleMatrix(np.zeros((4, 3), np.float32), np.ones(4, bool))
    other = StyleMatrix(own.codes.copy(), own.present)
    other.codes[2] = 1
    assert restyled_classes(own, [own, other]).tolist() == [False, False, True, False]


def test_scaled_edits_keep_the_framing_in_place():
    edit = toy_edit(big_photo(shape=(400, 600)))
    small = edit.scaled(150)
    assert small.original.shape[:2] == (100, 150) and small.framing.side == pytest.approx(16)
    assert small.framing.x == pytest.approx(7.5)


# -- the engine and the command line ---------------------------------------------------
@pytest.fixture
def photo_file(tmp_path):
    """A photo larger than the model, the toy face in the middle of a bigger scene."""
    photo = big_photo(3, (120, 160))
    photo[30:94, 48:112] = np.kron(toy_photo(toy_mask()), np.ones((2, 2, 1), np.uint8))
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    return path


def test_restyle_keeps_the_photos_size_and_changes_only_around_the_face(
    tmp_path, capsys, weights_json, toy_parser, photo_file, monkeypatch
):
    import models.data.framing as framing

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(59, 45, 41, 41)])  # the toy face
    style = tmp_path / "style.png"
    Image.fromarray(toy_photo(toy_mask(), seed=9)).save(style)
    out = tmp_path / "out.png"
    code = main(
        [
            "restyle",
            str(photo_file),
            "--style",
            str(style),
            "--out",
            str(out),
            "--refine",
            "0",
            "--model",
            str(weights_json),
        ]
    )  # every region the (untrained) parser found
    assert code == 0, capsys.readouterr().err
    original, result = np.asarray(Image.open(photo_file)), np.asarray(Image.open(out))
    assert result.shape == original.shape
    changed = (result != original).any(-1)
    assert 0 < changed.mean()
    # regions go on past the model's square as far as the wider parse (twice the square's
    # side, x 16..143 here) finds them; beyond it, nothing changes
    assert not changed[:, :14].any() and not changed[:, -14:].any()


def test_restyle_with_its_own_codes_returns_the_photo(tmp_path, weights_json, toy_parser, photo_file, monkeypatch):
    import models.data.framing as framing

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(59, 45, 41, 41)])
    engine = Engine.load(str(weights_json), "cpu")
    original = np.asarray(Image.open(photo_file))
    _, own, _ = start_edit(engine, original, "photo")
    own.save(tmp_path / "own.npz", "toy", engine.labels.names)
    out = tmp_path / "same.png"
    assert (
        main(
            [
                "restyle",
                str(photo_file),
                "--codes",
                str(tmp_path / "own.npz"),
                "--out",
                str(out),
                "--refine",
                "0",
                "--model",
                str(weights_json),
            ]
        )
        == 0
    )
    assert np.array_equal(np.asarray(Image.open(out)), original)


@pytest.mark.parametrize("args, reason", [(["--region", "wings"], "not a region of model"), ([], "one of them")])
def test_restyle_bad_input(tmp_path, capsys, weights_json, toy_parser, photo_file, args, reason):
    code = main(
        [
            "restyle",
            str(photo_file),
            "--out",
            str(tmp_path / "o.png"),
            "--model",
            str(weights_json),
            *(["--codes", "x.npz"] if args else []),
            *args,
        ]
    )
    assert code == 2 and reason in capsys.readouterr().err


def test_restyle_keeps_exif_and_takes_odd_photos(tmp_path, weights_json, toy_parser, monkeypatch):
    """EXIF-rotated, CMYK, 16-bit, grey and transparent photos come back at their size."""
    import models.data.framing as framing

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [])
    base = np.kron(toy_photo(toy_mask()), np.ones((2, 2, 1), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    photos = {
        "turned.jpg": (Image.fromarray(base[:, :48]), {"exif": exif}),
        "cmyk.jpg": (Image.fromarray(base).convert("CMYK"), {}),
        "grey16.png": (Image.fromarray(base[..., 0].astype(np.uint16) * 257), {}),
        "grey.png": (Image.fromarray(base[..., 0]), {}),
        "alpha.png": (Image.fromarray(np.dstack([base, np.full(base.shape[:2], 128, np.uint8)])), {}),
    }
    codes = tmp_path / "c.npz"
    Engine.load(str(weights_json), "cpu").mean_style.save(codes, "toy", ("background", "skin", "l_eye", "r_eye"))
    for name, (img, options) in photos.items():
        img.save(tmp_path / name, **options)
        out = tmp_path / f"out_{name.split('.')[0]}.jpg"
        assert (
            main(
                [
                    "restyle",
                    str(tmp_path / name),
                    "--codes",
                    str(codes),
                    "--out",
                    str(out),
                    "--refine",
                    "0",
                    "--model",
                    str(weights_json),
                ]
            )
            == 0
        ), name
        with Image.open(out) as result:
            expected = (48, 64) if name == "turned.jpg" else (64, 64)  # (h, w) as seen: turned upright
            assert result.size[::-1] == expected, name
            if name == "turned.jpg":
                assert result.getexif().get(0x010F) == "TestCam" and result.getexif().get(0x0112, 1) == 1


def test_a_project_keeps_the_original_and_renders_at_full_size(
    tmp_path, weights_json, toy_parser, photo_file, monkeypatch
):
    import models.data.framing as framing

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(59, 45, 41, 41)])
    engine = Engine.load(str(weights_json), "cpu")
    original = np.asarray(Image.open(photo_file))
    edit, own, framed = start_edit(engine, original, "photo:x", file=photo_file.read_bytes())
    from app.editor.document import Source

    doc = Document(
        "toy",
        engine.labels.names,
        edit.mask.copy(),
        {"photo:x": Source("x", own, None, "photo")},
        framed,
        photo_edit=edit,
    )
    doc.apply_source("photo:x", list(range(4)))
    doc.save(tmp_path / "p.sean")
    with zipfile.ZipFile(tmp_path / "p.sean") as z:
        assert z.read("original") == photo_file.read_bytes()  # losslessly: the file itself
    loaded = Document.load(tmp_path / "p.sean")
    assert np.array_equal(loaded.photo_edit.original, original)
    assert loaded.photo_edit.framing == edit.framing
    assert np.array_equal(loaded.sources["photo:x"].style.colours, own.colours, equal_nan=True)
    monkeypatch.setattr(Engine, "load", classmethod(lambda cls, *a, **k: engine))  # the project's model "toy"
    out = tmp_path / "render.png"
    assert main(["render", str(tmp_path / "p.sean"), "--out", str(out)]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), original)  # its own style: the photo itself


def test_render_refuses_an_edit_of_a_mask(tmp_path, capsys):
    doc = Document("toy", ("background", "skin", "l_eye", "r_eye"), toy_mask())
    doc.save(tmp_path / "m.sean")
    assert main(["render", str(tmp_path / "m.sean"), "--out", str(tmp_path / "o.png")]) == 2
    assert "did not start from a photo" in capsys.readouterr().err


# -- the editor --------------------------------------------------------------------------
def photo_window(qtbot, tmp_path, weights_json, photo_file, monkeypatch, faces: list):
    """The editor (offscreen), with `photo_file` opened as an edit and `faces` found in it."""
    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QMessageBox

    import models.data.framing as framing
    from app.editor.qt.main_window import MainWindow

    monkeypatch.setattr(framing, "detect_faces", lambda photo: faces)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: pytest.fail(f"error shown: {a[2]}"))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue("refine_photos", False)
    w = MainWindow(Engine.load(str(weights_json), "cpu"), settings, separate_process=False, data_folder=tmp_path)
    qtbot.addWidget(w)
    w.files.open_photo(str(photo_file))
    qtbot.waitUntil(lambda: w.doc.photo_edit is not None, timeout=10000)
    return w


def test_the_editor_shows_and_exports_the_whole_photo(
    qtbot, tmp_path, weights_json, toy_parser, photo_file, monkeypatch
):
    from tests.test_editor import settle

    w = photo_window(qtbot, tmp_path, weights_json, photo_file, monkeypatch, [(59, 45, 41, 41)])
    settle(qtbot, w)
    original = np.asarray(Image.open(photo_file))
    assert np.array_equal(w.result, original)  # its own style: the photo, at its own size
    w.styles.drop_style("mean", int(w.doc.mask[16, 16]), all_regions=True)  # the training set's mean style
    settle(qtbot, w)
    assert w.result.shape == original.shape and not np.array_equal(w.result, original)
    assert np.array_equal(w.result[:, :14], original[:, :14])  # beyond the wider parse: untouched
    w.files.export_photo(str(tmp_path / "out.jpg"), 90)
    qtbot.waitUntil(lambda: (tmp_path / "out.jpg").exists(), timeout=10000)
    assert Image.open(tmp_path / "out.jpg").size == (160, 120)
    w.actions.composite.trigger()  # the plain synthesis, as before
    settle(qtbot, w)
    assert w.result.shape == (SIZE, SIZE, 3)
    w.worker.stop()


def test_painting_on_a_photo_edit_changes_the_result_the_export_and_survives_recovery(
    qtbot, tmp_path, weights_json, toy_parser, photo_file, monkeypatch
):
    """The working mask is the document's own: a stroke must not repaint the photo's own
    parsed mask, or the edit never sees a changed shape (it once exported the original)."""
    from PyQt6.QtCore import Qt

    from tests.test_editor import canvas_point, settle

    w = photo_window(qtbot, tmp_path, weights_json, photo_file, monkeypatch, [(59, 45, 41, 41)])
    settle(qtbot, w)
    original = np.asarray(Image.open(photo_file))
    own_mask = w.doc.photo_edit.mask.copy()
    label = next(c for c in range(4) if not (own_mask[2:8, 2:14] == c).all())
    w.palette_list.setCurrentRow(label)
    w.canvas.radius = 3
    qtbot.mousePress(w.canvas, Qt.MouseButton.LeftButton, pos=canvas_point(w, 3, 4))
    qtbot.mouseMove(w.canvas, canvas_point(w, 13, 5))
    qtbot.mouseRelease(w.canvas, Qt.MouseButton.LeftButton, pos=canvas_point(w, 13, 5))
    settle(qtbot, w)
    assert (w.doc.mask != own_mask).any()
    assert np.array_equal(w.doc.photo_edit.mask, own_mask)  # the photo's own mask is untouched
    assert not np.array_equal(w.result, original)  # the stroke shows
    assert w.statusBar().currentMessage().startswith("Painted shapes filled at the photo's own size")
    shown = w.result.copy()
    w.files.export_photo(str(tmp_path / "out.png"))
    qtbot.waitUntil(lambda: (tmp_path / "out.png").exists(), timeout=10000)
    exported = np.asarray(Image.open(tmp_path / "out.png"))
    assert not np.array_equal(exported, original)
    assert np.array_equal(exported, shown)  # what you see is what you get
    w.doc.save(tmp_path / "p.sean")
    with zipfile.ZipFile(tmp_path / "p.sean") as z:
        assert z.read("mask.png") != z.read("photo_mask.png")
    loaded = Document.load(tmp_path / "p.sean")
    again = w.session.render_photo(loaded)
    assert np.array_equal(again, exported)  # a reopened project renders the same
    w.worker.stop()


def test_a_group_photo_opens_on_its_largest_face_and_the_next_on_request(
    qtbot, tmp_path, weights_json, toy_parser, photo_file, monkeypatch
):
    w = photo_window(qtbot, tmp_path, weights_json, photo_file, monkeypatch, [(59, 45, 41, 41), (5, 5, 30, 30)])
    first = w.doc.photo_edit.framing
    assert "face 1 of 2" in w.statusBar().currentMessage()
    w.files.open_next_face()
    qtbot.waitUntil(lambda: w.doc.photo_edit is not None and w.doc.photo_edit.framing != first, timeout=10000)
    assert w.doc.face == 1 and w.doc.photo_edit.framing.side < first.side
    w.worker.stop()


def test_a_photo_without_a_face_is_edited_on_its_centre_square(tmp_path, weights_json, toy_parser, monkeypatch):
    import models.data.framing as framing

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [])
    engine = Engine.load(str(weights_json), "cpu")
    edit, _, _ = start_edit(engine, big_photo(shape=(100, 160)), "p")
    assert not edit.framing.found_face and (edit.framing.x, edit.framing.y, edit.framing.side) == (30, 0, 100)


def test_a_face_at_the_border_frames_past_the_edge_and_still_composites(weights_json, toy_parser, monkeypatch):
    import models.data.framing as framing

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(0, 0, 40, 40)])  # in the corner
    engine = Engine.load(str(weights_json), "cpu")
    photo = big_photo(shape=(100, 160))
    edit, own, _ = start_edit(engine, photo, "p")
    assert edit.framing.x < 0 and edit.framing.y < 0  # reaches past the edges
    from models.inference.composite import render_edit

    out = render_edit(engine, edit, edit.mask, [engine.mean_style], own)
    assert out.shape == photo.shape and np.array_equal(out[60:, 100:], photo[60:, 100:])


def test_a_street_photo_is_edited_through_the_stretched_framing(tmp_path, scene_json):
    """A scene model sees the whole photo stretched to its square: the edit comes back at
    the photo's own (wide) size, changed only in the restyled class."""
    rng = np.random.default_rng(5)
    photo = rng.integers(0, 256, (48, 96, 3), dtype=np.uint8)
    mask = np.zeros((48, 96), np.uint8)
    mask[:16] = 1  # sky
    mask[30:, 40:70] = 2  # a car
    Image.fromarray(photo).save(tmp_path / "street.png")
    Image.fromarray(mask).save(tmp_path / "street_mask.png")
    engine = Engine.load(str(scene_json), "cpu")
    random = engine.random_style(np.random.default_rng(1))
    random.save(tmp_path / "r.npz", "street", engine.labels.names)
    out = tmp_path / "out.png"
    assert (
        main(
            [
                "restyle",
                str(tmp_path / "street.png"),
                "--mask",
                str(tmp_path / "street_mask.png"),
                "--codes",
                str(tmp_path / "r.npz"),
                "--region",
                "car",
                "--out",
                str(out),
                "--refine",
                "0",
                "--model",
                str(scene_json),
            ]
        )
        == 0
    )
    result = np.asarray(Image.open(out))
    changed = (result != photo).any(-1)
    # (a toy network: some of its small changes round away)
    assert result.shape == photo.shape and changed[34:, 48:62].mean() > 0.5
    assert not changed[:20].any() and not changed[:, :30].any()  # sky and the road far from the car


def test_restyle_refuses_a_photo_over_the_pixel_limit(tmp_path, capsys, weights_json):
    from tests.test_cli import huge_png

    code = main(
        [
            "restyle",
            str(huge_png(tmp_path / "huge.png", 12000, 12000)),
            "--codes",
            "c.npz",
            "--out",
            str(tmp_path / "o.png"),
            "--model",
            str(weights_json),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "120 megapixels at most" in err and len(err.strip().splitlines()) == 1


def test_zooming_the_result_reaches_the_photos_own_pixels(qtbot, tmp_path, weights_json):
    from PyQt6.QtCore import QSettings

    from app.editor.qt.main_window import MainWindow

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    w = MainWindow(Engine.load(str(weights_json), "cpu"), settings, separate_process=False, data_folder=tmp_path)
    qtbot.addWidget(w)
    w.resize(1000, 600)
    w.doc.photo_edit = PhotoEdit(np.zeros((3000, 4000, 3), np.uint8), Framing(1000, 500, 2000, True), toy_mask(), "p")
    fitted = w.preview_side()
    assert 512 <= fitted <= 1600
    w.result_view.set_zoom(16)
    assert w.preview_side() == 4000  # every pixel of the photo, when zoomed in far enough
    w.doc.photo_edit = None
    w.worker.stop()


def test_restyle_regions_take_their_group_unless_alone():
    from types import SimpleNamespace

    from app.cli.photo import region_ids
    from models.data.files import InputError
    from tests.helpers import TOY

    engine = SimpleNamespace(labels=TOY, info=SimpleNamespace(model="toy"))
    assert region_ids(engine, ["l_eye"]) == [2, 3]  # both eyes, as a drop takes them
    assert region_ids(engine, ["l_eye"], alone=True) == [2]
    assert region_ids(engine, []) == [0, 1, 2, 3]
    with pytest.raises(InputError, match="not a region"):
        region_ids(engine, ["nose"])


def test_region_list_arguments_must_name_something(capsys, weights_json):
    code = main(
        ["restyle", "p.jpg", "--codes", "c.npz", "--out", "o.png", "--region", ",", "--model", str(weights_json)]
    )
    assert code == 2 and "names nothing" in capsys.readouterr().err


def test_the_region_panel_changes_the_group_or_one_region_alone(qtbot):
    from app.editor.qt.panels import RegionPanel
    from tests.helpers import TOY

    doc = Document("toy", TOY.names, toy_mask())
    panel = RegionPanel()
    qtbot.addWidget(panel)
    panel.show_region(doc, 2, TOY.group_of(2))
    assert panel.targets() == [2, 3] and "with right eye" in panel.title.text()
    panel.alone.setChecked(True)
    assert panel.targets() == [2]


def test_the_memo_keeps_a_value_while_its_key_stays_the_same():
    from app.editor.memo import Memo

    memo, made = Memo(), []
    make = lambda: made.append(1) or len(made)
    mask, edit = np.zeros((4, 4), np.uint8), object()
    assert memo.get((edit, mask, 2), make) == 1
    assert memo.get((edit, mask.copy(), 2), make) == 1  # equal arrays, the same object
    mask[0, 0] = 1  # painted in place: a new key
    assert memo.get((edit, mask, 2), make) == 2
    assert memo.get((object(), mask, 2), make) == 3  # another object: by identity
    assert memo.get((edit, mask, 2.0), make) == 4  # another type


def test_painting_a_restyled_photo_edit_recolours_once_per_style_change(
    tmp_path, weights_json, toy_parser, monkeypatch
):
    """The recolouring depends on the styles alone: strokes reuse it (a frame stays fast)."""
    import models.data.framing as framing
    from app.editor import session as session_module
    from app.editor.session import EditorSession

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(59, 45, 41, 41)])
    engine = Engine.load(str(weights_json), "cpu")
    session = EditorSession(engine)
    photo = toy_photo(toy_mask(90), seed=4)
    edit, own, framed = start_edit(engine, np.ascontiguousarray(np.pad(photo, ((0, 0), (30, 30), (0, 0)))), "p")
    from app.editor.document import Source

    doc = Document("toy", engine.labels.names, edit.mask, {"p": Source("p", own)}, framed, photo_edit=edit)
    doc.apply_source("p", list(range(4)))
    present = [int(c) for c in np.unique(edit.mask)]
    doc.apply_source("mean", present[:1])  # a region the parse found, restyled
    calls = []
    real = session_module.recolour
    monkeypatch.setattr(session_module, "recolour", lambda *a: calls.append(1) or real(*a))
    styles = doc.styles_per_block(engine.mean_style)
    frames = []
    for stroke in range(3):
        doc.mask[2:4, 2 + stroke : 6 + stroke] = 2
        doc.commit_mask()
        finish = session.frame_pipeline(doc, doc.styles_per_block(engine.mean_style))
        frames.append(finish(engine.synthesize(doc.mask, styles)))
    assert len(calls) == 1 and frames[0].shape == edit.original.shape
    doc.apply_source("mean", present)  # a style change: recoloured again
    session.frame_pipeline(doc, doc.styles_per_block(engine.mean_style))(engine.synthesize(doc.mask, styles))
    assert len(calls) == 2


def test_hand_adjustments_are_affine_colour_maps_with_checked_ranges():
    from models.inference.recolour import ColourAdjust

    rgb = np.array([0.8, 0.3, 0.2])
    m, t = ColourAdjust().affine()
    assert np.allclose(m @ rgb + t, rgb)
    m, t = ColourAdjust(saturation=-1).affine()
    grey = m @ rgb + t
    assert np.allclose(grey, grey[0])  # no colour left
    m, t = ColourAdjust(hue=180).affine()
    turned = m @ rgb + t
    assert turned[2] > turned[0]  # red-orange turns blue-ish
    m, t = ColourAdjust(lightness=1).affine()
    assert np.allclose(m @ rgb + t, 1)
    for bad in (dict(hue=181), dict(saturation=np.nan), dict(lightness=-1.5)):
        with pytest.raises(ValueError):
            ColourAdjust(**bad)


def test_a_hand_adjusted_region_changes_there_undoes_and_is_kept_in_projects(
    tmp_path, weights_json, toy_parser, photo_file, monkeypatch
):
    from dataclasses import replace

    import models.data.framing as framing
    from app.editor.document import Source
    from app.editor.session import EditorSession
    from models.inference.recolour import ColourAdjust

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(59, 45, 41, 41)])
    engine = Engine.load(str(weights_json), "cpu")
    original = np.asarray(Image.open(photo_file))
    edit, own, framed = start_edit(engine, original, "p", file=photo_file.read_bytes())
    doc = Document("toy", engine.labels.names, edit.mask, {"p": Source("p", own)}, framed, photo_edit=edit)
    doc.apply_source("p", list(range(4)))
    label = int(np.bincount(edit.mask.ravel()).argmax())
    session = EditorSession(engine)
    before = session.render_photo(doc)
    assert np.array_equal(before, original)
    doc.set_regions({label: replace(doc.regions[label], adjust=ColourAdjust(hue=90, saturation=0.5))})
    adjusted = session.render_photo(doc)
    changed = (adjusted != original).any(-1)
    assert changed.mean() > 0.05
    doc.save(tmp_path / "p.sean")
    assert np.array_equal(session.render_photo(Document.load(tmp_path / "p.sean")), adjusted)
    doc.undo()
    assert np.array_equal(session.render_photo(doc), original)


def test_an_edit_of_a_mask_takes_its_hand_adjustments_in_the_frame(weights_json):
    from dataclasses import replace

    from app.editor.session import EditorSession
    from models.inference.recolour import ColourAdjust

    engine = Engine.load(str(weights_json), "cpu")
    session = EditorSession(engine)
    doc = session.new_document(toy_mask())
    styles = doc.styles_per_block(engine.mean_style)
    assert session.frame_pipeline(doc, styles).steps == ()
    doc.set_regions({1: replace(doc.regions[1], adjust=ColourAdjust(lightness=1))})
    frame = engine.synthesize(doc.mask, styles)
    pipeline = session.frame_pipeline(doc, doc.styles_per_block(engine.mean_style))
    assert pipeline.names == ("adjust",)
    out = pipeline(frame)
    assert (out[doc.mask == 1] == 255).all() and np.array_equal(out[doc.mask != 1], frame[doc.mask != 1])


def test_the_region_panel_sets_a_hand_adjustment_for_the_group(qtbot):
    from app.editor.qt.panels import RegionPanel
    from tests.helpers import TOY

    doc = Document("toy", TOY.names, toy_mask())
    panel = RegionPanel()
    qtbot.addWidget(panel)
    panel.show_region(doc, 2, TOY.group_of(2))
    changes = []
    panel.changed.connect(changes.append)
    panel.adjusters["hue"].setValue(45)
    assert set(changes[-1]) == {2, 3} and changes[-1][3].adjust.hue == 45


def test_restyle_sets_a_colour_by_hand(tmp_path, capsys, weights_json, toy_parser, photo_file, monkeypatch):
    import models.data.framing as framing

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(59, 45, 41, 41)])
    out = tmp_path / "out.png"
    code = main(
        ["restyle", str(photo_file), "--hue", "120", "--out", str(out), "--refine", "0", "--model", str(weights_json)]
    )
    assert code == 0, capsys.readouterr().err
    assert (np.asarray(Image.open(out)) != np.asarray(Image.open(photo_file))).any()
    assert main(["restyle", str(photo_file), "--hue", "nan", "--out", str(out), "--model", str(weights_json)]) == 2
    assert main(["restyle", str(photo_file), "--out", str(out), "--model", str(weights_json)]) == 2
    assert "by hand" in capsys.readouterr().err


def test_the_result_pane_shows_the_photo_as_it_was_while_before_is_on(
    qtbot, tmp_path, weights_json, toy_parser, photo_file, monkeypatch
):
    from tests.test_editor import settle

    w = photo_window(qtbot, tmp_path, weights_json, photo_file, monkeypatch, [(59, 45, 41, 41)])
    settle(qtbot, w)
    original = np.asarray(Image.open(photo_file))
    w.styles.drop_style("mean", int(w.doc.mask[16, 16]), all_regions=True)
    settle(qtbot, w)
    import qimage2ndarray

    shown = lambda: qimage2ndarray.rgb_view(w.result_view.qimage)
    assert not np.array_equal(shown(), original)
    w.actions.before.trigger()
    assert np.array_equal(shown(), original)
    w.actions.before.trigger()
    assert np.array_equal(shown(), w.result)
    w.worker.stop()


def test_a_jpegs_own_quality_is_read_and_an_edit_of_it_is_saved_at_it(tmp_path, weights_json, toy_parser, monkeypatch):
    import io

    import models.data.framing as framing
    from models.data.files import jpeg_quality

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(59, 45, 41, 41)])
    photo = big_photo(shape=(120, 160))
    for q in (40, 83, 97):
        buf = io.BytesIO()
        Image.fromarray(photo).save(buf, "JPEG", quality=q)
        assert jpeg_quality(io.BytesIO(buf.getvalue())) == q
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "PNG")
    assert jpeg_quality(io.BytesIO(buf.getvalue())) is None
    Image.fromarray(photo).save(tmp_path / "p.jpg", quality=83)
    assert (
        main(
            [
                "restyle",
                str(tmp_path / "p.jpg"),
                "--hue",
                "30",
                "--out",
                str(tmp_path / "o.jpg"),
                "--refine",
                "0",
                "--model",
                str(weights_json),
            ]
        )
        == 0
    )
    assert jpeg_quality(tmp_path / "o.jpg") == 83


def test_the_view_is_the_exports_pipeline_with_a_look_too(tmp_path, weights_json, toy_parser, monkeypatch):
    """A frame composited at the photo's own size is the export, look and all: the look
    works at the size the export gives it, scaled with the view (once, the view
    ran it at 192 px and the export at 384: a fringe looked pale on screen, white exported)."""
    import models.data.framing as framing
    from app.editor.document import Source
    from app.editor.session import EditorSession

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(177, 135, 123, 123)])
    engine = Engine.load(str(weights_json), "cpu")
    photo = cv2.resize(big_photo(3, (120, 160)), (480, 360), interpolation=cv2.INTER_CUBIC)
    edit, own, framed = start_edit(engine, photo, "p")
    doc = Document("toy", engine.labels.names, edit.mask, {"p": Source("p", own)}, framed, photo_edit=edit)
    doc.apply_source("p", list(range(4)))
    doc.apply_source("mean", [int(np.bincount(edit.mask.ravel()).argmax())])
    session = EditorSession(engine)
    Image.fromarray(toy_photo(toy_mask(48), seed=7)).save(tmp_path / "look.png")
    doc.set_look(session.look_from_photo(str(tmp_path / "look.png")))
    styles = doc.styles_per_block(engine.mean_style)
    frame = session.frame_pipeline(doc, styles, max_side=480)
    assert frame.names == ("composite", "look")
    shown = frame(engine.synthesize(doc.mask, styles))
    assert np.array_equal(shown, session.render_photo(doc))
    # the restyled region keeps the edit's colours under the look; the others take it
    restyled_class = int(np.bincount(edit.mask.ravel()).argmax())
    import app.editor.session as session_module

    kept = []
    real = session_module.stylize
    monkeypatch.setattr(
        session_module, "stylize", lambda *a, keep=frozenset(), **k: kept.append(keep) or real(*a, keep=keep, **k)
    )
    session.frame_pipeline(doc, styles, max_side=480)(engine.synthesize(doc.mask, styles))
    assert kept[-1] == {restyled_class}


def test_a_paused_view_shows_the_exports_fill_and_the_export_keeps_it(tmp_path, weights_json, toy_parser, monkeypatch):
    """When painting pauses the view asks for the painted shapes filled as the export fills
    them, at the photo's size, and shows that scaled to the view: what is on screen is the
    export, and the export takes what was made for the view. A newer frame gives it up
    between sweeps and nothing is kept; the next stroke grows from what was shown."""
    import app.editor.session as session_module
    import models.data.framing as framing
    from app.editor.document import Source
    from app.editor.session import EditorSession
    from models.inference.texture_fill import Interrupted

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(177, 135, 123, 123)])
    engine = Engine.load(str(weights_json), "cpu")
    photo = cv2.resize(big_photo(3, (120, 160)), (480, 360), interpolation=cv2.INTER_CUBIC)
    edit, own, framed = start_edit(engine, photo, "p")
    doc = Document("toy", engine.labels.names, edit.mask, {"p": Source("p", own)}, framed, photo_edit=edit)
    painted = edit.mask.copy()
    painted[12:20, 6:16] = next(c for c in range(4) if not (edit.mask[12:20, 6:16] == c).all())
    doc.set_mask(painted)
    doc.commit_mask()
    session = EditorSession(engine)
    styles = doc.styles_per_block(engine.mean_style)
    synthesis = engine.synthesize(doc.mask, styles)
    settled = session.frame_pipeline(doc, styles, max_side=240)(synthesis)
    with pytest.raises(Interrupted):  # a newer frame waits: given up, nothing kept
        session.frame_pipeline(doc, styles, max_side=240, superseded=lambda: True, photo_size=True)(synthesis)
    made, real = [], session_module.composite
    monkeypatch.setattr(session_module, "composite", lambda *a, **k: made.append(a[0].original.shape) or real(*a, **k))
    shown = session.frame_pipeline(doc, styles, max_side=240, superseded=lambda: False, photo_size=True)(synthesis)
    assert made == [photo.shape]  # made at the photo's own size
    assert shown.shape == settled.shape
    exported = session.render_photo(doc)
    assert made == [photo.shape]  # the export took the one made for the view
    assert np.array_equal(shown, cv2.resize(exported, (240, 180), interpolation=cv2.INTER_AREA))
    # the next stroke (a dab far from the shape) keeps the shown fill, not the settled one
    painted[28:30, 28:30] = painted[12, 6]
    doc.set_mask(painted)
    stroke = session.frame_pipeline(doc, styles, max_side=240, stroke=True)(engine.synthesize(doc.mask, styles))
    finer = (shown != settled).any(-1)  # where the photo-size composite differs from the view's own
    assert finer.sum() > 50
    as_shown, as_settled = ((stroke[finer] == p[finer]).all(-1).mean() for p in (shown, settled))
    assert as_shown > 0.5 > as_settled  # only the box around the new dab is made again


def test_slider_values_show_what_the_document_holds(qtbot):
    from app.editor.qt.panels import LookPanel

    panel = LookPanel()
    qtbot.addWidget(panel)
    panel.show_look(None)
    assert panel.slider.value() == 100
    shown = [w.text() for w in panel.findChildren(__import__("PyQt6.QtWidgets", fromlist=["QLabel"]).QLabel)]
    assert "100%" in shown


def test_a_restyle_from_a_photo_takes_that_photos_colours_of_the_region():
    """The model's synthesis of a new style is a few Lab units off the style photo; where
    the style knows the style photo's colours of a region, the region ends with them
    (its mean and spread), and keeps the photo's own detail."""
    from models.inference.composite import recolour
    from models.inference.styles import region_colours

    photo = textured_photo()
    edit = toy_edit(photo)
    mask = toy_mask()
    base = np.full((SIZE, SIZE, 3), 110, np.uint8)
    edited = base.copy()
    edited[mask == 1] = [150, 110, 90]  # the model's (wrong) idea of the style
    style_photo = np.full((SIZE, SIZE, 3), 110, np.uint8)
    style_photo[mask == 1] = [200, 60, 40]  # what the style photo's skin really is
    style_photo = np.clip(style_photo + np.random.default_rng(1).normal(0, 10, style_photo.shape), 0, 255)
    targets = region_colours(style_photo.astype(np.uint8), mask, 4)
    restyled = np.array([False, True, False, False])
    inner = (slice(32, 52), slice(52, 72))
    model_only = recolour(edit, base, edited, restyled)[inner].reshape(-1, 3).mean(0)
    anchored_out = recolour(edit, base, edited, restyled, targets=targets)
    anchored = anchored_out[inner].reshape(-1, 3).mean(0)
    assert np.abs(model_only - [150, 110, 90]).max() < 10  # without: the model's colour
    assert np.abs(anchored - [200, 60, 40]).max() < 10  # with: the style photo's
    luma = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(float)
    detail = lambda im: (luma(im) - cv2.blur(luma(im), (5, 5)))[inner].ravel()
    assert np.corrcoef(detail(anchored_out), detail(photo))[0, 1] > 0.95  # the photo's own light and texture
    unknown = targets.copy()
    unknown[1] = np.nan  # a class the style photo lacked
    assert np.array_equal(
        recolour(edit, base, edited, restyled, targets=unknown), recolour(edit, base, edited, restyled)
    )


def test_a_shaded_region_keeps_its_light_scaled_by_its_new_tone():
    """Skin's lightness is mostly the light on it: a new skin tone from a photo with other
    light keeps the photo's own shading, scaled as the tone's lightness is (not the
    model's or the style photo's spread of light: once a jaw turned dark, a cheek flat).
    A region that is not shaded (hair's strands) keeps the model's spread."""
    from models.inference.composite import recolour
    from models.inference.styles import region_colours

    photo = np.repeat(textured_photo()[..., :1], 3, -1)  # light and shade only, no colour noise to clip
    edit = toy_edit(photo)
    mask = toy_mask()
    base = np.full((SIZE, SIZE, 3), 110, np.uint8)
    edited = base.copy()
    edited[mask == 1] = [150, 110, 90]
    style_photo = np.full((SIZE, SIZE, 3), 110, np.uint8)
    tone = np.array([120, 60, 40], float)  # darker than the photo's skin, in a harsh light
    light = np.random.default_rng(1).normal(1, 0.4, (SIZE, SIZE, 1))
    style_photo[mask == 1] = np.clip(tone * light, 0, 255)[mask == 1]
    targets = region_colours(style_photo, mask, 4)
    restyled = np.array([False, True, False, False])
    inner = (slice(40, 54), slice(52, 72))  # skin below the eyes, which keep their own light
    luma = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(float)[inner]
    shaded = recolour(edit, base, edited, restyled, targets=targets, shaded=(1,))
    ratio = luma(shaded).mean() / luma(photo).mean()
    assert ratio < 0.9  # darker, as the tone is
    assert luma(shaded).std() / luma(photo).std() == pytest.approx(ratio, rel=0.1)  # the photo's light, scaled
    unshaded = recolour(edit, base, edited, restyled, targets=targets)
    assert abs(luma(unshaded).std() / luma(photo).std() - ratio) > 0.1  # the model's spread instead


def test_a_styles_colours_follow_it_through_files_mixes_and_refinement(tmp_path, weights_json):
    from models.inference.styles import blended_colours, mixed_colours

    engine = Engine.load(str(weights_json), "cpu")
    mask = toy_mask()
    style = engine.encode(toy_photo(mask), mask)
    known = np.isfinite(style.colours).all(1)
    assert known[1] and not np.isfinite(style.colours[3]).any()  # the eye has too few pixels at 32 px
    assert np.allclose(style.colours[1, :3], toy_photo(mask)[mask == 1].mean(0) / 255, atol=0.02)
    style.save(tmp_path / "s.npz", engine.info.model, engine.labels.names)
    cfg = engine.info.config
    back = StyleMatrix.load(tmp_path / "s.npz", cfg.num_classes, cfg.style_dim)
    assert np.array_equal(back.colours, style.colours, equal_nan=True)
    refined = engine.encode(toy_photo(mask), mask, refine_steps=2)
    assert np.array_equal(refined.colours, style.colours, equal_nan=True)
    filled = StyleMatrix(style.codes, np.array([False, True, True, True]), style.colours).filled_from(engine.mean_style)
    assert not np.isfinite(filled.colours[0]).any()  # the mean style has no photo behind it
    a, b = style.colours[1], np.full(12, 0.5, np.float32)
    assert np.array_equal(mixed_colours(a, b, 0), a) and np.array_equal(mixed_colours(a, b, 1), b)
    assert np.allclose(mixed_colours(a, b, 0.5), (a + b) / 2)
    assert np.allclose(blended_colours([style, back])[1], style.colours[1])


@pytest.mark.parametrize(
    "colours, reason",
    [
        (np.zeros((3, 12)), "shape"),
        (np.full((4, 12), 2.0), "outside"),
        (np.concatenate([np.full((4, 1), np.nan), np.zeros((4, 11))], 1), "missing"),
        (np.full((4, 12), np.inf), "infinite"),
        (np.array(["a"] * 48).reshape(4, 12), "wrong kind"),
    ],
)
def test_colour_statistics_from_a_file_are_checked(tmp_path, colours, reason):
    from models.data.files import InputError

    path = tmp_path / "c.npz"
    np.savez(path, codes=np.zeros((4, 16), np.float32), present=np.ones(4, bool), colours=colours)
    with pytest.raises(InputError, match=reason):
        StyleMatrix.load(path, 4, 16)


def test_regions_that_took_one_style_are_recoloured_as_one():
    """Skin, nose and neck restyled together take one colour map (no seam where the model
    draws the nose apart); a nose restyled alone from another photo keeps its own."""
    from app.editor.document import RegionStyle
    from models.inference.composite import restyled_units

    groups = ((1, 2, 3),)
    assert restyled_units([1, 2, 3], groups) == [(1, 2, 3)]
    assert restyled_units([0, 2], groups) == [(0,), (2,)]
    doc = Document("toy", ("background", "skin", "l_eye", "r_eye"), toy_mask())
    assert doc.style_groups(groups) == ((1, 2, 3),)
    doc.set_regions({2: RegionStyle("photo:other")})
    assert doc.style_groups(groups) == ((1, 3), (2,))


def test_eval_edits_measures_every_method_on_held_out_photos(tmp_path, capsys, weights_json, toy_parser, monkeypatch):
    """The measurement behind the results: each method's colour distance, detail (in L* and
    in luma) and reach, and the own style giving every photo back."""
    import json

    import models.data.framing as framing
    from models.inference.parser import Parser
    from tests.helpers import make_dataset

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(40, 30, 50, 50)])
    monkeypatch.setattr(
        Parser, "parse", lambda self, photo: cv2.resize(toy_mask(), photo.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    )
    data = make_dataset(tmp_path / "set", 4, size=128, num_classes=4)
    code = main(
        [
            "lab",
            "eval-edits",
            "--model",
            str(weights_json),
            "--images",
            str(data / "images"),
            "--labels",
            str(data / "labels"),
            "--region",
            "skin",
            "--json",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    assert result["own_style_identical"] == 1.0
    for method in ("anchored", "transform", "difference", "reinhard", "gain"):
        assert {"lab_distance", "detail_correlation", "detail_correlation_luma"} <= set(result[method])
    assert result["restyled"] >= 1 and len(result["per_photo"]["anchored"]["lab_distance"]) == result["restyled"]


def test_a_photo_edit_takes_the_texture_of_a_class_it_lacks_from_a_bank(
    qtbot, tmp_path, weights_json, toy_parser, photo_file, monkeypatch
):
    """Styles > Fill from Bank on a photo edit keeps the photo's pixels: the bank only gives
    texture to painted shapes of classes the photo lacks, in the view, the export and a
    reopened project alike."""
    from models.data.bank import SegmentBank
    from models.data.datasets import find_pairs
    from tests.helpers import SIZE, TOY
    from tests.test_editor import settle
    from tests.test_sims import save_canvas_net

    w = photo_window(qtbot, tmp_path, weights_json, photo_file, monkeypatch, [(59, 45, 41, 41)])
    settle(qtbot, w)
    own_mask = w.doc.photo_edit.mask.copy()
    lacking = int(np.argmin(np.bincount(own_mask.ravel(), minlength=4)))  # the class the photo has least of
    folder = tmp_path / "bank_photos"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):  # photos full of that class, in strands
        mask = np.full((SIZE, SIZE), lacking, np.uint8)
        mask[:4] = 0 if lacking else 1
        strands = 60 * np.sin(np.add.outer(np.arange(SIZE), np.arange(SIZE)) * 1.1) + rng.normal(0, 8, (SIZE, SIZE))
        Image.fromarray(np.clip(120 + strands[..., None] * [1, 0.5, 0.2], 0, 255).astype(np.uint8)).save(
            folder / "images" / f"b{i}.png"
        )
        Image.fromarray(mask).save(folder / "labels" / f"b{i}.png")
    bank = tmp_path / "bank.npz"
    SegmentBank.build(find_pairs(folder), TOY, SIZE, w.engine.info.model).save(bank)
    save_canvas_net(weights_json.parent, w.engine.info.name, 4)
    painted = own_mask.copy()
    painted[10:22, 4:28] = lacking
    painted[own_mask == lacking] = own_mask[own_mask == lacking]
    w.doc.set_mask(painted)
    w.doc.commit_mask()
    settle(qtbot, w)
    without = w.result.copy()
    w.settings.setValue("bank_path", str(bank))
    w.banks.fill_from_bank("layout")
    qtbot.waitUntil(lambda: w.doc.bank is not None, timeout=10000)
    settle(qtbot, w)
    assert w.doc.bank.classes is None and not w.doc.bank.components
    assert not np.array_equal(w.result, without)  # the shape took the bank's texture
    w.files.export_photo(str(tmp_path / "out.png"))
    qtbot.waitUntil(lambda: (tmp_path / "out.png").exists(), timeout=10000)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), w.result)  # what you see is what you get
    w.doc.save(tmp_path / "p.sean")
    assert np.array_equal(w.session.render_photo(Document.load(tmp_path / "p.sean")), w.result)
    w.worker.stop()


def test_highlights_that_would_clip_bend_under_white_keeping_their_order_and_hue():
    from models.inference.recolour import bend_highlights

    tone = np.linspace(0, 1.3, 200, dtype=np.float32)[:, None]
    mapped = tone * np.array([1.0, 0.8, 0.6], np.float32)
    bent = bend_highlights(mapped, peak=1.3)
    assert bent.max() <= 1.0 + 1e-6  # nothing clips at the region's peak
    assert (np.diff(bent[:, 0]) > 0).all()  # every step of tone stays a step: detail kept
    np.testing.assert_allclose(bent[1:, 1] / bent[1:, 0], 0.8, atol=1e-5)  # hue kept
    dark = tone[:, 0] < 0.4
    np.testing.assert_array_equal(bent[dark], mapped[dark])  # mid-tones below the knee untouched
    # a region that never passes white is left exactly as mapped (an own-style restyle stays bit for bit)
    np.testing.assert_array_equal(bend_highlights(mapped / 1.3, peak=1.0), mapped / 1.3)


@pytest.mark.parametrize("peak", [1.5, 1.6, 2.0, 3.0])
def test_a_region_lightened_far_past_white_keeps_its_mid_tones_and_order(peak):
    """A peak whose shoulder would start below KNEE_FLOOR keeps the knee there (flatter
    shoulder, then one gain) instead of darkening the whole region by 1 / peak, and its
    curve meets the standard shoulder's where the two families meet (no jump)."""
    from models.inference.recolour import KNEE_FLOOR, SHOULDER_SLOPE, bend_highlights

    tone = np.linspace(0, peak, 400, dtype=np.float32)[:, None]
    mapped = tone * np.array([1.0, 0.7, 0.5], np.float32)
    bent = bend_highlights(mapped, peak=peak)
    assert bent.max() <= 1.0 + 1e-6
    assert (np.diff(bent[:, 0]) >= 0).all() and (np.diff(bent[: len(tone) // 2, 0]) > 0).all()
    np.testing.assert_allclose(bent[1:, 2] / bent[1:, 0], 0.5, atol=1e-5)  # hue kept
    below = tone[:, 0] < KNEE_FLOOR
    scale = min(1.0, (2 - KNEE_FLOOR) / peak)  # the gain past the flattest shoulder
    np.testing.assert_allclose(bent[below], mapped[below] * scale, rtol=1e-5)
    assert bent.mean() > 1.2 * (mapped / peak).mean()  # far lighter than one gain of 1 / peak
    # continuity: just either side of the peak where the standard knee reaches the floor
    edge = 1 + (1 - KNEE_FLOOR) * (1 - SHOULDER_SLOPE) / (1 + SHOULDER_SLOPE)
    a, b = bend_highlights(mapped, edge - 1e-4), bend_highlights(mapped, edge + 1e-4)
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_shaded_light_takes_luma_from_luma_alone_and_keeps_the_colour_rows():
    """A skin tone's new light is the old light times one gain: shaded_light's maps give
    luma from the photo's luma alone, the same gain everywhere, and leave the maps' two
    colour-difference rows as fitted."""
    from models.inference.recolour import OPPONENT, ColourMap, shaded_light

    rng = np.random.default_rng(3)
    a = np.eye(3, dtype=np.float32) + rng.normal(0, 0.2, (4, 4, 3, 3)).astype(np.float32)
    b = rng.normal(0, 0.05, (4, 4, 3)).astype(np.float32)
    a_global = np.eye(3, dtype=np.float32) * 0.8 + rng.normal(0, 0.05, (3, 3)).astype(np.float32)
    b_global = np.full(3, 0.05, np.float32)
    relit = shaded_light(ColourMap(a, b, a_global, b_global))
    luma, to_rgb = OPPONENT[0], np.linalg.inv(OPPONENT)
    gain = luma @ a_global @ to_rgb[:, 0]
    for m, m_new in ((a, relit.a), (a_global, relit.a_global)):
        np.testing.assert_allclose(luma @ m_new, np.broadcast_to(gain * luma, (luma @ m_new).shape), atol=1e-5)
        np.testing.assert_allclose(OPPONENT[1:] @ m_new, OPPONENT[1:] @ m, atol=1e-5)
    np.testing.assert_allclose(relit.b @ luma, np.full((4, 4), b_global @ luma), atol=1e-6)


def test_a_shaded_region_lightened_twofold_keeps_its_new_mean_and_fits_its_light_under_white():
    """Skin taken to a tone twice as light: the anchored map reaches the new mean and
    spreads the light less, so the region peaks at SHADED_PEAK instead of far past white
    (where the highlight shoulder would pull the mean back towards the old tone)."""
    from models.inference.recolour import OPPONENT, SHADED_PEAK, anchor_map, apply_coefficients, highlight_peak

    rng = np.random.default_rng(5)
    light = np.clip(rng.normal(0.45, 0.12, (4000, 1)), 0, 1)
    pixels = (light * [1.0, 0.75, 0.6]).astype(np.float32)  # a dark skin under varied light
    identity = np.tile(np.r_[np.eye(3).ravel(), np.zeros(3)], (len(pixels), 1)).astype(np.float32)
    target_mean = 2 * pixels.mean(0)
    target = np.r_[target_mean, np.cov((2 * pixels).T).ravel()]
    m, t = anchor_map(pixels, identity, target, shaded=True)
    out = pixels @ m.T + t
    np.testing.assert_allclose(out.mean(0), target_mean, atol=1e-6)
    assert highlight_peak(out) == pytest.approx(SHADED_PEAK, abs=1e-3)
    assert highlight_peak(2 * pixels) > SHADED_PEAK + 0.2  # the albedo's gain alone would not fit
    # a gentle change that fits keeps the albedo's gain: the photo's own spread of light and
    # colour scales as its mean does, whatever the style photo's spread (here twice as wide)
    m, t = anchor_map(pixels, identity, np.r_[1.2 * pixels.mean(0), target[3:]], shaded=True)
    opponent = lambda im: im @ OPPONENT.T
    spread = opponent(apply_coefficients(pixels, np.r_[m.ravel(), t][None])).std(0)
    np.testing.assert_allclose(spread, 1.2 * opponent(pixels).std(0), rtol=1e-4)


def test_a_restyled_region_lays_no_halo_on_the_background_beside_it():
    """Past a region's outline its seam blends only where colour says the pixel could be
    the region: a grey wall beside dark hair keeps its colour, the hair changes fully."""
    from models.evaluation.photo_edits import outline_surround
    from models.inference.recolour import warp

    rng = np.random.default_rng(2)
    photo = np.clip(170 + rng.normal(0, 6, (600, 600, 3)), 0, 255).astype(np.uint8)  # a grey wall
    framing = Framing(50.0, 50.0, 500.0, True)
    mask = toy_mask()
    scale = 500 / SIZE
    # the hair where the mask puts it on the photo (as a parse of this photo would)
    placed = warp((mask > 0).astype(np.uint8), framing.to_photo(SIZE), (600, 600), cv2.INTER_NEAREST) > 0
    photo[placed] = np.clip(35 + rng.normal(0, 6, (int(placed.sum()), 3)), 0, 255).astype(np.uint8)  # dark "hair"
    edit = PhotoEdit(photo, framing, mask, "photo")
    base = np.full((SIZE, SIZE, 3), 170, np.uint8)
    base[mask > 0] = 35
    edited = base.copy()
    edited[mask > 0] = (150, 80, 40)  # the hair made ginger
    out = composite(edit, mask, base, edited, np.array([False, True, True, True]))
    to_lab = lambda im: cv2.cvtColor(im.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    change = np.linalg.norm(to_lab(out) - to_lab(photo), axis=-1)
    assert change[shrunk_by(placed, scale)].mean() > 20  # the hair took the new colour
    assert change[outline_surround(placed, 0.02 * 500)].mean() < 1.0  # the wall beside it did not


def shrunk_by(area: np.ndarray, by: float) -> np.ndarray:
    return cv2.erode(area.astype(np.uint8), np.ones((2 * int(by) + 1,) * 2, np.uint8)) > 0


def test_hair_in_shadow_past_the_square_goes_on_though_an_eye_is_as_dark():
    """Past the square, colour weighs the wider parse's label against the classes that can
    lie there: hair in shadow, near black, is not taken for a pupil (no eye lies past the
    square), so the recolour goes on and ends on no line at the square's edge."""
    from models.inference.composite import Surround

    rng = np.random.default_rng(4)
    grey = lambda mean, sd, shape: np.repeat(np.clip(mean + rng.normal(0, sd, (*shape, 1)), 0, 255), 3, -1)
    photo = grey(14, 3, (120, 140)).astype(np.uint8)  # hair in deep shadow
    framing = Framing(40.0, 20.0, 64.0, True)
    mask = np.ones((SIZE, SIZE), np.uint8)  # hair in the square ...
    mask[:6] = 0  # ... under a bright wall
    mask[12:18, 8:14] = 2  # and a dark "pupil"
    square = np.zeros((120, 140), bool)
    square[20:84, 40:104] = True
    model_px = lambda rows, cols: (
        slice(20 + 2 * rows.start, 20 + 2 * rows.stop),
        slice(40 + 2 * cols.start, 40 + 2 * cols.stop),
    )
    photo[square] = grey(90, 15, (int(square.sum()),))  # hair in the light
    photo[model_px(slice(0, 7), slice(0, 32))] = 200
    photo[model_px(slice(12, 18), slice(8, 14))] = grey(12, 3, (12, 12))
    edit = PhotoEdit(
        photo, framing, mask, "photo", surround=Surround(framing.widened(2.0), np.ones((SIZE, SIZE), np.uint8))
    )
    base = np.full((SIZE, SIZE, 3), 90, np.uint8)
    edited = base.copy()
    edited[mask == 1] = (150, 90, 40)
    out = composite(edit, mask, base, edited, np.array([False, True, False, False]))
    changed = (out != photo).any(-1)
    assert changed[90:110, 50:100].mean() > 0.99  # the shadowed hair below the square


def test_a_lightened_skin_keeps_its_shadows_the_new_tone_darker_not_a_deeper_colour():
    """A shaded region's colour is carried by its light: after the anchor, a shadow has the
    new tone's colour per unit of light (the tone, darker), not the mean's colour at a
    fraction of the light (maroon shadows on a face lightened twofold)."""
    from models.inference.recolour import OPPONENT, anchor_map

    rng = np.random.default_rng(6)
    light = np.clip(rng.uniform(0.15, 0.6, (4000, 1)), 0, 1)
    pixels = (light * [1.0, 0.72, 0.55]).astype(np.float32)  # a tanned skin, lit from one side
    identity = np.tile(np.r_[np.eye(3).ravel(), np.zeros(3)], (len(pixels), 1)).astype(np.float32)
    tone = np.array([0.85, 0.7, 0.62])  # a pale one
    target = np.r_[tone, np.cov((pixels * 1.5).T).ravel()]
    m, t = anchor_map(pixels, identity, target, shaded=True)
    out = pixels @ m.T + t
    np.testing.assert_allclose(out.mean(0), tone, atol=1e-6)
    ratio = lambda px: (px @ OPPONENT[1:].T) / (px @ OPPONENT[0])[:, None]  # colour per unit of light
    shadows = light[:, 0] < 0.25
    np.testing.assert_allclose(ratio(out[shadows]).mean(0), ratio(tone[None])[0], atol=0.01)


def test_a_regions_weight_rises_to_its_inside_without_a_step_and_one_map_has_no_inner_seam():
    """A restyled unit (skin and nose, one colour map) is one layer: where its classes meet
    the photo changes as everywhere inside; and its weight climbs to 1 across the seam with
    no jump where the seam ends (a jump there drew a line of the old tone beside the eyes
    and lost the photo's detail: docs/RESULTS.md)."""
    from models.inference.composite import RegionGrid, recolour, seam_of, soft_mask

    rng = np.random.default_rng(4)
    mask = toy_mask()
    framing = Framing(50.0, 50.0, 500.0, True)
    edit = PhotoEdit(np.zeros((600, 600, 3), np.uint8), framing, mask, "photo")
    grid = RegionGrid(edit)
    # a photo with detail everywhere: the class's colour, shading and fine texture
    shade = np.linspace(0.8, 1.1, 600, dtype=np.float32)[None, :, None]
    colours = np.array([[120, 130, 140], [200, 150, 120], [60, 40, 30], [60, 40, 30]], np.float32)
    labels = cv2.resize(grid.labels, (600, 600), interpolation=cv2.INTER_NEAREST)
    photo = colours[np.minimum(labels, 3)] * shade + rng.normal(0, 8, (600, 600, 3))
    edit = PhotoEdit(np.clip(photo, 0, 255).astype(np.uint8), framing, mask, "photo")
    grid = RegionGrid(edit)
    seam = seam_of(edit)
    region = grid.region(mask == 1, grid.colour_confidence(1))
    weight = grid.feather(region, seam, grid.colour_confidence(1), (1,))
    ramp = soft_mask(region, seam * grid.scale)
    assert weight[ramp >= 1].min() == 1
    assert weight[region & (ramp >= 0.95)].min() > 0.95  # where the ramp ends the weight is there too

    base = colours[mask].astype(np.uint8)
    edited = (colours[mask] * 0.6).astype(np.uint8)  # one map, darker, for the face and an eye
    restyled = np.array([False, True, True, False])
    out = recolour(edit, base, edited, restyled, groups=((1, 2),))
    ratio = out.astype(np.float32).mean(-1) / np.maximum(edit.original.astype(np.float32).mean(-1), 1)
    face_and_eye = cv2.resize(np.isin(mask, (1, 2)).astype(np.uint8), (500, 500), interpolation=cv2.INTER_NEAREST)
    inside = np.zeros((600, 600), bool)
    inside[50:550, 50:550] = shrunk_by(face_and_eye > 0, 2 * seam)
    skin = inside & (labels == 1)  # up to the eye's outline too
    assert np.abs(ratio[skin] - np.median(ratio[skin])).max() < 0.02


def test_hair_made_far_darker_spreads_its_light_less_instead_of_clipping_its_shadows():
    """Brown hair taken to near-black by a map that subtracts (a gain and a large negative
    offset, as the model's maps from brown to black are): the anchored map reaches the new
    mean and keeps the darkest strands at or above black, in their order; a gentle change
    keeps the model's spread of light."""
    from models.inference.recolour import OPPONENT, anchor_map

    rng = np.random.default_rng(6)
    light = np.clip(rng.normal(0.4, 0.15, (4000, 1)), 0.02, 1)
    pixels = (light * [1.0, 0.7, 0.5]).astype(np.float32)  # brown hair, strands and shadows
    identity = np.tile(np.r_[np.eye(3).ravel(), np.zeros(3)], (len(pixels), 1)).astype(np.float32)
    luma = lambda im: im @ OPPONENT[0]
    for darker, clips in ((0.1, True), (-0.05, False)):  # far darker; a little lighter
        target_mean = pixels.mean(0) - darker  # the model's map subtracts
        target = np.r_[target_mean, np.cov((0.5 * pixels).T).ravel()]
        m, t = anchor_map(pixels, identity, target)
        out = pixels @ m.T + t
        np.testing.assert_allclose(out.mean(0), target_mean, atol=1e-6)
        assert np.percentile(out.min(-1), 0.1) >= -1e-4
        order = np.argsort(luma(pixels))
        assert (np.diff(luma(out)[order]) >= -1e-6).all()
        # the model's spread of light (the identity's here), kept where it fits above black
        spread = luma(out).std() / luma(pixels).std()
        assert (spread < 0.9) if clips else spread == pytest.approx(1.0, abs=1e-4)


def test_skin_round_a_light_brow_changes_with_the_skin_and_the_brow_stays_a_brow():
    """A brow's label (class 2 here, labelled loosely) that holds mostly skin round a few
    dark tufts, the skin made darker: the skin-coloured pixels of the label take the skin's
    new tone (no pale patch where the label lies), its hairs keep theirs; a region that is
    not shaded leaves the brow's label alone."""
    from models.inference.composite import recolour

    rng = np.random.default_rng(7)
    framing = Framing(50.0, 50.0, 500.0, True)
    mask = toy_mask()
    labels = cv2.resize(mask, (500, 500), interpolation=cv2.INTER_NEAREST)
    photo = np.full((600, 600, 3), 60, np.float32)
    skin = np.array([220, 170, 140], np.float32)
    inner = np.zeros((600, 600), np.uint8)
    inner[50:550, 50:550] = labels
    photo[inner > 0] = skin
    brow = inner == 2
    hairs = brow & (np.arange(600)[None, :] % 12 < 3)  # a few dark tufts of hair in the brow's label
    photo[hairs] = (80, 50, 35)
    photo = np.clip(photo + rng.normal(0, 3, photo.shape), 0, 255).astype(np.uint8)
    edit = PhotoEdit(photo, framing, mask, "photo")
    base = np.where((mask > 0)[..., None], skin, 60).astype(np.uint8)
    edited = base.copy()
    edited[mask == 1] = (130, 90, 70)  # the skin made darker; the brows keep their style
    restyled = np.array([False, True, False, False])
    grey = lambda im: im.astype(np.float32).mean(-1)
    middle = shrunk_by(brow, 4) & ~(cv2.dilate(hairs.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0)
    for shaded, follows in (((1,), True), ((), False)):
        out = recolour(edit, base, edited, restyled, shaded=shaded, loose=(2,))
        darker = grey(photo) - grey(out)
        face = shrunk_by(inner == 1, 20)
        if follows:
            assert darker[middle].mean() > 0.8 * darker[face].mean()  # the skin in the brow's label, as the skin
            assert darker[shrunk_by(hairs, 1) & shrunk_by(brow, 3)].mean() < 0.3 * darker[face].mean()  # not the hair
        else:
            assert darker[middle].mean() < 0.2 * darker[face].mean()


def test_a_light_brow_beside_several_adjusted_skin_classes_changes_once_not_once_per_class():
    """Lightness set by hand on the skin group (skin and nose, each its own layer) took the
    skin-coloured pixels of a light brow once per layer: the brows came out white. Where
    layers overlap past a full weight their changes are averaged."""
    from models.inference.composite import recolour
    from models.inference.recolour import ColourAdjust

    rng = np.random.default_rng(5)
    photo = np.clip(np.array([200, 150, 110]) + rng.normal(0, 4, (90, 140, 3)), 0, 255).astype(np.uint8)
    mask = np.ones((SIZE, SIZE), np.uint8)  # skin ...
    mask[:, SIZE // 2 :] = 2  # ... and nose, side by side
    mask[12:16, 8:24] = 3  # a light brow across both, the skin's colour
    edit = PhotoEdit(photo, Framing(30.0, 10.0, 64.0, True), mask, "photo")
    base = toy_photo(mask)
    lighter = ColourAdjust(lightness=0.2)
    out = recolour(edit, base, base, np.zeros(4, bool), adjustments={1: lighter, 2: lighter}, shaded=(1, 2), loose=(3,))
    brow = (slice(10 + 2 * 13, 10 + 2 * 15), slice(30 + 2 * 10, 30 + 2 * 22))  # inside it, model -> photo
    expected = 0.2 * (255 - photo[brow].astype(float))  # the adjustment's own change
    change = out[brow].astype(float) - photo[brow]
    assert np.abs(change - expected).max() < 3
