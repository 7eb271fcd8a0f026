"""Named training recipes: the values a kind of run starts from, beside the trainers.
`python main.py train --preset NAME` (and `lab gpu-round`, whose default is
face-gpu-round) takes them; a flag given on the command line wins over its preset.
Where each recipe was measured: docs/RESULTS.md."""

from __future__ import annotations

# The adversarial fine-tune of the shipped face model on a lent GPU (docs/RESULTS.md, "A
# GPU round, prepared"): the paper's losses plus L1, painted masks for half the images,
# batch 16 at 256 px, five minutes, checkpoints that a short round can keep.
FACE_GPU_ROUND = dict(
    init_from="face",
    context_hidden=512,
    size=256,
    batch_size=16,
    holdout=[0],
    minutes=5.0,
    iterations=1_000_000,
    lambda_gan=1.0,
    lambda_feat=10.0,
    lambda_vgg=10.0,
    lambda_l1=10.0,
    ema_decay=0.999,
    mask_noise=0.5,
    workers=12,
    checkpoint_every=500,
    sample_every=1000,
)

# The same against the projected discriminator (frozen EfficientNet-Lite0 features): no
# feature matching (its heads have no features worth matching), a lighter VGG term.
FACE_GPU_PROJECTED = {**FACE_GPU_ROUND, "disc": "projected", "lambda_feat": 0.0, "lambda_vgg": 5.0, "lambda_l1": 2.0}

# The CPU run of the projected discriminator in the background of a session: batch 4, the
# VGG loss at 128 px (twice the steps per CPU-hour), the generator's rate a fifth of the
# paper's so that it moves while the heads learn, a shorter moving average for a short run.
FACE_CPU_PROJECTED = dict(
    init_from="face",
    context_hidden=512,
    batch_size=4,
    lr_g=2e-5,
    lr_d=2e-4,
    lambda_gan=1.0,
    lambda_feat=0.0,
    lambda_vgg=5.0,
    vgg_size=128,
    lambda_l1=2.0,
    mask_noise=0.5,
    disc="projected",
    ema_decay=0.995,
    checkpoint_every=50,
    workers=0,
)

PRESETS: dict[str, dict] = {
    "face-gpu-round": FACE_GPU_ROUND,
    "face-gpu-projected": FACE_GPU_PROJECTED,
    "face-cpu-projected": FACE_CPU_PROJECTED,
}


def preset(name: str) -> dict:
    """The recipe `name` (a copy), or ValueError naming the recipes there are."""
    if name not in PRESETS:
        raise ValueError(f"no training preset {name!r}; there are: {', '.join(PRESETS)}")
    return {k: list(v) if isinstance(v, list) else v for k, v in PRESETS[name].items()}
