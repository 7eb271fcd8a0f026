"""Shared fixtures; the data they use is generated in tests/helpers.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from models.sean import SEAN
from models.weights import ModelInfo, save_weights
from tests.helpers import SIZE, TOY, tiny_config, toy_mask, toy_photo

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
torch.set_num_threads(1)  # toy networks gain nothing from threads; keeps CI predictable


@pytest.fixture
def tiny_model() -> SEAN:
    torch.manual_seed(0)
    return SEAN(tiny_config()).eval()


@pytest.fixture
def weights_json(tmp_path: Path, tiny_model: SEAN) -> Path:
    """A saved toy model, loadable by path like any shipped model."""
    cfg = tiny_model.cfg
    info = ModelInfo(name="toy_32", model="toy", labels=TOY, image_size=SIZE,
                     config_name="lite", config=cfg)
    torch.manual_seed(1)
    mean = torch.rand(cfg.num_classes, cfg.style_dim) * 0.5
    save_weights(tmp_path / "toy_32", tiny_model, info, mean, torch.full_like(mean, 0.1))
    return tmp_path / "toy_32.json"


@pytest.fixture
def toy_parser(weights_json: Path) -> Path:
    """A tiny untrained parser beside the toy model, found by the toy_parser.json convention."""
    from models.parser import FaceParser, ParserConfig, ParserInfo, save_parser
    torch.manual_seed(2)
    net = FaceParser(ParserConfig(num_classes=4, widths=(4, 8, 8, 8, 8), input_size=SIZE)).eval()
    stem = weights_json.parent / "toy_parser"
    save_parser(stem, net, ParserInfo("toy_parser", "toy", TOY, net.cfg))
    return stem.with_suffix(".json")


@pytest.fixture
def toy_files(tmp_path: Path) -> dict[str, Path]:
    """A style photo with its index mask, and a target mask, as PNG files."""
    mask = toy_mask()
    paths = {"photo": tmp_path / "photo.png", "mask": tmp_path / "mask.png",
             "target": tmp_path / "target.png"}
    Image.fromarray(toy_photo(mask)).save(paths["photo"])
    Image.fromarray(mask).save(paths["mask"])
    Image.fromarray(toy_mask(shift=3)).save(paths["target"])
    return paths
