"""The network: shapes, the style matrix is per region, per-block styles, both configs."""

import pytest
import torch

from models.nets.sean import NUM_BLOCKS, SEAN, SEANConfig, one_hot
from tests.helpers import SIZE, tiny_config, toy_mask, toy_photo


def inputs(cfg: SEANConfig, batch: int = 2):
    mask = torch.from_numpy(toy_mask()).long().expand(batch, SIZE, SIZE)
    image = torch.from_numpy(toy_photo(toy_mask())).permute(2, 0, 1).float().div(127.5).sub(1)
    return image.expand(batch, 3, SIZE, SIZE), one_hot(mask, cfg.num_classes)


@pytest.mark.parametrize(
    "cfg", [tiny_config(), tiny_config(proj_kernel=3, block_shared=False)], ids=["lite", "paper-layout"]
)
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
    seg[:, 0] += seg[:, 3]  # relabel the right eye as background
    seg[:, 3] = 0
    style, present = tiny_model.encoder(image, seg)
    assert present[0].tolist() == [True, True, True, False]
    assert torch.count_nonzero(style[0, 3]) == 0


def test_style_context_starts_at_zero_and_leaves_absent_classes_empty():
    torch.manual_seed(0)
    plain, with_context = SEAN(tiny_config()).eval(), SEAN(tiny_config(context_hidden=8)).eval()
    with_context.load_state_dict(plain.state_dict(), strict=False)
    image, seg = inputs(plain.cfg, batch=1)
    assert torch.equal(with_context(image, seg), plain(image, seg))  # gaining the branch changes nothing
    torch.nn.init.normal_(with_context.encoder.context.mlp[-1].weight)
    seg = seg.clone()
    seg[:, 0] += seg[:, 3]  # no right eye
    seg[:, 3] = 0
    style, _ = with_context.encoder(image, seg)
    plain_style, _ = plain.encoder(image, seg)
    assert not torch.allclose(style[0, :3], plain_style[0, :3])
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


@pytest.mark.parametrize("kernel,norm_kind", [(1, "batch"), (3, "batch"), (1, "instance")])
def test_fused_norm_matches_the_papers_formula(kernel, norm_kind):
    """SEANNorm folds the blend, the "1 +" and (at inference) the batch norm into its
    projections; compare with the formula written out literally:
    x' (1 + a g_s + (1 - a) g_m) + a b_s + (1 - a) b_m,  x' = norm(x + noise)."""
    from models.nets.sean import SEANNorm, StyleTransform

    torch.manual_seed(0)
    cfg = tiny_config(proj_kernel=kernel, norm=norm_kind)
    norm = SEANNorm(6, cfg).eval()
    with torch.no_grad():
        for p in norm.parameters():
            p.normal_()
        if norm_kind == "batch":
            norm.norm.running_mean.normal_()
            norm.norm.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 6, SIZE, SIZE)
    _, seg = inputs(cfg)
    codes = StyleTransform(cfg.num_classes, cfg.style_dim, cfg.style_hidden)(torch.randn(2, 4, cfg.style_dim))
    features = torch.relu(torch.randn(2, cfg.mask_hidden, SIZE, SIZE))
    with torch.no_grad():
        got = norm(x, norm.modulation(seg, norm.prepare_style(codes), features))
        normalized = norm.norm(x + norm.noise(x) * norm.noise_scale.view(1, -1, 1, 1))
        if kernel == 1:
            per_class = norm.style_proj(codes)  # (B, s, 2C)
            style_gb = torch.einsum("bsc,bshw->bchw", per_class, seg)
        else:
            style_gb = norm.style_proj(torch.einsum("bsd,bshw->bdhw", codes, seg))
        mask_gb = norm.mask_proj(features)
        gamma_s, beta_s = style_gb.chunk(2, 1)
        gamma_m, beta_m = mask_gb.chunk(2, 1)
        a_g, a_b = torch.sigmoid(norm.blend_gamma), torch.sigmoid(norm.blend_beta)
        want = normalized * (1 + a_g * gamma_s + (1 - a_g) * gamma_m) + a_b * beta_s + (1 - a_b) * beta_m
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)


