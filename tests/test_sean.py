"""The network: shapes, the style matrix is per region, per-block styles, both configs."""
import pytest
import torch

from models.sean import NUM_BLOCKS, SEAN, SEANConfig, one_hot
from tests.helpers import SIZE, tiny_config, toy_mask, toy_photo


def inputs(cfg: SEANConfig, batch: int = 2):
    mask = torch.from_numpy(toy_mask()).long().expand(batch, SIZE, SIZE)
    image = torch.from_numpy(toy_photo(toy_mask())).permute(2, 0, 1).float().div(127.5).sub(1)
    return image.expand(batch, 3, SIZE, SIZE), one_hot(mask, cfg.num_classes)


@pytest.mark.parametrize("cfg", [tiny_config(), tiny_config(proj_kernel=3, block_shared=False)],
                         ids=["lite", "paper-layout"])
def test_shapes(cfg):
    model = SEAN(cfg).eval()
    image, seg = inputs(cfg)
    style, present = model.encoder(image, seg)
    assert style.shape == (2, cfg.num_classes, cfg.style_dim)
    assert present.shape == (2, cfg.num_classes) and present.all()
    assert model.generator(seg, style).shape == (2, 3, SIZE, SIZE)


def test_absent_class_has_no_code(tiny_model):
    image, seg = inputs(tiny_model.cfg, batch=1)
    seg = seg.clone()
    seg[:, 0] += seg[:, 3]   # relabel the right eye as background
    seg[:, 3] = 0
    style, present = tiny_model.encoder(image, seg)
    assert present[0].tolist() == [True, True, True, False]
    assert torch.count_nonzero(style[0, 3]) == 0


def test_presets_follow_the_paper_and_lite_is_small():
    paper, lite = SEANConfig.paper(19), SEANConfig.lite(19)
    assert paper.ngf == 64 and paper.proj_kernel == 3 and paper.style_dim == lite.style_dim == 512
    count = lambda cfg: sum(p.numel() for p in SEAN(cfg).generator.parameters())
    assert count(lite) * 10 < count(paper)


def test_style_of_one_class_changes_mostly_that_region(tiny_model):
    """Change only the skin code: pixels outside skin should barely move."""
    torch.manual_seed(0)
    cfg = tiny_model.cfg
    _, seg = inputs(cfg, batch=1)
    style = torch.rand(1, cfg.num_classes, cfg.style_dim)
    changed = style.clone()
    changed[0, 1] = -changed[0, 1]
    with torch.no_grad():
        diff = (tiny_model.generator(seg, style) - tiny_model.generator(seg, changed)).abs().mean(1)[0]
    inside = seg[0, 1].bool()
    assert diff[inside].mean() > 5 * diff[~inside].mean()


def test_per_block_styles_are_honoured(tiny_model):
    torch.manual_seed(0)
    cfg = tiny_model.cfg
    _, seg = inputs(cfg, batch=1)
    a, b = torch.rand(2, 1, cfg.num_classes, cfg.style_dim)
    with torch.no_grad():
        out_a = tiny_model.generator(seg, a)
        assert torch.equal(out_a, tiny_model.generator(seg, [a] * NUM_BLOCKS))
        mixes = [tiny_model.generator(seg, [b] * k + [a] * (NUM_BLOCKS - k)) for k in (1, 4)]
    assert not torch.allclose(mixes[0], out_a)
    assert not torch.allclose(mixes[0], mixes[1])


def test_wrong_sizes_are_refused(tiny_model):
    cfg = tiny_model.cfg
    seg = one_hot(torch.zeros(1, 40, 40, dtype=torch.long), cfg.num_classes)
    with pytest.raises(ValueError, match="multiple of 32"):
        tiny_model.generator(seg, torch.zeros(1, cfg.num_classes, cfg.style_dim))
    _, seg = inputs(cfg, batch=1)
    with pytest.raises(ValueError, match="style matrices"):
        tiny_model.generator(seg, [torch.zeros(1, cfg.num_classes, cfg.style_dim)] * 3)
