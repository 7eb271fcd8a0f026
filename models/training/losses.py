"""What training optimises. For SEAN: the hinge GAN loss and feature matching on the
multi-scale discriminator (models/nets/discriminator.py) and the VGG19 perceptual loss
(pix2pixHD / SPADE / SEAN recipe); the trainer adds an L1 term, a strong reconstruction
signal early on a small compute budget, and SSIM (models/evaluation/metrics.py) for
sessions that train for faithful reconstruction. For the face parser: cross-entropy with
soft Dice, and distillation towards the BiSeNet teacher.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.nets.vgg import VGG19Features


def d_hinge_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    return sum(F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean() for r, f in zip(real, fake)) / len(real)


def g_hinge_loss(fake: list[list[torch.Tensor]]) -> torch.Tensor:
    return -sum(f[-1].mean() for f in fake) / len(fake)


def feature_matching_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """L1 between the discriminator's intermediate features on real and fake images."""
    total = sum(F.l1_loss(f, r.detach()) for rs, fs in zip(real, fake) for r, f in zip(rs[:-1], fs[:-1]))
    return total / len(real)


VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
# The Caffe VGG sees 0-255 input, so its activations are about 255 x 0.226 (ImageNet std)
# = 58 times those of the normalised-input VGG that the paper's lambda_vgg = 10 was tuned
# with; dividing by that keeps the paper's loss weight meaningful.
CAFFE_SCALE = 1 / 57.8


class VGGLoss(nn.Module):
    """SPADE's perceptual loss. With `size`, both images are first area-resized to at most
    size x size: VGG19 is most of a training step's time on a CPU, and at half the side
    it costs a quarter (the L1 and feature-matching losses still see every pixel)."""

    def __init__(self, vgg: VGG19Features, size: int = 0):
        super().__init__()
        self.vgg = vgg
        self.size = size

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if self.size and max(fake.shape[-2:]) > self.size:
            scale = self.size / max(fake.shape[-2:])
            size = (round(fake.shape[-2] * scale), round(fake.shape[-1] * scale))
            fake, real = F.interpolate(fake, size=size, mode="area"), F.interpolate(real, size=size, mode="area")
        f_fake, f_real = self.vgg(fake), self.vgg(real)
        total = sum(w * F.l1_loss(a, b.detach()) for w, a, b in zip(VGG_LAYER_WEIGHTS, f_fake, f_real))
        return total * CAFFE_SCALE


def parser_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy + soft Dice over the classes present in the batch."""
    ce = F.cross_entropy(logits, labels)
    probs = logits.softmax(1)
    target = F.one_hot(labels, logits.shape[1]).permute(0, 3, 1, 2).float()
    inter = (probs * target).sum((0, 2, 3))
    total = probs.sum((0, 2, 3)) + target.sum((0, 2, 3))
    present = target.sum((0, 2, 3)) > 0
    dice = 1 - (2 * inter[present] + 1) / (total[present] + 1)
    return ce + dice.mean()


def distillation_loss(logits: torch.Tensor, teacher: torch.Tensor, has_teacher: torch.Tensor) -> torch.Tensor:
    """KL(teacher || parser) per pixel, averaged over the items that have teacher scores.
    The teacher's soft scores say more than its label maps: how sure it is along every
    boundary, and what the runner-up class is (eye or brow, lip or mouth)."""
    kl = (teacher.softmax(1) * (teacher.log_softmax(1) - logits.log_softmax(1))).sum(1).mean((1, 2))
    weight = has_teacher.float()
    return (kl * weight).sum() / weight.sum().clamp(min=1)
