"""SEAN: semantic region-adaptive normalization (Zhu et al., CVPR 2020, arXiv 1911.12861).

The whole network in one module, with the paper's names:

    style image + its mask --StyleEncoder--> style matrix ST (B, s, 512)
    mask + ST (one per block, or shared) --SEANGenerator--> image

(ours, optional: the StyleEncoder adds a StyleContext's correction to ST, see that class)

The generator is SPADE's: a downsampled mask goes through a conv, then seven SEAN
ResBlks (head_0, middle_0, middle_1, up_0..up_3) with 2x upsampling between them, then
a conv to RGB.  Every normalisation inside a ResBlk is a SEAN normalisation
(`SEANNorm`):

    x' = norm(x + noise)                               parameter-free norm, learned noise
    gamma_s, beta_s = style branch(ST, mask)            per-class transform A, broadcast to regions
    gamma_m, beta_m = mask branch(mask)                 SPADE: mask -> conv -> relu -> conv
    gamma = a_g gamma_s + (1 - a_g) gamma_m             learned blend a = sigmoid(alpha)
    out = x' (1 + gamma) + beta

Two configurations come from this one code path (`SEANConfig.paper`, `SEANConfig.lite`):

* `paper`: the published sizes.  The style branch broadcasts each region's transformed
  code A_c(ST_c) into a 512-channel map and runs a 3x3 conv over it, at every pixel, in
  every normalisation (this is where most of SEAN's 267 M parameters and time go).
* `lite`: the same semantics, rearranged for speed.  Inside a region (every pixel whose
  3x3 neighbourhood has one class) a 3x3 conv over a constant map equals a 1x1 conv with
  the kernel summed over its taps, so `lite` projects the s codes to gamma/beta first
  (an s x 2C table) and then broadcasts the table over the regions: identical to the
  paper everywhere except the one-pixel bands along region borders.  The mask branch's
  projection is 1x1 too (its first 3x3 conv still sees the neighbourhood).  The norms of
  a block share the per-class transform A (512 -> `style_hidden`, a rank limit) and the
  mask branch's first conv, and the channel widths are narrower.

Exact rearrangements used by both configurations (same function, fewer passes over the
pixels): gamma and beta of a branch come from one conv with 2C outputs; the blend is
linear, so a and 1 - a scale the two projections' weights instead of their outputs; the
"1 +" of x (1 + gamma) lives in the bias.  At inference the batch norm is a fixed affine
map folded into gamma's rows, and the fixed noise is a constant shift made once.

The engine prepares the style-only work (transforms A, gamma/beta tables) once per
style change (`prepare_styles`), keeps each norm's [1 + gamma, beta] maps, which depend
on the mask and styles only (`modulations`), redoing them around a brush stroke alone
(`update_modulations`), and `render`s frame after frame.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.nets.config import DOWNSCALE, NUM_BLOCKS, UPSAMPLE_BEFORE, SEANConfig
from models.nets.encoder import StyleEncoder


def one_hot(mask: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, H, W) integer labels -> (B, s, H, W) float one-hot."""
    return F.one_hot(mask.long(), num_classes).permute(0, 3, 1, 2).float()


