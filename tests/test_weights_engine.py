"""Shipped-weights format and the engine API."""

import json

import numpy as np
import pytest
import torch

from models.data.files import InputError
from models.inference.engine import Engine
from models.inference.styles import StyleMatrix
from models.nets.sean import NUM_BLOCKS, one_hot
from tests.helpers import SIZE, toy_mask, toy_photo


def test_save_load_gives_identical_outputs(weights_json, tiny_model):
    engine = Engine.load(str(weights_json), "cpu")
    mask = toy_mask()
    style = engine.encode(toy_photo(mask), mask)
    reloaded = Engine.load(str(weights_json), "cpu")
    assert np.array_equal(engine.synthesize(mask, style), reloaded.synthesize(mask, style))
    # fp16 storage: the reloaded model matches the original within half precision
    original = Engine(
        tiny_model,
        engine.info,
        torch.from_numpy(engine.mean_style.codes),
        torch.from_numpy(engine.style_std),
        engine.device,
    )
    diff = np.abs(original.synthesize(mask, style).astype(int) - engine.synthesize(mask, style))
    assert diff.mean() < 2


def test_synthesize_is_deterministic_and_sized(weights_json):
    engine = Engine.load(str(weights_json), "cpu")
    big_mask = np.kron(toy_mask(), np.ones((3, 3), np.uint8))  # any size is resized to the model's
    out = engine.synthesize(big_mask, engine.mean_style)
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8
    assert np.array_equal(out, engine.synthesize(big_mask, engine.mean_style))


def test_missing_classes_fall_back_to_mean(weights_json):
    engine = Engine.load(str(weights_json), "cpu")
    mask = toy_mask()
    no_eyes = np.where(mask >= 2, 1, mask).astype(np.uint8)
    style = engine.encode(toy_photo(mask), no_eyes)
    assert style.present.tolist() == [True, True, False, False]
    filled = style.filled_from(engine.mean_style)
    assert np.array_equal(filled.codes[2], engine.mean_style.codes[2])
    assert np.array_equal(filled.codes[1], style.codes[1])


def test_per_block_styles_through_engine(weights_json):
    engine = Engine.load(str(weights_json), "cpu")
    mask = toy_mask()
    a = engine.encode(toy_photo(mask, seed=1), mask)
    b = engine.random_style(np.random.default_rng(0))
    assert np.array_equal(engine.synthesize(mask, a), engine.synthesize(mask, [a] * NUM_BLOCKS))
    assert not np.array_equal(engine.synthesize(mask, a), engine.synthesize(mask, [b] + [a] * 6))
    with pytest.raises(InputError, match="one per block"):
        engine.synthesize(mask, [a, b])


def test_codes_file_round_trip(tmp_path, weights_json):
    engine = Engine.load(str(weights_json), "cpu")
    mask = toy_mask()
    style = engine.encode(toy_photo(mask), mask)
    style.save(tmp_path / "codes.npz", "toy", engine.labels.names)
    cfg = engine.info.config
    back = StyleMatrix.load(tmp_path / "codes.npz", cfg.num_classes, cfg.style_dim)
    assert np.array_equal(back.codes, style.codes) and np.array_equal(back.present, style.present)
    with pytest.raises(InputError, match="another model"):
        StyleMatrix.load(tmp_path / "codes.npz", cfg.num_classes + 1, cfg.style_dim)


