"""The benchmark commands report what they measure (speed itself is not asserted)."""

import json

import numpy as np

from app.cli import main
from app.editor.qt.edit_bench import measure_edit_loop, percentile
from models.bench.speed import measure
from models.inference.engine import Engine


def test_measure_reports_stable_keys():
    r = measure("lite", 64, "cpu", "fp32", repeats=2)
    assert set(r) == {
        "config",
        "size",
        "device",
        "dtype",
        "synth_ms",
        "paint_ms",
        "style_change_ms",
        "encode_ms",
        "context_ms",
        "refine_step_ms",
        "generator_params",
        "encoder_params",
        "peak_memory_mb",
    }
    assert (
        r["synth_ms"] > 0
        and r["paint_ms"] > 0
        and r["refine_step_ms"] > 0
        and r["context_ms"] > 0
        and r["generator_params"] > 1e6
    )


def test_bench_command_json(capsys):
    code = main(["lab", "bench", "--configs", "lite", "--sizes", "64", "--repeats", "2", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["schema"] == 6 and result["runs"][0]["config"] == "lite"
    assert result["parse_ms"] > 0 and result["parser"]["size"] == 64 and result["edit_loop"] is None


def test_edit_loop_measures_every_brush_event(qtbot, weights_json):
    r = measure_edit_loop(Engine.load(str(weights_json), "cpu"), seconds=0.5, rate_hz=40)
    assert r["edits"] >= 10 and r["frames"] >= 1
    assert 0 < r["latency_p50_ms"] <= r["latency_p95_ms"] <= r["latency_max_ms"]
    assert 0 < r["frame_p50_ms"] <= r["latency_max_ms"]  # a frame's own time is part of its latency


def test_the_fill_bench_times_a_painted_square_at_full_resolution():
    from models.bench import speed

    r = speed.measure_fill(side=40, repeats=1)
    assert r["side"] == 40 and r["fill_s"] > 0
    assert main(["lab", "bench", "--fill", "--help"]) == 0


def test_percentile():
    assert percentile(list(range(1, 101)), 95) == 95 and percentile([3.0], 95) == 3.0


def test_samples_and_figure_commands(tmp_path, capsys, weights_json):
    from tests.test_metrics_eval import write_folder

    write_folder(tmp_path / "set", 3)
    folder = ["--images", str(tmp_path / "set" / "images"), "--labels", str(tmp_path / "set" / "labels")]
    assert (
        main(["lab", "samples", *folder, "--count", "2", "--out", str(tmp_path / "s"), "--model", str(weights_json)])
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "mask.png",
        "style_01.npz",
        "style_01.png",
        "style_02.npz",
        "style_02.png",
    ]
    assert (
        main(
            [
                "lab",
                "figure",
                *folder,
                "--rows",
                "2",
                "--swap",
                "r_eye",
                "--out",
                str(tmp_path / "f.png"),
                "--model",
                str(weights_json),
            ]
        )
        == 0
    )
    from PIL import Image

    w, h = Image.open(tmp_path / "f.png").size
    assert h == 2 * 32 + 4 and w == 7 * 32 + 6 * 4  # mask, recon, swap, 4 interpolation steps
    assert (
        main(
            [
                "lab",
                "figure",
                *folder,
                "--swap",
                "wings",
                "--out",
                str(tmp_path / "g.png"),
                "--model",
                str(weights_json),
            ]
        )
        == 2
    )
    assert (
        main(
            [
                "lab",
                "figure",
                *folder,
                "--rows",
                "1",
                "--pick",
                "2,0",
                "--swap",
                "skin",
                "--out",
                str(tmp_path / "p.png"),
                "--model",
                str(weights_json),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "lab",
                "figure",
                *folder,
                "--rows",
                "1",
                "--pick",
                "2,0",
                "--swap",
                "skin",
                "--out",
                str(tmp_path / "r.png"),
                "--refine",
                "5",
                "--model",
                str(weights_json),
            ]
        )
        == 0
    )
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "r.png")), np.asarray(Image.open(tmp_path / "p.png")))
    assert (
        main(
            [
                "lab",
                "figure",
                *folder,
                "--rows",
                "1",
                "--pick",
                "2,9",
                "--out",
                str(tmp_path / "q.png"),
                "--swap",
                "skin",
                "--model",
                str(weights_json),
            ]
        )
        == 2
    )


def test_figure_compare_puts_models_side_by_side(tmp_path, capsys, weights_json, scene_json):
    import torch
    from PIL import Image

    from models.nets.sean import SEAN
    from tests.conftest import save_toy_weights
    from tests.helpers import TOY, tiny_config
    from tests.test_metrics_eval import write_folder

    write_folder(tmp_path / "set", 3)
    folder = ["--images", str(tmp_path / "set" / "images"), "--labels", str(tmp_path / "set" / "labels")]
    torch.manual_seed(9)
    (tmp_path / "other").mkdir()
    other = save_toy_weights(tmp_path / "other", "toy", TOY, SEAN(tiny_config()).eval())
    models = f"{weights_json},{other}"
    assert (
        main(
            [
                "lab",
                "figure-compare",
                *folder,
                "--models",
                models,
                "--pick",
                "0,2",
                "--mask-noise",
                "1",
                "--out",
                str(tmp_path / "c.png"),
            ]
        )
        == 0
    )
    figure = np.asarray(Image.open(tmp_path / "c.png"))
    assert figure.shape[:2] == (2 * 32 + 4, 6 * 32 + 5 * 4)  # mask, two models; painted mask, two models
    cell = lambda row, col: figure[row * 36 : row * 36 + 32, col * 36 : col * 36 + 32]
    assert not np.array_equal(cell(0, 1), cell(0, 2))  # two models, two pictures
    assert not np.array_equal(cell(0, 0), cell(0, 3))  # the painted mask differs from the mask
    assert (
        main(
            [
                "lab",
                "figure-compare",
                *folder,
                "--models",
                f"{weights_json},{scene_json}",
                "--out",
                str(tmp_path / "d.png"),
            ]
        )
        == 2
    )
    assert "one kind of model" in capsys.readouterr().err
    assert (
        main(["lab", "figure-compare", *folder, "--models", models, "--pick", "0,7", "--out", str(tmp_path / "e.png")])
        == 2
    )
