"""SEANConfig: the sizes of a SEAN network (the paper's, or our lite ones), and the layout
of its seven ResBlks."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Channel multipliers of the seven ResBlks (input, output) in units of ngf, as in SPADE.
BLOCK_NAMES = ("head_0", "middle_0", "middle_1", "up_0", "up_1", "up_2", "up_3")
BLOCK_MULTS = ((16, 16), (16, 16), (16, 16), (16, 8), (8, 4), (4, 2), (2, 1))
# Blocks preceded by a 2x upsampling; the first block works at size / 32.
UPSAMPLE_BEFORE = frozenset({1, 3, 4, 5, 6})
NUM_BLOCKS = len(BLOCK_NAMES)
DOWNSCALE = 32  # output size / first feature map size


@dataclass(frozen=True)
class SEANConfig:
    num_classes: int = 19  # s: classes in the mask = rows of the style matrix
    style_dim: int = 512  # length of one region's style code
    ngf: int = 64  # generator width unit
    max_channels: int = 1024  # cap on generator channels
    enc_ngf: int = 32  # style encoder width unit
    mask_hidden: int = 128  # hidden channels of the mask (SPADE) branch
    style_hidden: int = 512  # output width of the per-class transform A
    proj_kernel: int = 3  # gamma/beta projections: 3 (paper) or 1 (project codes, then broadcast)
    block_shared: bool = False  # norms of a ResBlk share A and the mask branch's first conv
    norm: str = "batch"  # parameter-free norm: "batch" or "instance"
    context_hidden: int = 0  # ours: hidden width of the encoder's StyleContext (0: none, as in the paper)

    @classmethod
    def paper(cls, num_classes: int = 19) -> "SEANConfig":
        return cls(num_classes=num_classes)

    @classmethod
    def lite(cls, num_classes: int = 19) -> "SEANConfig":
        return cls(
            num_classes=num_classes,
            ngf=12,
            max_channels=192,
            enc_ngf=16,
            mask_hidden=32,
            style_hidden=128,
            proj_kernel=1,
            block_shared=True,
        )

    @classmethod
    def named(cls, name: str, num_classes: int) -> "SEANConfig":
        presets = {"paper": cls.paper, "lite": cls.lite}
        if name not in presets:
            raise ValueError(f"unknown config {name!r}; choose one of {sorted(presets)}")
        return presets[name](num_classes)

    def to_dict(self) -> dict:
        return asdict(self)

    def block_channels(self) -> list[tuple[int, int]]:
        return [(min(a * self.ngf, self.max_channels), min(b * self.ngf, self.max_channels)) for a, b in BLOCK_MULTS]
