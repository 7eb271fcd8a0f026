"""Painted shapes filled with the photo's own texture (models/inference/texture_fill.py)."""

from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image

from app.cli import main
from models.evaluation.fills import strands_along
from models.inference.texture_fill import DEFAULT_FILL, UNKNOWN, FillSettings, Interrupted, texture_fill


def striped_photo(shape=(120, 160), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 (the left half): fine diagonal strands of a warm colour; class 0: a smooth
    cool grey. (photo, labels)."""
    h, w = shape
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    strands = 40 * np.sin((xx + yy) * 0.6) + rng.normal(0, 6, (h, w))  # strands about 7 px apart
    photo = np.empty((h, w, 3), np.float32)
    photo[:] = (90, 110, 130)
    labels = np.zeros((h, w), np.uint8)
    labels[:, : w // 2] = 1
    warm = np.stack([150 + strands, 90 + strands * 0.7, 50 + strands * 0.4], -1)
    photo[labels == 1] = warm[labels == 1]
    return np.clip(photo, 0, 255).astype(np.uint8), labels


def high_pass(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return grey - cv2.GaussianBlur(grey, (0, 0), 3)


def test_a_painted_shape_takes_the_texture_and_colour_of_its_class_and_nothing_else_changes():
    photo, own = striped_photo()
    fill = np.zeros(own.shape, bool)
    fill[40:80, 80:110] = True  # painted as class 1 into class 0, beside the class-1 half
    labels = own.copy()
    labels[fill] = 1
    result = texture_fill(photo, fill, labels, own)
    out = result.image
    assert result.lacking == []
    assert np.array_equal(out[~fill], photo[~fill])
    inside = fill.copy()
    inside[:, :84] = False  # away from the border
    source = own == 1
    assert np.abs(out[inside].mean(0) - photo[source].mean(0)).max() < 20  # the class's colour
    texture, own_texture = high_pass(out)[inside].std(), high_pass(photo)[source].std()
    assert 0.4 * own_texture < texture < 1.5 * own_texture  # its strands, not a flat colour
    assert np.array_equal(texture_fill(photo, fill, labels, own).image, out)  # seeded: the same fill


def test_the_guide_says_the_light_and_the_border_says_the_colour():
    """A darker guide darkens the fill's far side; the colour stays the photo's."""
    photo, own = striped_photo()
    fill = np.zeros(own.shape, bool)
    fill[30:90, 80:140] = True
    labels = own.copy()
    labels[fill] = 1
    guide = np.full_like(photo, 128)
    guide[:, 110:] = 40  # the model draws the shape's right part in shadow
    out = texture_fill(photo, fill, labels, own, guide).image
    grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(float)
    assert grey[30:90, 120:140].mean() < grey[30:90, 82:95].mean() - 15


def misparsed_fringe():
    """Strands and grey (`striped_photo`), the parse saying strands over 6 px of the grey,
    and a shape painted as strands meeting that band: (photo, own, wrong, fill, labels)."""
    photo, own = striped_photo()
    wrong = own.copy()
    wrong[:, 80:86] = 1  # the parse says strands over 6 px of the grey half
    fill = np.zeros(own.shape, bool)
    fill[40:80, 86:116] = True  # painted as strands, meeting the misparsed band
    return photo, own, wrong, fill, np.where(fill, 1, wrong).astype(np.uint8)


def test_a_parse_off_at_its_borders_lends_no_colour_of_the_wrong_class():
    """The photo's classes on a large photo come from a parse at the model's size, a few
    pixels off at their borders: the grey pixels beside the strands that the parse calls
    strands must neither be copied nor say the colour a shape meets (once, a fringe
    painted on a 2,048 px portrait came out the colour of skin)."""
    photo, own, wrong, fill, labels = misparsed_fringe()
    strands = photo[own == 1].mean(0)
    mean_of = lambda unsure: texture_fill(photo, fill, labels, wrong, unsure=unsure).image[fill].mean(0)
    assert np.abs(mean_of(0) - strands).max() > 8  # pulled towards the grey it was told is strands
    # told the parse may be 8 px off: the strands' colour (within 5: the strands, turned to run
    # down the shape as it hangs from them, do not average out over its width as fast)
    assert np.abs(mean_of(8) - strands).max() < 5


def test_a_class_the_photo_lacks_keeps_the_guide_and_is_named():
    photo, own = striped_photo()
    fill = np.zeros(own.shape, bool)
    fill[40:60, 100:120] = True
    labels = own.copy()
    labels[fill] = 5  # a beard on a photo without one
    guide = np.full_like(photo, 200)
    result = texture_fill(photo, fill, labels, own, guide)
    assert result.lacking == [5]
    assert (result.image[fill] == 200).all()


def test_a_class_the_photo_lacks_takes_the_texture_of_an_exemplar_that_has_it():
    """A beard painted on a beardless photo: an exemplar photo with a beard (class 5,
    strands) gives its texture; the colour and light stay the guide's."""
    photo, own = striped_photo()
    exemplar, ex_labels = striped_photo((80, 80), seed=3)
    ex_labels = np.where(ex_labels == 1, 5, 0).astype(np.uint8)
    fill = np.zeros(own.shape, bool)
    fill[40:70, 100:130] = True
    labels = own.copy()
    labels[fill] = 5
    guide = np.full_like(photo, 120)
    asked = []
    exemplars_for = lambda classes: asked.append(classes) or [(exemplar, ex_labels)]
    result = texture_fill(photo, fill, labels, own, guide, exemplars_for=exemplars_for)
    assert asked == [[5]] and result.lacking == [] and result.from_exemplars == [5]
    out = result.image
    assert np.array_equal(out[~fill], photo[~fill])
    inside = cv2.erode(fill.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0  # away from the border's step
    texture, theirs = high_pass(out)[inside].std(), high_pass(exemplar)[ex_labels == 5].std()
    assert texture > 0.3 * theirs  # strands (the finest level's vote softens them), not the guide's flat grey
    assert high_pass(texture_fill(photo, fill, labels, own, guide).image)[inside].std() < 0.05 * theirs
    assert abs(out[fill].mean() - 120) < 25  # in the guide's light


@pytest.mark.parametrize("shape", ["dot", "most", "edge"])
def test_odd_shapes_fill_without_error(shape):
    photo, own = striped_photo()
    fill = np.zeros(own.shape, bool)
    if shape == "dot":
        fill[60, 100] = True  # a stroke of one pixel
    elif shape == "most":
        fill[5:115, 70:158] = True  # most of the picture
    else:
        fill[:10, 150:] = True  # at the corner
    labels = own.copy()
    labels[fill] = 1
    own = own.copy()
    own[:, 150:] = UNKNOWN  # where no parse reaches
    out = texture_fill(photo, fill, labels, own, settings=FillSettings(iterations=1)).image
    assert out.shape == photo.shape and np.array_equal(out[~fill], photo[~fill])


def test_a_painted_photo_edit_fills_from_the_photo_and_the_toggle_draws_the_synthesis():
    from models.data.framing import Framing
    from models.inference.composite import PhotoEdit, composite
    from tests.helpers import SIZE

    photo, own = striped_photo((96, 96))
    mask = cv2.resize(own, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    edit = PhotoEdit(photo, Framing(0.0, 0.0, 96.0, True), mask, "photo")
    painted = mask.copy()
    painted[10:20, 18:26] = 1  # strands painted into the grey
    synthesis = np.full((SIZE, SIZE, 3), 250, np.uint8)
    textured = composite(edit, painted, synthesis, synthesis, np.zeros(2, bool))
    plain = composite(edit, painted, synthesis, synthesis, np.zeros(2, bool), fill=None)
    shape = np.zeros((96, 96), bool)
    shape[38:52, 62:70] = True  # deep inside the painted box, at the photo's size
    assert high_pass(textured)[shape].std() > 3 * high_pass(plain)[shape].std() + 1
    assert textured[shape].mean() < 200  # the photo's strands, not the model's white
    assert np.array_equal(textured[80:], photo[80:])


def test_restyle_fills_shapes_painted_on_a_label_map_of_the_photos_size(
    tmp_path, capsys, weights_json, toy_parser, monkeypatch
):
    import models.data.framing as framing
    from models.inference.parser import Parser
    from tests.helpers import toy_mask, toy_photo

    own = cv2.resize(toy_mask(), (128, 128), interpolation=cv2.INTER_NEAREST)
    photo = cv2.resize(toy_photo(toy_mask()), (128, 128), interpolation=cv2.INTER_NEAREST)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    monkeypatch.setattr(framing, "detect_faces", lambda p: [(30, 30, 64, 64)])
    monkeypatch.setattr(
        Parser, "parse", lambda self, p: cv2.resize(toy_mask(), p.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    )
    edited = own.copy()
    edited[36:44, 40:80] = 1  # skin painted over the eyes' row
    Image.fromarray(edited).save(tmp_path / "edited.png")
    out = tmp_path / "out.png"
    args = ["restyle", str(tmp_path / "photo.png"), "--edited-mask", str(tmp_path / "edited.png"), "--out", str(out)]
    assert main([*args, "--model", str(weights_json), "--refine", "0", "--quiet"]) == 0
    result = np.asarray(Image.open(out))
    painted = edited != own
    assert (result != photo).any(-1)[painted].mean() > 0.5
    assert np.array_equal(result[~painted], photo[~painted])  # the rest bit for bit
    assert main([*args, "--bank", str(tmp_path / "none.npz"), "--model", str(weights_json)]) == 2
    assert "no such bank file" in capsys.readouterr().err
    no_paint = ["restyle", str(tmp_path / "photo.png"), "--out", str(out), "--hue", "20", "--bank", "b.npz"]
    assert main([*no_paint, "--model", str(weights_json)]) == 2
    assert "needs --edited-mask" in capsys.readouterr().err
    Image.fromarray(edited[:64]).save(tmp_path / "small.png")
    args[3] = str(tmp_path / "small.png")
    assert main([*args, "--model", str(weights_json)]) == 2
    assert "photo's own size" in capsys.readouterr().err


def test_an_edited_mask_on_a_parse_allows_for_the_parses_coarseness(weights_json, toy_parser, monkeypatch):
    """`restyle --edited-mask` without --mask compares with the photo's parse, a parse
    pixel off at its class borders: the fill is told so (a label map given is exact)."""
    import argparse

    import app.cli.photo as photo_cli
    from models.inference.engine import Engine
    from tests.helpers import toy_mask

    engine = Engine.load(str(weights_json), "cpu")
    photo = np.zeros((512, 384, 3), np.uint8)
    edited = cv2.resize(toy_mask(), (384, 512), interpolation=cv2.INTER_NEAREST)
    monkeypatch.setattr(photo_cli, "load_mask", lambda path, labels: edited)
    args = argparse.Namespace(edited_mask="edited.png")
    parsed, given = (photo_cli.painted_maps(args, engine, photo, mask) for mask in (None, edited))
    assert parsed.unsure == int(np.ceil(512 / engine.parser.info.config.input_size)) and given.unsure == 0


def test_the_seam_measure_sees_an_edge_the_fill_drew():
    from models.evaluation.fills import seam_ratio

    yy, xx = np.mgrid[:64, :64]
    real = np.repeat((60 + 2 * xx + yy)[..., None], 3, -1).astype(np.uint8)  # a smooth ramp
    band = (abs(yy - 32) < 10) & (abs(xx - 32) < 10)
    assert seam_ratio(real, real, band) == pytest.approx(1.0)
    patched = real.copy()
    patched[band] = 200  # a flat patch: a step all round its outline
    assert seam_ratio(patched, real, band) > 3


def test_the_live_view_refills_only_what_a_stroke_changed_and_afresh_once_it_ends():
    """While a stroke goes on, the fill kept from the last frame stays where the stroke did
    not reach; once it ends, every shape is filled anew: what `composite` gives alone."""
    from models.data.framing import Framing
    from models.inference.composite import LiveFill, PhotoEdit, composite
    from tests.helpers import SIZE

    photo, own = striped_photo((192, 192))
    mask = cv2.resize(own, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    edit = PhotoEdit(photo, Framing(0.0, 0.0, 192.0, True), mask, "photo")
    synthesis, none = np.full((SIZE, SIZE, 3), 128, np.uint8), np.zeros(2, bool)
    live = LiveFill()
    painted = mask.copy()
    painted[4:8, 17:20] = 1  # a dab of strands in the grey, far from the next one
    first = composite(edit, painted, synthesis, synthesis, none, photo, live=live, fill_pixels=5000, afresh=False)
    painted[24:28, 26:29] = 1  # the stroke goes on, away from the first dab
    second = composite(edit, painted, synthesis, synthesis, none, photo, live=live, fill_pixels=5000, afresh=False)
    dab = np.zeros((192, 192), bool)
    dab[24:48, 102:114] = True  # the first dab at the photo's size
    assert np.array_equal(second[dab], first[dab])  # kept
    assert not np.array_equal(second[144:168, 156:174], first[144:168, 156:174])  # the new dab is filled
    # with strands inside its outline: its class lies past the search's usual margin, which grows to reach it
    assert high_pass(second)[150:162, 161:169].std() > 4
    with pytest.raises(Interrupted):  # a newer frame waits: the whole fill is given up, nothing kept changes
        composite(edit, painted, synthesis, synthesis, none, photo, live=live, fill_pixels=None, interrupt=lambda: True)
    assert np.array_equal(live.fill(photo, edit, painted, synthesis, DEFAULT_FILL, 5000), second)  # nothing new to fill
    ended = composite(edit, painted, synthesis, synthesis, none, photo, live=live, fill_pixels=None)
    assert np.array_equal(ended, composite(edit, painted, synthesis, synthesis, none, photo))
    # the eraser takes the last painted pixels back, mid-stroke: the photo again
    erased = composite(edit, mask, synthesis, synthesis, none, photo, live=live, fill_pixels=5000, afresh=False)
    assert np.array_equal(erased, photo)


def test_a_painted_outline_against_another_class_is_antialiased_and_within_its_class_is_not():
    from models.inference.composite import outline_alpha

    labels = np.zeros((40, 40), np.uint8)
    labels[:, 20:] = 2
    region = np.zeros((40, 40), bool)
    region[10:30, 10:30] = True
    labels[region] = 1  # painted: meets class 0 on its left and class 2 on its right
    alpha = outline_alpha(region, labels)
    assert (alpha[~region] == 1).all() and (alpha[15:25, 14:26] == 1).all()
    assert 0.4 < alpha[20, 10] < 0.8 and 0.4 < alpha[20, 29] < 0.8  # the outline's pixels
    assert alpha[10, 10] < alpha[20, 10]  # a corner less
    labels[:, :] = 1  # painted within its own class (skin over glasses): no edge to soften
    assert (outline_alpha(region, labels) == 1).all()


def test_border_pixels_that_do_not_look_like_their_class_say_nothing_of_the_fills_colour():
    """A soft hairline: the parse calls hair the 3 px of skin right beside a painted
    fringe (no source there: too near the shape to copy), and the fringe took their colour
    through its border. Now a border pixel speaks only if its colour is of its class."""
    photo, own, wrong, fill, labels = misparsed_fringe()
    photo[:, 80:83] = photo[own == 1].mean(0).astype(np.uint8)  # sources beyond a patch: strand-coloured
    strands = photo[own == 1].mean(0)
    out = texture_fill(photo, fill, labels, wrong).image[fill].mean(0)
    assert np.abs(out - strands).max() < 12  # (90 off when the grey border spoke)


def test_a_stroke_the_model_draws_pale_keeps_its_class_colour_far_from_where_it_meets_it():
    """A thin stroke of hair brushed from the hair across the forehead: the model draws
    it pale (hair blended with the skin it crosses), lighter towards its far end. The
    membrane corrects the guide where the stroke meets its class; beyond that, the guide's
    colours are first brought within its class's colours (once, a fringe's far end came
    out tan, the restyled hair beside it near black), and near the stroke's outline, where
    the model draws it blended with what it covers, towards their mean (held within them
    alone, it came out as the strands' lightest). The strands' directions are left out
    here: turned along the stroke, its diagonal stripes lie across its 12 rows unevenly,
    which moves its mean by up to a third of their deviation whatever the guide says."""
    photo, own = striped_photo()
    fill = np.zeros(own.shape, bool)
    fill[52:64, 80:150] = True  # meets the strands at x = 80 only, then runs over the grey
    labels = own.copy()
    labels[fill] = 1
    guide = photo.copy()
    guide[fill] = (150, 90, 50)  # the model's strands, where the stroke meets them ...
    far = fill.copy()
    far[:, :120] = False
    guide[far] = (215, 190, 175)  # ... and pale, nearly skin, at its far end
    out = texture_fill(photo, fill, labels, own, guide, replace(DEFAULT_FILL, orientation_weight=0.0)).image
    strands = photo[own == 1].astype(float)
    distance = np.abs(out[far].mean(0) - strands.mean(0))
    assert distance.max() < 0.25 * strands.std(0).max()  # the strands' colour, not the pale guide's (0.31 before)


def test_a_fill_on_a_photo_larger_than_the_guide_keeps_the_strands():
    """On a photo four times the model's size, the guide (the model's picture, smooth below
    four pixels) once set the strands' scale: the fill came out flat. It keeps the photo's
    fine strands now, as runs of them (coherence) and the finest size's octave."""
    from models.evaluation.fills import texture_ratio

    h, w = 192, 256
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), sigmaX=0.8, sigmaY=8)
    strands = 40 * noise / noise.std()  # fine vertical strands, a pixel or two wide
    own = np.zeros((h, w), np.uint8)
    own[:, : w // 2] = 1
    photo = np.empty((h, w, 3), np.float32)
    photo[:] = (90, 110, 130)
    photo[own == 1] = np.stack([150 + strands, 90 + strands * 0.7, 50 + strands * 0.4], -1)[own == 1]
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    small = cv2.resize(photo, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    guide = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    fill = np.zeros((h, w), bool)
    fill[60:130, 30:100] = True
    hidden = own.copy()
    hidden[fill] = UNKNOWN
    before = texture_fill(photo, fill, own, hidden, guide, FillSettings(coherence=0)).image
    now = texture_fill(photo, fill, own, hidden, guide, guide_px=4).image
    assert texture_ratio(now, photo, fill) > max(0.45, 1.3 * texture_ratio(before, photo, fill))


def test_the_old_outline_a_shape_meets_is_filled_with_it_where_it_is_not_of_its_class():
    """A soft hairline: the parse calls its last pixels hair, though they are mostly skin.
    A fringe painted down from it over the skin left them as a light line inside the new
    hair; the pixels beside the shape that are of the class's colour stay the photo's, and
    so does a hairline's shadow, darker than the strands (refilled, it came out as light
    dots along a lock's root)."""
    from models.inference.texture_fill import stale_outline

    photo, own = striped_photo()
    skin = np.random.default_rng(1).normal((205, 170, 150), 4, (*own.shape, 3))
    photo[own == 0] = np.clip(skin[own == 0], 0, 255).astype(np.uint8)  # the forehead
    photo[:60, 77:80] = (205, 170, 150)  # the strands' last 3 px: skin-coloured, called strands
    photo[60:, 77:80] = (40, 24, 14)  # ... and further down, the hairline's shadow
    fill = np.zeros(own.shape, bool)
    fill[40:80, 80:110] = True
    labels = own.copy()
    labels[fill] = 1
    stale = stale_outline(photo, fill, labels, own, unsure=1)
    assert stale[40:60, 77:80].all()  # the light line beside the shape
    assert not stale[60:80, 77:80].any()  # the shadow
    assert not stale[40:80, :76].any() and not stale[:30].any()  # strands, and away from the shape
    assert not (stale & fill).any()


def test_where_a_shape_meets_its_own_class_the_fill_takes_the_photos_values_and_elsewhere_its_edge_stays():
    """The model draws a patch of cheek lighter than the cheek round it, right up to its
    outline: the fill followed it and ended on a step there (a visible circle at 100%).
    Blended as Poisson blending does, it meets the photo's values all round. A shape
    that meets only another class keeps its edge: the blend changes nothing there."""
    photo, own = striped_photo((160, 200))
    yy, xx = np.mgrid[:160, :200]
    disk = (yy - 80) ** 2 + (xx - 50) ** 2 <= 25**2  # inside class 1 (the left half)
    hidden = own.copy()
    hidden[disk] = UNKNOWN
    guide = cv2.GaussianBlur(photo, (0, 0), 4).astype(np.int16)
    guide[disk] += 40
    guide = np.clip(guide, 0, 255).astype(np.uint8)
    grey = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32)
    d8 = disk.astype(np.uint8)
    inner = disk & ~(cv2.erode(d8, np.ones((5, 5), np.uint8)) > 0)
    outer = (cv2.dilate(d8, np.ones((5, 5), np.uint8)) > 0) & ~disk
    step = lambda im: abs(grey(im)[inner].mean() - grey(im)[outer].mean())
    unblended = texture_fill(photo, disk, own, hidden, guide, FillSettings(seam_blend=0)).image
    blended = texture_fill(photo, disk, own, hidden, guide).image
    assert step(unblended) > step(photo) + 6  # the guide's step, followed
    assert step(blended) < step(photo) + 2
    assert np.array_equal(blended[~disk], photo[~disk])

    across = np.zeros(own.shape, bool)
    across[50:110, 120:170] = True  # painted as class 1 into class 0, away from class 1
    labels = own.copy()
    labels[across] = 1
    settings = lambda blend: FillSettings(seam_blend=blend, search_margin=None)
    kept = texture_fill(photo, across, labels, own, guide, settings(0)).image
    assert np.array_equal(
        texture_fill(photo, across, labels, own, guide, settings(DEFAULT_FILL.seam_blend)).image, kept
    )


def test_a_thin_stroke_painted_over_another_class_takes_none_of_its_light():
    """A stroke of hair five pixels wide brushed across the forehead took half its low
    frequencies from the skin round it (a blur wider than the stroke) and came out pale
    brown. Painted over another class, a pixel's low frequencies come from its own class."""
    photo, own = striped_photo()
    fill = np.zeros(own.shape, bool)
    fill[60:64, 80:150] = True  # four pixels wide: from the strands across the grey
    labels = own.copy()
    labels[fill] = 1
    guide = photo.copy()
    guide[fill] = photo[own == 1].mean(0).astype(np.uint8)  # the model draws it the strands' colour
    out = texture_fill(photo, fill, labels, own, guide).image
    far = fill.copy()
    far[:, :100] = False
    strands, grey = photo[own == 1].mean(0), photo[own == 0].mean(0)
    # how far towards the grey the stroke's colour went, as a share of the way
    towards_grey = ((out[far].mean(0) - strands) @ (grey - strands)) / ((grey - strands) @ (grey - strands))
    assert towards_grey < 0.1


def test_a_lock_brushed_across_the_strands_takes_them_along_its_length():
    """A lock of hair brushed from the hair across the forehead: the hair's strands run
    diagonally, the lock horizontally. Copied as they lie, its strands ran across it in
    stripes (the lock on 27645, docs/RESULTS.md); copied from the hair turned, and asked
    for strands along it, they run its way. Without the directions, none."""
    photo, own = striped_photo()
    fill = np.zeros(own.shape, bool)
    fill[52:64, 80:150] = True  # its root in the strands at x = 80, then over the grey
    labels = own.copy()
    labels[fill] = 1
    middle = cv2.distanceTransform(fill.astype(np.uint8), cv2.DIST_L2, 5) >= 3
    along = lambda settings: strands_along(
        texture_fill(photo, fill, labels, own, settings=settings).image, middle, np.array([1.0, 0.0])
    )
    assert along(DEFAULT_FILL) > 0.6  # 0.91
    assert abs(along(replace(DEFAULT_FILL, orientation_weight=0.0))) < 0.3  # -0.04: the photo's diagonal


def test_the_lock_measure_paints_a_lock_over_the_forehead_and_refuses_a_face_without_one():
    from models.data.labels import LabelScheme
    from models.evaluation.fills import lock_of

    names = LabelScheme.named("face").names
    labels = np.zeros((256, 256), np.uint8)
    labels[:90] = names.index("hair")
    labels[90:, 60:200] = names.index("skin")
    edited, direction = lock_of(labels, names)
    lock = edited != labels
    assert (edited[lock] == names.index("hair")).all() and (labels[lock] == names.index("skin")).mean() > 0.7
    assert direction[0] > 0 and direction[1] > 0  # down and away from the middle
    labels[:] = names.index("hair")  # no forehead to brush a lock over
    assert lock_of(labels, names) is None


def test_a_band_repainted_within_its_own_class_is_filled_as_without_the_directions():
    photo, own = striped_photo()
    fill = np.zeros(own.shape, bool)
    fill[40:70, 20:60] = True  # inside the strands
    with_directions = texture_fill(photo, fill, own, own).image
    without = texture_fill(photo, fill, own, own, settings=replace(DEFAULT_FILL, orientation_weight=0.0)).image
    assert np.array_equal(with_directions, without)


def test_the_vote_weighed_round_each_patch_keeps_more_of_a_fine_grain_than_the_mean():
    """Patches a pixel out of step average a fine grain away when every covering patch
    says as much as the next; weighed round each patch's centre, more of it stays."""
    from models.evaluation.fills import texture_ratio

    rng = np.random.default_rng(0)
    h, w = 120, 160
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.8)
    grain *= 25 / grain.std()
    own = np.zeros((h, w), np.uint8)
    own[:, : w // 2] = 1
    photo = np.empty((h, w, 3), np.float32)
    photo[:] = (90, 110, 130)
    photo[own == 1] = np.stack([150 + grain, 90 + 0.7 * grain, 50 + 0.4 * grain], -1)[own == 1]
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    fill = np.zeros((h, w), bool)
    fill[30:90, 15:65] = True
    kept = lambda sigma: texture_ratio(
        texture_fill(photo, fill, own, own, settings=replace(DEFAULT_FILL, vote_sigma=sigma)).image, photo, fill
    )
    assert kept(DEFAULT_FILL.vote_sigma) > kept(0.0) + 0.05  # 0.63 against 0.54
