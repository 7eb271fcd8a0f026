"""Hand-painted-looking masks: what they change, and the evaluation and training that use them."""

import json

import numpy as np
import pytest
import torch

from app.cli import main
from models.data.mask_noise import hand_drawn, without_small_parts
from tests.helpers import toy_mask
from tests.test_metrics_eval import write_folder


def face_like(size: int = 128) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    m[size // 4 :, size // 4 : 3 * size // 4] = 1
    m[size // 2 : size // 2 + 8, size // 3 : size // 3 + 10] = 2
    m[3, 3] = 3  # a speck
    return m


def test_a_painted_mask_moves_boundaries_keeps_the_regions_and_drops_specks():
    mask = face_like()
    drawn = hand_drawn(mask, np.random.default_rng(0))
    changed = (drawn != mask).mean()
    assert 0.005 < changed < 0.2  # boundaries moved, the picture the same
    assert set(np.unique(drawn)) <= set(np.unique(mask)) and 3 not in drawn
    assert np.array_equal(hand_drawn(mask, np.random.default_rng(0), 0.0), mask)
    assert np.array_equal(drawn, hand_drawn(mask, np.random.default_rng(0)))  # seeded: reproducible
    assert (hand_drawn(mask, np.random.default_rng(0), 2.0) != mask).mean() > changed


def test_small_parts_take_the_label_around_them():
    mask = np.ones((20, 20), np.uint8)
    mask[5:7, 5:7] = 2
    assert not (without_small_parts(mask, 5) == 2).any()
    assert (without_small_parts(mask, 4) == 2).sum() == 4


def test_eval_reports_clean_and_painted_masks(tmp_path, capsys, weights_json):
    write_folder(tmp_path / "set", 3)
    folder = ["--images", str(tmp_path / "set" / "images"), "--labels", str(tmp_path / "set" / "labels")]
    results = {}
    for noise in ("0", "1.5"):
        assert (
            main(["lab", "eval", "--model", str(weights_json), *folder, "--no-fid", "--json", "--mask-noise", noise])
            == 0
        )
        results[noise] = json.loads(capsys.readouterr().out)
    assert results["0"]["mask_noise"] == 0 and results["1.5"]["mask_noise"] == 1.5
    assert results["1.5"]["psnr"] != results["0"]["psnr"]
    assert main(["lab", "eval", "--model", str(weights_json), *folder, "--mask-noise", "9"]) == 2
    assert "--mask-noise" in capsys.readouterr().err


def test_training_with_painted_masks_gives_the_generator_the_painted_one(tmp_path):
    from models.training.sean_trainer import Trainer
    from tests.helpers import tiny_config
    from tests.test_train import options

    torch.manual_seed(0)
    trainer = Trainer(options(tmp_path, mask_noise=1.0), tiny_config(19))
    batch = next(trainer.loader())
    assert "drawn" in batch and (batch["drawn"] != batch["label"]).any()
    losses = trainer.train_step(batch, trainer.model, trainer.disc)
    assert np.isfinite(list(losses.values())).all()


@pytest.mark.parametrize("size", [32, 64])
def test_painting_any_mask_size_keeps_its_shape(size):
    assert hand_drawn(toy_mask(size), np.random.default_rng(1)).shape == (size, size)