def resize_mask(seg: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest resize keeps a one-hot map one-hot (the paper resizes the mask this way)."""
    return seg if seg.shape[-2:] == size else F.interpolate(seg, size=size, mode="nearest")


def scaled_box(
    box: tuple[int, int, int, int], factor: int, size: tuple[int, int], margin: int
) -> tuple[int, int, int, int]:
    """A (top, bottom, left, right) box of mask pixels as a box of a map `factor` times
    smaller (nearest resizing), grown by `margin` and clipped to the map's `size`."""
    top, bottom, left, right = box
    return (
        max(top // factor - margin, 0),
        min(-(-bottom // factor) + margin, size[0]),
        max(left // factor - margin, 0),
        min(-(-right // factor) + margin, size[1]),
    )


class StyleTransform(nn.Module):
    """Per-class learned transform A_c: ReLU(W_c ST_c + b_c) for every class c at once."""

    def __init__(self, num_classes: int, dim_in: int, dim_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_classes, dim_in, dim_out) * dim_in**-0.5)
        self.bias = nn.Parameter(torch.zeros(num_classes, dim_out))

    def forward(self, style: torch.Tensor) -> torch.Tensor:  # (B, s, dim_in) -> (B, s, dim_out)
        return F.relu(torch.einsum("bsi,sio->bso", style, self.weight) + self.bias)


class SEANNorm(nn.Module):
    """SEAN normalisation of one activation (norm_0, norm_1 or norm_s of a ResBlk)."""

    def __init__(self, channels: int, cfg: SEANConfig):
        super().__init__()
        self.channels = channels
        self.norm = (
            nn.BatchNorm2d(channels, affine=False) if cfg.norm == "batch" else nn.InstanceNorm2d(channels, affine=False)
        )
        self.noise_scale = nn.Parameter(torch.zeros(channels))
        if cfg.proj_kernel == 1:
            self.style_proj = nn.Linear(cfg.style_hidden, 2 * channels)
        else:
            self.style_proj = nn.Conv2d(cfg.style_hidden, 2 * channels, 3, padding=1)
        self.mask_proj = nn.Conv2d(cfg.mask_hidden, 2 * channels, cfg.proj_kernel, padding=cfg.proj_kernel // 2)
        # Blend weights start at sigmoid(0) = 0.5, as in the paper's code.
        self.blend_gamma = nn.Parameter(torch.zeros(1))
        self.blend_beta = nn.Parameter(torch.zeros(1))
        self._eval_noise: tuple | None = None
        self._eval_shift: tuple | None = None

    @property
    def per_class_table(self) -> bool:
        """lite: the style branch is a per-class gamma/beta table broadcast over regions."""
        return isinstance(self.style_proj, nn.Linear)

    def noise(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        if self.training:
            return torch.randn(b, 1, h, w, device=x.device, dtype=x.dtype)
        return self.fixed_noise((h, w), x.device, x.dtype)

    def fixed_noise(self, size: tuple[int, int], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """The noise at inference: fixed, so that the same edit always gives the same
        picture; made once per size and device, not every frame."""
        key = (tuple(size), device, dtype)
        if self._eval_noise is None or self._eval_noise[0] != key:
            gen = torch.Generator(device=device).manual_seed(0)
            noise = torch.randn(1, 1, *size, generator=gen, device=device).to(dtype)
            self._eval_noise = (key, noise)
        return self._eval_noise[1]

    def blend(self) -> torch.Tensor:
        """Style-branch weight per output channel of the 2C gamma/beta stack."""
        c = self.channels
        return torch.cat([torch.sigmoid(self.blend_gamma).expand(c), torch.sigmoid(self.blend_beta).expand(c)])

    def prepare_style(self, codes: torch.Tensor) -> torch.Tensor:
        """What this norm needs of the transformed codes A(ST) (B, s, hidden); it depends on
        the styles only, so the engine makes it once per style change, not per frame.
        lite: the per-class [gamma, beta] table (B, s, 2C), already weighted by the blend."""
        return self.style_proj(codes) * self.blend() if self.per_class_table else codes

    def folded_rows(self) -> torch.Tensor | None:
        """At inference the batch norm is a fixed per-channel affine map, folded into
        [1 + gamma, beta]: gamma's rows scale by 1 / std (None while training)."""
        if not self.folds_norm():
            return None
        inv_std = torch.rsqrt(self.norm.running_var + self.norm.eps)
        return torch.cat([inv_std, torch.ones_like(inv_std)])

    def mask_part(self, mask_features: torch.Tensor) -> torch.Tensor:
        """(B, 2C, H, W): the mask branch's share of [1 + gamma, beta], blend-weighted, with
        the "1 +" (and at inference the folded 1 / std). It depends on the mask alone, so
        fitting codes to a photo (`StyleRefiner`) makes it once, not every step."""
        mask_weight = 1 - self.blend()
        one_for_gamma = torch.cat(
            [torch.ones_like(mask_weight[: self.channels]), torch.zeros_like(mask_weight[self.channels :])]
        )
        w = self.mask_proj.weight * mask_weight.view(-1, 1, 1, 1)
        b = self.mask_proj.bias * mask_weight + one_for_gamma
        rows = self.folded_rows()
        if rows is not None:
            w, b = w * rows.view(-1, 1, 1, 1), b * rows
        return F.conv2d(mask_features, w, b, padding=self.mask_proj.padding)

    def _add_style_branch(
        self, mask_part: torch.Tensor, seg: torch.Tensor, style: torch.Tensor, rows: torch.Tensor | None, in_place: bool
    ) -> torch.Tensor:
        if not self.per_class_table:
            style_weight = self.blend() if rows is None else self.blend() * rows
            style_map = torch.einsum("bsd,bshw->bdhw", style, seg)  # each region filled with its code
            return mask_part + self.style_proj(style_map) * style_weight.view(1, -1, 1, 1)
        # The table broadcast over the regions. In place when the mask part was made for
        # this call alone (conv outputs are contiguous, so flatten is a view; the conv's
        # backward does not need its output). In-place ops are not autocast, hence the dtype.
        table = (style if rows is None else style * rows).transpose(1, 2).to(mask_part.dtype)
        regions = seg.flatten(2).to(mask_part.dtype)
        if in_place:
            mask_part.flatten(2).baddbmm_(table, regions)
            return mask_part
        return torch.baddbmm(mask_part.flatten(2), table, regions).view_as(mask_part)

    def folds_norm(self) -> bool:
        """At inference a batch norm is a fixed per-channel affine map: fold it away."""
        return not self.training and isinstance(self.norm, nn.BatchNorm2d) and self.norm.running_var is not None

    def eval_shift(self, size: tuple[int, int], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """noise * scale - running mean: constant at inference, so made once per size (and
        again if the parameters change, as when training samples in eval mode)."""
        key = (tuple(size), device, dtype, self.noise_scale._version, self.norm.running_mean._version)
        if self._eval_shift is None or self._eval_shift[0] != key:
            shift = self.fixed_noise(size, device, dtype) * self.noise_scale.view(
                1, -1, 1, 1
            ) - self.norm.running_mean.view(1, -1, 1, 1)
            self._eval_shift = (key, shift.to(dtype))
        return self._eval_shift[1]

    def modulation(
        self,
        seg: torch.Tensor,
        style: torch.Tensor,
        mask_features: torch.Tensor,
        window: tuple[int, int, int, int] | None = None,
    ) -> torch.Tensor:
        """(B, 2C, H, W): [1 + gamma, beta]. `style` comes from `prepare_style`. It depends
        on the mask and the styles, not on x: the engine keeps it from frame to frame."""
        return self.styled(self.mask_part(mask_features), seg, style, window, in_place=True)

    def styled(
        self,
        mask_part: torch.Tensor,
        seg: torch.Tensor,
        style: torch.Tensor,
        window: tuple[int, int, int, int] | None = None,
        in_place: bool = False,
    ) -> torch.Tensor:
        """[1 + gamma, beta] from `mask_part` (see `mask_part`; written over when `in_place`)
        and the style branch.

        At inference the batch norm is folded in too: (x + shift) / std (1 + gamma) + beta
        = x [(1 + gamma) / std] + [beta + shift (1 + gamma) / std], with the constant shift
        = noise * scale - mean. `window` = (top, left, full height, full width) says where
        `seg` lies when it is a crop of the mask, so the crop of the shift is used."""
        rows = self.folded_rows()
        gb = self._add_style_branch(mask_part, seg, style, rows, in_place)
        if rows is None:
            return gb
        h, w = seg.shape[-2:]
        top, left, full_h, full_w = window or (0, 0, h, w)
        shift = self.eval_shift((full_h, full_w), gb.device, gb.dtype)[..., top : top + h, left : left + w]
        gamma1, beta = gb.chunk(2, dim=1)
        if gb.requires_grad:  # autograd refuses in-place changes to a view
            return torch.cat([gamma1, torch.addcmul(beta, shift, gamma1)], dim=1)
        beta.addcmul_(shift, gamma1)  # a view of gb: gb changes with it, no copy
        return gb

    def reference_forward(
        self, x: torch.Tensor, seg: torch.Tensor, hidden: torch.Tensor, mask_features: torch.Tensor
    ) -> torch.Tensor:
        """The paper's equations one by one (SEAN, Fig. 3), beside the fast path for reading
        and for the tests that compare the two. `hidden` is A(ST), the per-class transformed
        codes (B, s, style_hidden); `mask_features` the mask branch's shared features.
        `forward(x, modulation(...))` computes the same with the blend folded into the
        projections, lite's style branch as a per-class table, and at inference the batch
        norm and noise folded into [1 + gamma, beta]."""
        normalized = self.norm(x + self.noise(x) * self.noise_scale.view(1, -1, 1, 1))
        style_map = torch.einsum("bsd,bshw->bdhw", hidden, seg)  # each region filled with its code
        if self.per_class_table:  # lite's projection is 1x1: the Linear applied at every pixel
            gamma_beta_s = torch.einsum("bdhw,ed->behw", style_map, self.style_proj.weight) + self.style_proj.bias.view(
                1, -1, 1, 1
            )
        else:
            gamma_beta_s = self.style_proj(style_map)
        gamma_s, beta_s = gamma_beta_s.chunk(2, dim=1)  # from the style codes
        gamma_o, beta_o = self.mask_proj(mask_features).chunk(2, dim=1)  # from the mask alone
        alpha_gamma, alpha_beta = torch.sigmoid(self.blend_gamma), torch.sigmoid(self.blend_beta)
        gamma = alpha_gamma * gamma_s + (1 - alpha_gamma) * gamma_o
        beta = alpha_beta * beta_s + (1 - alpha_beta) * beta_o
        return normalized * (1 + gamma) + beta

    def forward(self, x: torch.Tensor, modulation: torch.Tensor) -> torch.Tensor:
        """x' (1 + gamma) + beta, with `modulation` from `modulation`."""
        gamma1, beta = modulation.chunk(2, dim=1)
        if self.folds_norm():  # the norm is inside the modulation
            return torch.addcmul(beta, x, gamma1)
        x = self.norm(x + self.noise(x) * self.noise_scale.view(1, -1, 1, 1))
        return torch.addcmul(beta, x, gamma1)


class SEANResBlk(nn.Module):
    """Paper Fig. 4: SEAN -> lrelu -> conv, twice, plus a SEAN -> conv shortcut if channels change."""

    def __init__(self, fin: int, fout: int, cfg: SEANConfig):
        super().__init__()
        fmid = min(fin, fout)
        self.learned_shortcut = fin != fout
        self.norm_0, self.conv_0 = SEANNorm(fin, cfg), nn.Conv2d(fin, fmid, 3, padding=1)
        self.norm_1, self.conv_1 = SEANNorm(fmid, cfg), nn.Conv2d(fmid, fout, 3, padding=1)
        if self.learned_shortcut:
            self.norm_s, self.conv_s = SEANNorm(fin, cfg), nn.Conv2d(fin, fout, 1, bias=False)
        # Per-class transform A and the mask branch's first conv: one per norm, or one per block.
        copies = 1 if cfg.block_shared else 2 + self.learned_shortcut
        self.transforms = nn.ModuleList(
            StyleTransform(cfg.num_classes, cfg.style_dim, cfg.style_hidden) for _ in range(copies)
        )
        self.mask_shared = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cfg.num_classes, cfg.mask_hidden, 3, padding=1), nn.ReLU()) for _ in range(copies)
        )

    def norms(self) -> list[SEANNorm]:
        return [self.norm_0, self.norm_1] + ([self.norm_s] if self.learned_shortcut else [])

    def prepare_styles(self, style: torch.Tensor) -> list[torch.Tensor]:
        """Style matrix (B, s, 512) -> what norm_0, norm_1 (and norm_s) take from it."""
        hidden = [t(style) for t in self.transforms]
        hidden = hidden * 3 if len(hidden) == 1 else hidden
        return [norm.prepare_style(h) for norm, h in zip(self.norms(), hidden)]

    def modulations(
        self,
        seg: torch.Tensor,
        styles: list[torch.Tensor],
        window: tuple[int, int, int, int] | None = None,
        mask_parts: list[torch.Tensor] | None = None,
    ) -> list[torch.Tensor]:
        """The norms' [1 + gamma, beta] for the mask `seg` at this block's size (or a crop
        of it: see SEANNorm.styled); `styles` comes from `prepare_styles`; `mask_parts`
        from `mask_parts` for this `seg`, if kept."""
        fresh = mask_parts is None
        parts = self.mask_parts(seg) if fresh else mask_parts
        return [
            norm.styled(part, seg, style, window, in_place=fresh)
            for norm, style, part in zip(self.norms(), styles, parts)
        ]

    def mask_parts(self, seg: torch.Tensor) -> list[torch.Tensor]:
        """Each norm's `SEANNorm.mask_part` for the mask `seg`."""
        features = [m(seg) for m in self.mask_shared]
        features = features * 3 if len(features) == 1 else features
        return [norm.mask_part(f) for norm, f in zip(self.norms(), features)]

    def forward(self, x: torch.Tensor, modulations: list[torch.Tensor]) -> torch.Tensor:
        """`modulations` comes from `modulations`."""
        x_s = self.conv_s(self.norm_s(x, modulations[2])) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, modulations[0]), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, modulations[1]), 0.2))
        return x_s + dx


class SEANGenerator(nn.Module):
    def __init__(self, cfg: SEANConfig):
        super().__init__()
        self.cfg = cfg
        channels = cfg.block_channels()
        self.fc = nn.Conv2d(cfg.num_classes, channels[0][0], 3, padding=1)
        self.blocks = nn.ModuleList(SEANResBlk(fin, fout, cfg) for fin, fout in channels)
        self.to_rgb = nn.Conv2d(channels[-1][1], 3, 3, padding=1)

    def prepare_styles(self, styles: torch.Tensor | list[torch.Tensor]) -> list[list[torch.Tensor]]:
        """One style matrix (B, s, 512) for every block, or a list of NUM_BLOCKS of them
        (per-block crossover) -> each block's prepared styles. Depends on the styles only."""
        per_block = list(styles) if isinstance(styles, (list, tuple)) else [styles] * NUM_BLOCKS
        if len(per_block) != NUM_BLOCKS:
            raise ValueError(f"expected 1 or {NUM_BLOCKS} style matrices, got {len(per_block)}")
        return [block.prepare_styles(style) for block, style in zip(self.blocks, per_block)]

    @staticmethod
    def block_sizes(h: int, w: int) -> list[tuple[int, int]]:
        """Feature-map size of each block for an h x w mask."""
        if h % DOWNSCALE or w % DOWNSCALE:
            raise ValueError(f"mask size {h}x{w} is not a multiple of {DOWNSCALE}")
        sizes, size = [], (h // DOWNSCALE, w // DOWNSCALE)
        for i in range(NUM_BLOCKS):
            if i in UPSAMPLE_BEFORE:
                size = (size[0] * 2, size[1] * 2)
            sizes.append(size)
        return sizes

    def modulations(self, seg: torch.Tensor, prepared: list[list[torch.Tensor]]) -> list[list[torch.Tensor]]:
        """Every norm's [1 + gamma, beta] (per block, per norm): all the work that depends on
        the mask and styles but not on the features. `render` can reuse them."""
        return [
            block.modulations(resize_mask(seg, size), styles)
            for block, size, styles in zip(self.blocks, self.block_sizes(*seg.shape[-2:]), prepared)
        ]

    def update_modulations(
        self,
        modulations: list[list[torch.Tensor]],
        seg: torch.Tensor,
        prepared: list[list[torch.Tensor]],
        box: tuple[int, int, int, int],
    ) -> None:
        """Bring `modulations` up to date, in place, after the mask changed only inside `box`
        (top, bottom, left, right in mask pixels); `seg` is the new mask. Exact: a norm's
        [1 + gamma, beta] at a pixel depends on the mask within `reach` pixels of it (the
        mask branch's 3x3 conv, then the 1x1 or 3x3 projections), so only the box grown by
        `reach` changes, and it is computed from the box grown by twice that."""
        reach = 1 + self.cfg.proj_kernel // 2
        h = seg.shape[-2]
        for block, size, styles, old in zip(self.blocks, self.block_sizes(*seg.shape[-2:]), prepared, modulations):
            factor = h // size[0]
            top, bottom, left, right = scaled_box(box, factor, size, reach)  # what changes
            src_top, src_bottom, src_left, src_right = scaled_box(box, factor, size, 2 * reach)  # what it reads
            crop = resize_mask(seg, size)[..., src_top:src_bottom, src_left:src_right]
            new = block.modulations(crop, styles, (src_top, src_left, *size))
            for kept, fresh in zip(old, new):
                kept[..., top:bottom, left:right] = fresh[
                    ..., top - src_top : bottom - src_top, left - src_left : right - src_left
                ]

    def mask_parts(self, seg: torch.Tensor) -> list[list[torch.Tensor]]:
        """Every norm's mask-branch share of its modulation (`SEANNorm.mask_part`), per
        block: what depends on the mask alone, for `render` to reuse while codes change."""
        sizes = self.block_sizes(*seg.shape[-2:])
        return [block.mask_parts(resize_mask(seg, size)) for block, size in zip(self.blocks, sizes)]

    def render(
        self,
        seg: torch.Tensor,
        prepared: list[list[torch.Tensor]],
        modulations: list[list[torch.Tensor]] | None = None,
        mask_parts: list[list[torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """seg: (B, s, H, W) one-hot, H and W multiples of 32; `prepared` from
        `prepare_styles`; `modulations` from `modulations` for this mask and these styles,
        if kept, or else `mask_parts` from `mask_parts` for this mask, if kept."""
        sizes = self.block_sizes(*seg.shape[-2:])
        x = self.fc(resize_mask(seg, sizes[0]))
        for i, (block, size) in enumerate(zip(self.blocks, sizes)):
            if x.shape[-2:] != size:
                x = F.interpolate(x, size=size, mode="nearest")
            if modulations is not None:
                mods = modulations[i]
            else:
                mods = block.modulations(
                    resize_mask(seg, size), prepared[i], mask_parts=mask_parts[i] if mask_parts is not None else None
                )
            x = block(x, mods)
        return torch.tanh(self.to_rgb(F.leaky_relu(x, 0.2)))

    def forward(self, seg: torch.Tensor, styles: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        return self.render(seg, self.prepare_styles(styles))


class SEAN(nn.Module):
    """Encoder + generator: what training optimises and what the shipped weights hold."""

    def __init__(self, cfg: SEANConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = StyleEncoder(cfg)
        self.generator = SEANGenerator(cfg)

    def forward(self, image: torch.Tensor, seg: torch.Tensor, drawn: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruction: the image re-synthesised from its own mask and style matrix;
        with `drawn`, from that mask instead (a painted one; training for users' masks)."""
        style, _ = self.encoder(image, seg)
        return self.generator(seg if drawn is None else drawn, style)