def test_lite_equals_paper_layout_inside_regions():
    """A 3x3 style conv over a constant region equals the 1x1 projection with the summed
    kernel: lite's rearrangement changes nothing away from region borders."""
    from models.nets.sean import SEANNorm

    torch.manual_seed(0)
    paper = SEANNorm(4, tiny_config(proj_kernel=3)).eval()
    lite = SEANNorm(4, tiny_config(proj_kernel=1)).eval()
    with torch.no_grad():
        lite.mask_proj.weight.zero_()
        paper.mask_proj.weight.zero_()
        lite.mask_proj.bias.copy_(paper.mask_proj.bias)
        lite.style_proj.weight.copy_(paper.style_proj.weight.sum(dim=(2, 3)))
        lite.style_proj.bias.copy_(paper.style_proj.bias)
        lite.noise_scale.copy_(paper.noise_scale)
    cfg = tiny_config()
    _, seg = inputs(cfg, batch=1)
    x = torch.randn(1, 4, SIZE, SIZE)
    codes = torch.rand(1, cfg.num_classes, cfg.style_hidden)
    features = torch.rand(1, cfg.mask_hidden, SIZE, SIZE)
    with torch.no_grad():
        a = paper(x, paper.modulation(seg, paper.prepare_style(codes), features))
        b = lite(x, lite.modulation(seg, lite.prepare_style(codes), features))
    # pixels whose 3x3 neighbourhood has a single class, away from the image border
    labels = seg.argmax(1, keepdim=True).float()
    uniform = torch.nn.functional.max_pool2d(labels, 3, 1, 1) == -torch.nn.functional.max_pool2d(-labels, 3, 1, 1)
    uniform[..., :1, :] = uniform[..., -1:, :] = uniform[..., :, :1] = uniform[..., :, -1:] = False
    inside = uniform.expand_as(a)
    assert inside.sum() > 100
    assert torch.allclose(a[inside], b[inside], atol=1e-5)
    assert not torch.allclose(a[~inside], b[~inside], atol=1e-3)


def test_inference_shortcuts_follow_parameter_changes(tiny_model):
    """Eval mode folds the batch norm and keeps the noise shift; changing a parameter (as
    training does between samples) must not leave a stale shortcut behind."""
    cfg = tiny_model.cfg
    _, seg = inputs(cfg, batch=1)
    style = torch.rand(1, cfg.num_classes, cfg.style_dim)
    with torch.no_grad():
        before = tiny_model.generator(seg, style)
        for block in tiny_model.generator.blocks:
            for norm in block.norms():
                norm.noise_scale.add_(0.5)
                norm.norm.running_mean.add_(0.1)
        after = tiny_model.generator(seg, style)
        for block in tiny_model.generator.blocks:  # the unfolded path: batch norm as a module
            for norm in block.norms():
                norm.folds_norm = lambda: False
        assert torch.allclose(after, tiny_model.generator(seg, style), atol=1e-5)
    assert not torch.allclose(before, after, atol=1e-3)


@pytest.mark.parametrize(
    "cfg", [tiny_config(), tiny_config(proj_kernel=3, block_shared=False)], ids=["lite", "paper-layout"]
)
def test_modulations_redone_around_an_edit_equal_recomputed_ones(cfg):
    """The engine keeps every norm's [1 + gamma, beta] between frames and redoes them only
    around a brush stroke: that must equal recomputing them all, at every block size,
    for strokes in the middle, on the image border and in a corner."""
    torch.manual_seed(0)
    generator = SEAN(cfg).generator.eval()
    with torch.no_grad():  # make the folded batch norm and the noise shift matter
        for block in generator.blocks:
            for norm in block.norms():
                norm.noise_scale.normal_()
                norm.norm.running_mean.normal_()
                norm.norm.running_var.uniform_(0.5, 2)
    size = 64
    mask = torch.from_numpy(toy_mask(size)).long()
    prepared = generator.prepare_styles(torch.rand(1, cfg.num_classes, cfg.style_dim))
    with torch.inference_mode():
        kept = generator.modulations(one_hot(mask[None], cfg.num_classes), prepared)
        for top, bottom, left, right in [(20, 27, 30, 41), (0, 5, 10, 12), (58, 64, 60, 64), (31, 33, 0, 64)]:
            mask[top:bottom, left:right] = (mask[top:bottom, left:right] + 1) % cfg.num_classes
            seg = one_hot(mask[None], cfg.num_classes)
            generator.update_modulations(kept, seg, prepared, (top, bottom, left, right))
            fresh = generator.modulations(seg, prepared)
            for kept_block, fresh_block in zip(kept, fresh):
                for a, b in zip(kept_block, fresh_block):
                    assert torch.allclose(a, b, atol=1e-5)
            assert torch.allclose(generator.render(seg, prepared, kept), generator.render(seg, prepared), atol=1e-5)


