"""SIMS: the segment bank, retrieval, canvases (retrieved and simulated), the canvas
network's training and export, the commands, and their answers to bad input. Street
scenes of three classes are generated in code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from models.data import bank as bank_module
from models.data.bank import SegmentBank, components
from models.data.canvases import ColourStats, interiors, simulated_canvas
from models.data.datasets import find_pairs
from models.data.files import InputError
from models.inference.engine import Engine
from models.inference.sims import BankPainter, make_canvas, retrieve
from models.nets.canvas import CanvasConfig, CanvasNet
from models.training.export import export_canvas
from tests.helpers import SIZE, STREET, TOY, toy_mask, toy_photo

COLOURS = np.array([[90, 90, 95], [120, 170, 230], [180, 30, 30]])  # road, sky, car


def street_mask(seed: int, size: int = SIZE, cars: int = 2) -> np.ndarray:
    """Sky above a horizon, road below, and a few cars (rectangles, apart) on the road."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    horizon = int(rng.integers(size // 3, size // 2))
    mask[:horizon] = 1
    lane = size // cars
    for i in range(cars):
        h, w = rng.integers(4, 9), rng.integers(4, lane - 2)
        top, left = rng.integers(horizon, size - h), i * lane + rng.integers(0, lane - w - 1)
        mask[top : top + h, left : left + w] = 2
    return mask