def test_bad_weights_are_reported(tmp_path, weights_json):
    with pytest.raises(InputError, match="unknown model"):
        Engine.load("nosuchmodel", "cpu", weights_dir=tmp_path)
    weights_json.with_suffix(".safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="damaged"):
        Engine.load(str(weights_json), "cpu")
    weights_json.with_suffix(".safetensors").unlink()
    with pytest.raises(InputError, match="missing"):
        Engine.load(str(weights_json), "cpu")
    meta = json.loads(weights_json.read_text())
    del meta["config"]
    weights_json.write_text(json.dumps(meta))
    with pytest.raises(InputError, match="not a valid"):
        Engine.load(str(weights_json), "cpu")


def test_model_found_by_name(weights_json):
    engine = Engine.load("toy", "cpu", weights_dir=weights_json.parent)
    assert engine.info.name == "toy_32" and engine.size == SIZE


def test_bad_mask_and_image_rejected(weights_json):
    engine = Engine.load(str(weights_json), "cpu")
    mask = toy_mask()
    with pytest.raises(InputError, match="holds label 7"):
        engine.synthesize(np.full_like(mask, 7), engine.mean_style)
    with pytest.raises(InputError, match="same size"):
        engine.encode(toy_photo(mask)[:-2], mask)


def test_half_precision_path_stays_close(weights_json):
    """CUDA runs in fp16; the same reduced-precision path (bf16 here, on the CPU) must agree."""
    from models.inference.weights import load_weights

    half = Engine(*load_weights(weights_json), torch.device("cpu"), dtype=torch.bfloat16)
    full = Engine.load(str(weights_json), "cpu")
    mask = toy_mask()
    style = half.encode(toy_photo(mask), mask)
    assert style.codes.dtype == np.float32
    diff = np.abs(full.synthesize(mask, style).astype(int) - half.synthesize(mask, style))
    assert diff.mean() < 6


def test_the_engine_redoes_style_work_only_when_styles_change(weights_json):
    engine = Engine.load(str(weights_json), "cpu")
    mask, rng = toy_mask(), np.random.default_rng(0)
    a, b = engine.random_style(rng), engine.random_style(rng)
    first = engine.synthesize(mask, a)
    assert not np.array_equal(engine.synthesize(mask, b), first)
    assert np.array_equal(engine.synthesize(mask, a), first)
    assert not np.array_equal(engine.synthesize(toy_mask(shift=2), a), engine.synthesize(mask, a))
    crossover = engine.synthesize(mask, [a] * 3 + [b] * 4)
    assert not np.array_equal(crossover, first)
    with torch.inference_mode():  # the plain generator call, no engine caching
        seg = one_hot(torch.from_numpy(mask)[None], engine.info.config.num_classes)
        direct = engine.model.generator(seg, torch.from_numpy(a.filled_from(engine.mean_style).codes)[None])
    direct = direct[0].permute(1, 2, 0).add(1).mul(127.5).round().clamp(0, 255).byte().numpy()
    assert np.abs(direct.astype(int) - first).max() <= 1


def test_frames_while_painting_equal_frames_made_afresh(weights_json):
    """Painting reuses the last frame's mask-and-style work outside the stroke: every frame
    must still be the one a fresh engine makes for that mask."""
    engine = Engine.load(str(weights_json), "cpu")
    style = engine.random_style(np.random.default_rng(0))
    mask = toy_mask()
    engine.synthesize(mask, style)
    for top, left, label in [(3, 4, 1), (3, 6, 2), (20, 25, 3), (0, 0, 0), (0, 0, 0)]:
        mask = mask.copy()
        mask[top : top + 4, left : left + 5] = label
        fresh = Engine.load(str(weights_json), "cpu")
        assert np.array_equal(engine.synthesize(mask, style), fresh.synthesize(mask, style))
    everything = np.full_like(mask, 2)
    assert np.array_equal(
        engine.synthesize(everything, style), Engine.load(str(weights_json), "cpu").synthesize(everything, style)
    )


def test_refining_brings_the_codes_closer_to_the_photo(weights_json):
    engine = Engine.load(str(weights_json), "cpu")
    mask = toy_mask()
    mask[mask == 3] = 2  # no r_eye: a class the photo lacks
    photo = toy_photo(mask, seed=3)
    engine.synthesize(mask, engine.mean_style)  # a frame first: its kept constants must not block backward
    plain = engine.encode(photo, mask)
    refiner = engine.refiner(photo, mask, plain)
    refined = refiner.step(20)
    error = lambda style: np.mean((engine.synthesize(mask, style).astype(float) - photo) ** 2)
    assert error(refined) < error(plain)
    assert refiner.steps_done == 20 and np.abs(refined.codes).max() <= 1
    assert not refined.present[3] and np.array_equal(refined.codes[3], plain.codes[3])
    assert np.array_equal(engine.encode(photo, mask, refine_steps=20).codes, refined.codes)
