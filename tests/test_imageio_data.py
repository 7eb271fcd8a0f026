"""Reading odd images and masks, and the training dataset's split and augmentation."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from models.data.datasets import FolderDataset, find_pairs, holdout_split, load_folders
from models.data.files import InputError, load_image, load_mask, mask_from_colors, save_mask, schemes_fitting_mask
from models.data.labels import LabelScheme
from tests.helpers import TOY, make_dataset, toy_mask, toy_photo


def test_odd_images_become_rgb(tmp_path):
    grey16 = tmp_path / "g16.png"
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(grey16)
    rgba = tmp_path / "rgba.png"
    Image.new("RGBA", (40, 32), (255, 0, 0, 0)).save(rgba)
    grey = tmp_path / "g.jpg"
    Image.new("L", (48, 36), 100).save(grey)
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (40, 40), (0, 255, 255, 0)).save(cmyk)  # red in print colours
    turned = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: shown turned 90 degrees clockwise
    Image.new("RGB", (64, 40), (0, 0, 200)).save(turned, exif=exif)
    assert load_image(grey16).shape == (64, 64, 3)
    assert load_image(rgba)[0, 0].tolist() == [255, 255, 255]  # transparent -> white
    assert load_image(grey).shape == (36, 48, 3)
    red = load_image(cmyk)[20, 20]
    assert red[0] > 200 and red[1] < 60 and red[2] < 60
    assert load_image(turned).shape == (64, 40, 3)


def test_one_size_rule_for_every_photo(tmp_path):
    from tests.test_cli import huge_png

    Image.new("RGB", (31, 400)).save(tmp_path / "thin.png")
    with pytest.raises(InputError, match="31x400 is too small"):
        load_image(tmp_path / "thin.png")
    with pytest.raises(InputError, match="144 megapixels; 120 megapixels at most"):
        load_image(huge_png(tmp_path / "huge.png", 12000, 12000))


def test_large_photos_are_scaled_down_as_they_are_decoded(tmp_path):
    Image.new("RGB", (3000, 1000), (10, 200, 30)).save(tmp_path / "wide.jpg")
    small = load_image(tmp_path / "wide.jpg", max_side=600)
    assert small.shape == (200, 600, 3) and abs(int(small[100, 300, 1]) - 200) < 4
    assert load_image(tmp_path / "wide.jpg").shape == (1000, 3000, 3)


def test_unreadable_files(tmp_path):
    truncated = tmp_path / "cut.jpg"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(truncated, quality=90)
    truncated.write_bytes(truncated.read_bytes()[:200])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    for path in (truncated, text, tmp_path / "missing.png"):
        with pytest.raises(InputError):
            load_image(path)


def test_mask_formats(tmp_path):
    mask = toy_mask()
    save_mask(tmp_path / "index.png", mask, TOY)
    assert np.array_equal(load_mask(tmp_path / "index.png", TOY), mask)
    Image.fromarray(TOY.colorize(mask)).save(tmp_path / "colour.png")
    assert np.array_equal(load_mask(tmp_path / "colour.png", TOY), mask)
    Image.fromarray(np.full((8, 8), 9, np.uint8)).save(tmp_path / "high.png")
    with pytest.raises(InputError, match="holds label 9"):
        load_mask(tmp_path / "high.png", TOY)
    Image.new("RGB", (8, 8), (1, 200, 3)).save(tmp_path / "odd.png")
    with pytest.raises(InputError, match="not toy label colours"):
        load_mask(tmp_path / "odd.png", TOY)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=64))
def test_colour_masks_round_trip(labels):
    mask = np.array(labels, np.uint8).reshape(1, -1)
    assert np.array_equal(mask_from_colors(TOY.colorize(mask), TOY), mask)


def test_schemes_load_from_json():
    face, city = LabelScheme.named("face"), LabelScheme.named("cityscapes")
    assert face.num_classes == 19 and face.names[13] == "hair" and face.colors[13] == "#0000cc"
    assert city.num_classes == 20 and city.names[10] == "sky"
    assert face.flip_lut()[4] == 5 and face.flip_lut()[13] == 13
    with pytest.raises(ValueError, match="unknown label scheme"):
        LabelScheme.named("cats")
    assert face.framing == "face" and city.framing == "stretch" and city.flip_pairs == ()
    assert LabelScheme.from_dict(city.to_dict()) == city
    assert [face.names[c] for c in face.shaded] == ["skin", "nose", "l_ear", "r_ear", "neck"]
    older = {k: v for k, v in face.to_dict().items() if k != "shaded"}  # weights made before the field
    assert LabelScheme.from_dict(older).shaded == face.shaded
    with pytest.raises(ValueError, match="unknown class"):
        LabelScheme.from_dict({**face.to_dict(), "shaded": ["tail"]})
    with pytest.raises(ValueError, match="framing 'crop'"):
        LabelScheme.from_dict({**city.to_dict(), "framing": "crop"})


def test_a_mask_file_tells_which_model_it_belongs_to(tmp_path):
    from app.editor.samples import face_mask, street_mask

    face, city = LabelScheme.named("face"), LabelScheme.named("cityscapes")
    save_mask(tmp_path / "street.png", street_mask(), city)  # carries its palette
    Image.fromarray(face.colorize(face_mask())).save(tmp_path / "face_colour.png")
    Image.fromarray(street_mask()).save(tmp_path / "plain.png")  # labels 0-13: either
    Image.fromarray(np.full((8, 8), 19, np.uint8)).save(tmp_path / "label19.png")
    Image.fromarray(toy_photo(toy_mask())).save(tmp_path / "photo.png")
    fits = lambda name, order=("face", "cityscapes"): schemes_fitting_mask(
        tmp_path / name, {n: {"face": face, "cityscapes": city}[n] for n in order}
    )
    assert fits("street.png") == ["cityscapes", "face"]
    assert fits("face_colour.png") == ["face"]
    assert fits("plain.png") == ["face", "cityscapes"] and fits("plain.png", ("cityscapes", "face"))[0] == "cityscapes"
    assert fits("label19.png") == ["cityscapes"]
    assert fits("photo.png") == []


def test_holdout_is_fixed_and_disjoint(tmp_path):
    root = make_dataset(tmp_path / "d", 12)
    pairs = find_pairs(root)
    train, val = holdout_split(pairs, 3)
    assert len(val) == 3 and not {p.image for p in train} & {p.image for p in val}
    assert holdout_split(list(reversed(pairs)), 3)[1] == sorted(val, key=lambda p: p.image, reverse=True)
    with pytest.raises(ValueError, match="one per data folder"):
        load_folders([str(root), str(root), str(root)], TOY, [1, 2])


def test_flip_swaps_left_and_right(tmp_path):
    root = make_dataset(tmp_path / "d", 1, size=32, num_classes=4)
    data = FolderDataset(find_pairs(root), TOY, 32, augment=True)
    seen_flip = False
    for seed in range(20):
        torch.manual_seed(seed)
        label = data[0]["label"].numpy()
        left_eye_cols = np.nonzero((label == 2).any(0))[0]
        right_eye_cols = np.nonzero((label == 3).any(0))[0]
        assert left_eye_cols.mean() < right_eye_cols.mean()  # l_eye stays on the left after a flip
        seen_flip |= not np.array_equal(label, data.load(0)[1][:32, :32])
    assert seen_flip


def test_turns_and_zooms_move_photo_and_labels_together():
    from models.data.datasets import rotate_zoom

    tiles = np.indices((64, 64)).sum(0) // 8 % 4  # diagonal stripes of 4 classes, 8 px wide
    mask = tiles.astype(np.uint8)
    palette = np.array([[0, 0, 0], [250, 0, 0], [0, 250, 0], [0, 0, 250]], np.uint8)
    image, turned = rotate_zoom(palette[mask], mask, degrees=9, zoom=0.92)
    assert image.shape == (64, 64, 3) and turned.shape == (64, 64) and set(np.unique(turned)) <= {0, 1, 2, 3}
    assert (turned != mask).mean() > 0.2  # it did move
    nearest = np.abs(image[:, :, None].astype(int) - palette).sum(-1).argmin(-1)
    assert (nearest == turned).mean() > 0.95  # the photo moved the same way (edges blend)


def test_dataset_items(tmp_path):
    root = make_dataset(tmp_path / "d", 2, size=40)
    item = FolderDataset(find_pairs(root), LabelScheme.named("face"), 32)[1]
    assert item["image"].shape == (3, 32, 32) and item["label"].shape == (32, 32)
    assert -1 <= item["image"].min() and item["image"].max() <= 1 and item["label"].dtype == torch.long


def test_bundled_sample_masks_are_valid():
    from app.editor.samples import MASK_MAKERS, sample_mask

    for model, make in MASK_MAKERS.items():
        scheme = LabelScheme.named(model)
        mask = sample_mask(model, scheme, 128)
        assert mask.shape == (128, 128) and mask.max() < scheme.num_classes
        assert len(np.unique(make())) >= 8  # a real scene, not a blank


def test_sample_face_is_symmetric_with_the_persons_left_on_the_image_right():
    from app.editor.samples import face_mask

    scheme = LabelScheme.named("face")
    mask = face_mask()
    mirrored = scheme.flip_lut()[mask[:, ::-1]]
    assert (mirrored == mask).mean() > 0.98  # a label on the wrong side would break this
    names = scheme.names
    for left, right in (("l_eye", "r_eye"), ("l_brow", "r_brow"), ("l_ear", "r_ear")):
        assert np.nonzero(mask == names.index(left))[1].mean() > 128 > np.nonzero(mask == names.index(right))[1].mean()
    for part in ("skin", "nose", "mouth", "u_lip", "l_lip", "hair", "neck", "cloth"):
        assert (mask == names.index(part)).any(), part


def test_pack_round_trip_and_training_from_a_pack(tmp_path, capsys):
    from app.cli import main
    from models.data.datasets import Pack

    a, b = make_dataset(tmp_path / "a", 5, size=40), make_dataset(tmp_path / "b", 3, size=40)
    out = tmp_path / "p.npz"
    assert main(["lab", "pack", "--data", f"{a},{b}", "--holdout", "1,1", "--size", "32", "--out", str(out)]) == 0
    assert "6 of 6 training pairs" in capsys.readouterr().out
    pairs = Pack(out).pairs()
    assert len(pairs) == 6
    image, mask = pairs[0].read(LabelScheme.named("face"))
    assert image.shape == (32, 32, 3) and mask.shape == (32, 32) and mask.dtype == np.uint8
    train, val = load_folders([str(out)], LabelScheme.named("face"), [])
    assert len(train) == 6 and not val
    item = FolderDataset(train, LabelScheme.named("face"), 32, augment=True)[3]
    assert item["image"].shape == (3, 32, 32)
    assert main(["lab", "pack", "--data", str(a), "--max-mb", "0.001", "--out", str(tmp_path / "tiny.npz")]) == 0
    assert "0 of 5" in capsys.readouterr().out


def test_pack_takes_each_folder_in_stem_hash_order(tmp_path):
    """A pack cut off at --max-mb must be a fair sample, not the first files by name
    (UTKFace's names start with the age)."""
    from app.cli import main
    from models.data.datasets import Pack, by_stem_hash, find_pairs

    folder = make_dataset(tmp_path / "a", 6, size=40)
    out = tmp_path / "p.npz"
    assert main(["lab", "pack", "--data", str(folder), "--size", "32", "--out", str(out)]) == 0
    expected = [p.stem for p in by_stem_hash(find_pairs(folder))]
    assert Pack(out).stems == expected != sorted(expected)
    shifted = tmp_path / "shifted.npz"
    assert main(["lab", "pack", "--data", str(folder), "--size", "32", "--offset", "4", "--out", str(shifted)]) == 0
    assert Pack(shifted).stems == expected[4:] + expected[:4]  # the next pack starts with other photos