@pytest.mark.parametrize(
    "cfg", [tiny_config(), tiny_config(proj_kernel=3, block_shared=False)], ids=["lite", "paper-layout"]
)
def test_kept_mask_parts_render_and_differentiate_like_the_full_pass(cfg):
    """A StyleRefiner keeps the mask branch's work and redoes only the codes' share each
    step: the picture and the codes' gradient must equal those of the full forward pass,
    and the kept parts must come out of the step unchanged."""
    torch.manual_seed(0)
    generator = SEAN(cfg).generator.eval().requires_grad_(False)
    with torch.no_grad():
        for block in generator.blocks:
            for norm in block.norms():
                norm.noise_scale.normal_()
                norm.norm.running_var.uniform_(0.5, 2)
    _, seg = inputs(cfg, batch=1)
    with torch.no_grad():
        parts = generator.mask_parts(seg)
    before = [p.clone() for block in parts for p in block]
    pictures, gradients = [], []
    for kept in (None, parts):
        codes = torch.rand(1, cfg.num_classes, cfg.style_dim, requires_grad=True)
        torch.manual_seed(1)
        codes.data.uniform_(-1, 1)
        picture = generator.render(seg, generator.prepare_styles(codes), mask_parts=kept)
        picture.square().sum().backward()
        pictures.append(picture.detach())
        gradients.append(codes.grad)
    assert torch.allclose(*pictures, atol=1e-5) and torch.allclose(*gradients, atol=1e-4)
    assert gradients[0].abs().sum() > 0
    assert all(torch.equal(a, b) for a, b in zip(before, [p for block in parts for p in block]))


@pytest.mark.parametrize("preset", ["lite", "paper"])
@pytest.mark.parametrize("training", [False, True])
def test_seannorm_fast_path_equals_the_papers_equations(preset, training):
    """The fused forward (blend folded into the projections, lite's table, the batch norm
    and noise folded in at inference) against the paper-literal reference."""
    from models.nets.sean import SEANNorm

    torch.manual_seed(0)
    base = SEANConfig.named(preset, 4)
    cfg = SEANConfig(**{**base.to_dict(), "style_dim": 8, "style_hidden": 6, "mask_hidden": 5})
    norm = SEANNorm(7, cfg)
    with torch.no_grad():  # away from their zero and identity starts, so every term counts
        norm.noise_scale.normal_()
        norm.blend_gamma.fill_(0.7)
        norm.blend_beta.fill_(-0.4)
        norm.norm.running_mean.normal_()
        norm.norm.running_var.uniform_(0.5, 2)
    norm.train(training)
    x = torch.randn(2, 7, 12, 10)
    seg = one_hot(torch.randint(0, 4, (2, 12, 10)), 4)
    hidden, features = torch.randn(2, 4, 6), torch.randn(2, 5, 12, 10)
    torch.manual_seed(1)
    fast = norm(x, norm.modulation(seg, norm.prepare_style(hidden), features))
    torch.manual_seed(1)  # the same training noise for both
    reference = norm.reference_forward(x, seg, hidden, features)
    assert torch.allclose(fast, reference, atol=1e-4), (fast - reference).abs().max()