def street_photo(mask: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shade = rng.integers(-20, 21, 3)
    return np.clip(COLOURS[mask] + shade + rng.normal(0, 6, mask.shape + (3,)), 0, 255).astype(np.uint8)


def write_streets(root: Path, n: int, first_seed: int = 0) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(first_seed, first_seed + n):
        mask = street_mask(i)
        Image.fromarray(street_photo(mask, i)).save(root / "images" / f"s{i:03d}.png")
        Image.fromarray(mask).save(root / "labels" / f"s{i:03d}.png")
    return root


@pytest.fixture
def street_data(tmp_path) -> Path:
    return write_streets(tmp_path / "streets", 6)


@pytest.fixture
def bank(street_data) -> SegmentBank:
    return SegmentBank.build(find_pairs(street_data), STREET, SIZE, "street_32")


def test_bank_keeps_every_component_and_gives_its_pixels_back(tmp_path, bank, street_data):
    pairs = find_pairs(street_data)
    expected = sum(len(components(p.read(STREET)[1])) for p in pairs)
    assert len(bank) == expected and bank.meta["photos"] == len(pairs)
    path = tmp_path / "b.npz"
    bank.save(path)
    loaded = SegmentBank.load(path)
    assert len(loaded) == expected and loaded.label_names() == STREET.names
    cars = loaded.of_label(2).index
    crop, mask = loaded.segment(int(cars[0]))
    assert mask.all() and crop.shape[:2] == mask.shape  # a car is a full rectangle
    assert np.abs(crop.astype(int) - COLOURS[2]).mean() < 30  # its pixels are a car's (JPEG-coded)
    assert "car" in loaded.summary()


def test_a_layout_from_the_bank_retrieves_its_own_segments_first(bank, street_data):
    _, layout = find_pairs(street_data)[3].read(STREET)
    matches, missing = retrieve(bank, layout, k=3)
    assert not missing and len(matches) == len(components(layout))
    a = bank.arrays
    for match in matches:
        best = match.segment
        assert a["seg_photo"][best] == 3 and a["seg_label"][best] == match.component.label
        assert match.scores[0] == pytest.approx(2.0) and np.all(np.diff(match.scores) <= 0)


def test_the_canvas_pastes_inside_regions_only_and_leaves_their_borders(bank, street_data):
    image, layout = find_pairs(street_data)[2].read(STREET)
    canvas = make_canvas(bank, layout)
    assert canvas.filled.any() and not (canvas.filled & ~interiors(layout)).any()
    # retrieving a bank photo's own layout pastes that photo back (up to JPEG)
    diff = np.abs(canvas.image.astype(int) - image.astype(int))[canvas.filled]
    assert diff.mean() < 6
    # the next candidate is another segment, at the editor's request
    first = canvas.matches[0]
    key = (first.component.label, *first.component.seed)
    again = make_canvas(bank, layout, choices={key: 1})
    assert again.matches[0].segment == first.candidates[1]


def test_regions_the_bank_lacks_are_named_and_left_unfilled(street_data):
    no_cars = [p for p in find_pairs(street_data)]
    bank = SegmentBank.build(no_cars, STREET, SIZE, "street_32")
    bank.arrays["seg_label"][bank.arrays["seg_label"] == 2] = 0  # as if no photo had a car
    bank._by_label.clear()
    layout = street_mask(99)
    canvas = make_canvas(bank, layout)
    assert canvas.missing == ["car"] and not canvas.filled[layout == 2].any()


def test_simulated_canvases_stay_inside_their_regions_and_are_recoloured():
    mask = street_mask(1)
    photo = street_photo(mask, 1)
    colours = ColourStats(np.array([2]), np.array([[10, 200, 10]]), np.array([[5, 5, 5]]))
    canvas, filled = simulated_canvas(photo, mask, np.random.default_rng(0), colours)
    assert not (filled & ~interiors(mask)).any()
    inside = filled & (mask == 0)
    # the road is at most shifted a little (its box may bring a car's edge in), never recoloured
    assert np.median(np.abs(canvas[inside].astype(int) - photo[inside])) < 20
    for seed in range(20):  # some draw recolours a car green
        canvas, filled = simulated_canvas(photo, mask, np.random.default_rng(seed), colours)
        car = filled & (mask == 2)
        if car.any() and canvas[car][:, 1].mean() > 150:
            break
    else:
        pytest.fail("no car was recoloured")


def test_an_untrained_canvas_network_returns_seans_picture():
    net = CanvasNet(CanvasConfig(3, width=4, levels=2))
    base = torch.rand(1, 3, 16, 16) * 2 - 1
    out = net(base, torch.zeros_like(base), torch.zeros(1, 1, 16, 16), torch.ones(1, 3, 16, 16) / 3)
    assert torch.equal(out, base)


def test_canvas_network_trains_resumes_exports_and_paints(tmp_path, monkeypatch, scene_json, street_data):
    from models.training import canvas_trainer as trainer

    bank_path = tmp_path / "b.npz"
    SegmentBank.build(find_pairs(street_data), STREET, SIZE, "street_32").save(bank_path)
    opts = trainer.CanvasTrainOptions(
        data=[str(street_data)],
        runs_dir=str(tmp_path / "runs"),
        model=str(scene_json),
        bank=str(bank_path),
        width=4,
        size=16,
        batch_size=2,
        iterations=2,
        workers=0,
    )
    checkpoint = trainer.train_canvas(opts)
    state = torch.load(checkpoint, weights_only=True)
    assert state["step"] == 2 and (checkpoint.parent / "base.npy").is_file()
    opts.iterations = 3
    assert torch.load(trainer.train_canvas(opts), weights_only=True)["step"] == 3
    export_canvas(checkpoint.parent, scene_json.parent)
    engine = Engine.load(str(scene_json), "cpu")
    painter = BankPainter.load(engine, bank_path)
    layout = street_mask(50, size=64)  # any size: checked and resized
    out = painter.paint(layout, painter.canvas(layout))
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8


def test_banks_that_cannot_be_used_are_refused_with_the_reason(tmp_path, bank, monkeypatch):
    path = tmp_path / "b.npz"
    bank.save(path)
    with pytest.raises(InputError, match="no such bank"):
        SegmentBank.load(tmp_path / "missing.npz")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(InputError, match="cannot be read"):
        SegmentBank.load(damaged)
    text = tmp_path / "text.npz"
    text.write_text("not a bank")
    with pytest.raises(InputError, match="not a usable segment bank"):
        SegmentBank.load(text)
    arrays = dict(bank.arrays, seg_photo=bank.arrays["seg_photo"] + 100)
    SegmentBank(bank.meta, arrays).save(tmp_path / "bad_index.npz")
    with pytest.raises(InputError, match="photos or classes it does not have"):
        SegmentBank.load(tmp_path / "bad_index.npz")
    SegmentBank(dict(bank.meta, format=99), bank.arrays).save(tmp_path / "future.npz")
    with pytest.raises(InputError, match="format 99"):
        SegmentBank.load(tmp_path / "future.npz")
    monkeypatch.setattr(bank_module, "BANK_FILE_LIMIT", 1000)
    with pytest.raises(InputError, match="larger than a segment bank can be"):
        SegmentBank.load(path)
    monkeypatch.undo()
    monkeypatch.setattr(bank_module, "MAX_BANK_BYTES", 1000)
    with pytest.raises(InputError, match="too large a segment bank.*GiB"):
        SegmentBank.load(path)
    with pytest.raises(InputError, match="built for model 'street_32'"):
        bank.check_fits("toy", TOY)


def shifted(key: str, column: int, value: int):
    """A crafted bank: `key`'s first segment has `value` in `column`."""

    def craft(meta: dict, arrays: dict) -> tuple[dict, dict]:
        array = arrays[key].copy()
        array[(0, column) if array.ndim == 2 else 0] = value
        return meta, dict(arrays, **{key: array})

    return craft


def claiming_size(value: object):
    return lambda meta, arrays: (dict(meta, size=value), arrays)


@pytest.mark.parametrize(
    "craft, reason",
    [
        (shifted("seg_seed", 0, 30000), "outside its"),
        (shifted("seg_box", 2, -5), "outside its"),
        (shifted("seg_box", 1, 32000), "outside its"),
        (shifted("seg_area", 0, 0), "outside its"),
        (claiming_size(0), "a bank holds"),
        (claiming_size(-3), "a bank holds"),
        (claiming_size(10**9), "a bank holds"),
        (claiming_size(float("inf")), "whole numbers"),
        (claiming_size("big"), "whole numbers"),
        (claiming_size(True), "whole numbers"),
    ],
)
def test_a_bank_whose_segments_or_sizes_are_out_of_range_is_refused(tmp_path, bank, craft, reason):
    meta, arrays = craft(dict(bank.meta), dict(bank.arrays))
    SegmentBank(meta, arrays).save(tmp_path / "crafted.npz")
    with pytest.raises(InputError, match=f"not a usable segment bank.*{reason}"):
        SegmentBank.load(tmp_path / "crafted.npz")


def test_an_empty_folder_makes_no_bank(tmp_path):
    with pytest.raises(InputError, match="no labelled photos"):
        SegmentBank.build([], STREET, SIZE, "street_32")


def test_bank_and_synth_commands(tmp_path, capsys, scene_json, street_data, monkeypatch):
    from models.training import canvas_trainer as trainer
    from tests.test_cli import run

    bank_path = tmp_path / "b.npz"
    code, _, err = run(capsys, "bank", "--model", scene_json, "--data", street_data, "--out", bank_path)
    assert code == 0 and bank_path.is_file() and "6 photos" in err
    mask = tmp_path / "mask.png"
    Image.fromarray(street_mask(77)).save(mask)
    out, canvas = tmp_path / "out.png", tmp_path / "canvas.png"
    args = ["synth", "--model", scene_json, "--mask", mask, "--bank", bank_path, "--out", out]
    code, _, err = run(capsys, *args)
    assert code == 2 and "has no canvas network" in err and "train-canvas" in err
    checkpoint = trainer.train_canvas(
        trainer.CanvasTrainOptions(
            data=[str(street_data)],
            runs_dir=str(tmp_path / "runs"),
            model=str(scene_json),
            width=4,
            size=16,
            batch_size=2,
            iterations=1,
            workers=0,
            lambda_vgg=0,
        )
    )
    export_canvas(checkpoint.parent, scene_json.parent)
    code, stdout, err = run(capsys, *args, "--show-canvas", canvas)
    # a square street layout is painted at its streets' 2:1 (the scheme's aspect), its canvas beside it too
    assert code == 0 and Image.open(out).size == (2 * SIZE, SIZE) and Image.open(canvas).size == (2 * SIZE, SIZE), err
    assert "pasted from" in stdout
    code, stdout, err = run(
        capsys,
        "lab",
        "eval",
        "--model",
        scene_json,
        "--images",
        street_data / "images",
        "--labels",
        street_data / "labels",
        "--generate",
        "bank",
        "--bank",
        bank_path,
        "--no-fid",
        "--json",
    )
    assert code == 0 and '"generate": "bank"' in stdout, err


@pytest.mark.parametrize(
    "case, message",
    [
        ("damaged bank", "not a usable segment bank"),
        ("other model's bank", "built for model"),
        ("generate without bank", "needs --bank"),
        ("canvas without bank", "--show-canvas needs --bank"),
    ],
)
def test_bank_commands_refuse_bad_input_in_one_line(
    tmp_path, capsys, scene_json, weights_json, street_data, case, message
):
    from tests.test_cli import run

    bank_path = tmp_path / "b.npz"
    SegmentBank.build(find_pairs(street_data), STREET, SIZE, "street_32").save(bank_path)
    mask = tmp_path / "mask.png"
    Image.fromarray(street_mask(5)).save(mask)
    synth = ["synth", "--mask", mask, "--out", tmp_path / "o.png"]
    if case == "damaged bank":
        (tmp_path / "d.npz").write_bytes(b"PK\x03\x04 truncated")
        args = synth + ["--model", scene_json, "--bank", tmp_path / "d.npz"]
    elif case == "other model's bank":
        Image.fromarray(toy_mask()).save(mask)
        Image.fromarray(toy_photo(toy_mask())).save(tmp_path / "p.png")
        args = synth + ["--model", weights_json, "--bank", bank_path]
    elif case == "generate without bank":
        args = [
            "lab",
            "eval",
            "--model",
            scene_json,
            "--images",
            street_data / "images",
            "--labels",
            street_data / "labels",
            "--generate",
            "bank",
            "--no-fid",
        ]
    else:
        args = synth + ["--model", scene_json, "--show-canvas", tmp_path / "c.png"]
    code, _, err = run(capsys, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def save_canvas_net(folder: Path, model_name: str, num_classes: int) -> None:
    """A random canvas network beside a model (its last layer not zero: it changes pictures)."""
    from models.inference.sims import CanvasInfo, canvas_weights_stem
    from models.inference.weights import write_weights

    torch.manual_seed(3)
    cfg = CanvasConfig(num_classes, width=4, levels=2)
    net = CanvasNet(cfg)
    torch.nn.init.normal_(net.to_rgb.weight, std=0.5)
    write_weights(folder / canvas_weights_stem(model_name), net, CanvasInfo(model_name, cfg, {}).to_dict())


def test_a_bank_fill_is_one_undo_step_and_is_saved_with_the_project(tmp_path):
    from app.editor.document import BankFill, Document

    doc = Document("street", STREET.names, street_mask(1))
    fill = BankFill(str(tmp_path / "b.npz"), classes=frozenset({2}))
    doc.set_bank(fill)
    key = (2, 20, 3)
    doc.set_bank(fill.adding(components=frozenset({(0, 31, 0)})).with_choice(key, 2))
    assert doc.bank.choice_map() == {key: 2} and doc.bank.covers(0, (0, 31, 0)) and not doc.bank.covers(1, (1, 0, 0))
    doc.save(tmp_path / "p.sean")
    assert Document.load(tmp_path / "p.sean").bank == doc.bank
    assert doc.undo() and doc.bank == fill and doc.undo() and doc.bank is None
    assert fill.adding().classes is None  # the whole layout


def test_bench_and_figure_time_and_show_sims(tmp_path, capsys, scene_json, street_data):
    from models.bench.speed import measure_bank
    from tests.test_cli import run

    bank_path = tmp_path / "b.npz"
    SegmentBank.build(find_pairs(street_data), STREET, SIZE, "street_32").save(bank_path)
    save_canvas_net(scene_json.parent, "street_32", STREET.num_classes)
    engine = Engine.load(str(scene_json), "cpu")
    result = measure_bank(engine, str(bank_path), street_mask(40), layouts=2)
    assert (
        result["components"] >= 2
        and result["retrieve_ms"] > 0
        and result["segments"] == len(SegmentBank.load(bank_path))
    )
    given = measure_bank(engine, str(bank_path), street_mask(40), given=[street_mask(41, cars=3)])
    assert given["components"] == len(components(street_mask(41, cars=3)))
    out = tmp_path / "figure.png"
    code, _, err = run(
        capsys,
        "lab",
        "figure-bank",
        "--model",
        scene_json,
        "--bank",
        bank_path,
        "--images",
        street_data / "images",
        "--labels",
        street_data / "labels",
        "--rows",
        2,
        "--out",
        out,
    )
    width, height = Image.open(out).size
    assert code == 0 and height == 2 * SIZE + 4 and width == 4 * SIZE + 12, err


def test_a_bank_gives_a_painted_class_exemplars_at_the_photos_scale(bank):
    """A fill's exemplars for a class the photo lacks: the bank photo with most of the
    class, scaled to the photo's pixels, cropped around the class; none for a class the
    bank has not."""
    from models.inference.texture_fill import EXEMPLAR_SIDE, bank_exemplars

    label = int(np.bincount(bank.arrays["seg_label"], weights=bank.arrays["seg_area"]).argmax())
    (picture, labels), *rest = bank_exemplars(bank, [label], 3.0)
    assert not rest and picture.shape[:2] == labels.shape
    assert max(labels.shape) == min(EXEMPLAR_SIDE, 3 * SIZE) and (labels == label).any()
    assert bank_exemplars(bank, [200], 3.0) == []
