"""Shared fixtures; the data they use is generated in tests/helpers.py."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from models.inference.weights import ModelInfo, save_weights
from models.nets.sean import SEAN
from tests.helpers import SIZE, STREET, TOY, tiny_config, toy_mask, toy_photo

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The editor's autosaves go to a data folder of the test run's own, never the user's.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="sean-studio-tests-")
torch.set_num_threads(1)  # toy networks gain nothing from threads; keeps CI predictable


@pytest.fixture
def tiny_model() -> SEAN:
    torch.manual_seed(0)
    return SEAN(tiny_config()).eval()


def save_toy_weights(folder: Path, model: str, labels, net: SEAN) -> Path:
    """`net` saved as MODEL_32 in `folder`, with made-up style statistics."""
    info = ModelInfo(
        name=f"{model}_{SIZE}", model=model, labels=labels, image_size=SIZE, config_name="lite", config=net.cfg
    )
    torch.manual_seed(1)
    mean = torch.rand(labels.num_classes, net.cfg.style_dim) * 0.5
    save_weights(folder / info.name, net, info, mean, torch.full_like(mean, 0.1))
    return folder / f"{info.name}.json"


@pytest.fixture
def weights_json(tmp_path: Path, tiny_model: SEAN) -> Path:
    """A saved toy model, loadable by path like any shipped model."""
    return save_toy_weights(tmp_path, "toy", TOY, tiny_model)


@pytest.fixture
def scene_json(weights_json: Path) -> Path:
    """A second toy model beside the first, of another kind: street scenes, no parser."""
    torch.manual_seed(4)
    return save_toy_weights(weights_json.parent, "street", STREET, SEAN(tiny_config(STREET.num_classes)).eval())


@pytest.fixture
def toy_parser(weights_json: Path) -> Path:
    """A tiny untrained parser beside the toy model, found by the toy_parser.json convention."""
    from models.inference.parser import ParserInfo, save_parser
    from models.nets.parser import FaceParser, ParserConfig

    torch.manual_seed(2)
    net = FaceParser(ParserConfig(num_classes=4, widths=(4, 8, 8, 8, 8), input_size=SIZE)).eval()
    stem = weights_json.parent / "toy_parser"
    save_parser(stem, net, ParserInfo("toy_parser", "toy", TOY, net.cfg))
    return stem.with_suffix(".json")


@pytest.fixture
def toy_files(tmp_path: Path) -> dict[str, Path]:
    """A style photo with its index mask, and a target mask, as PNG files."""
    mask = toy_mask()
    paths = {"photo": tmp_path / "photo.png", "mask": tmp_path / "mask.png", "target": tmp_path / "target.png"}
    Image.fromarray(toy_photo(mask)).save(paths["photo"])
    Image.fromarray(mask).save(paths["mask"])
    Image.fromarray(toy_mask(shift=3)).save(paths["target"])
    return paths
