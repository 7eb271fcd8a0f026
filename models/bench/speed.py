"""Speed and memory of the engine: `python main.py lab bench`.

Every configuration is measured in its own child process (so peak memory is its own),
on the same inputs (a fixed mask and style), with warm-up runs and the median of
repeated runs. Random weights are used: speed does not depend on their values.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from models.device import device_name
from models.inference.graphs import FrameGraph, can_record
from models.inference.refiner import StyleRefiner
from models.inference.styles import StyleMatrix
from models.nets.config import NUM_BLOCKS
from models.nets.encoder import StyleContext
from models.nets.sean import SEAN, SEANConfig, SEANGenerator, one_hot

if TYPE_CHECKING:
    from models.inference.engine import Engine
    from models.nets.parser import ParserConfig

ROOT = Path(__file__).resolve().parents[2]  # the repository: where `models` is importable from
SCHEMA_VERSION = 6  # 2: synth_ms as the engine runs (styles prepared), style_change_ms; 3: paint_ms;
# 4: refine_step_ms; 5: context_ms; 6: CUDA graphs (graph_ms, graph_max_diff,
# refine_eager_step_ms; refine_step_ms is recorded on CUDA)
SHIPPED_CONTEXT = 512  # the face model's StyleContext width (weights/face_256.json)


def median_ms(fn, warmup: int, repeats: int, sync) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure(config: str, size: int, device: str, dtype: str, repeats: int, num_classes: int = 19) -> dict:
    """One configuration at one size: runs in the current process."""
    dev = torch.device(device)
    cfg = SEANConfig.named(config, num_classes)
    torch.manual_seed(0)
    model = SEAN(cfg).to(dev).eval()
    dt = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    if dt != torch.float32:
        model = model.to(dt)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    mask = torch.randint(0, num_classes, (1, size // 16, size // 16), generator=gen)
    mask = torch.nn.functional.interpolate(mask[None].float(), size=(size, size), mode="nearest")[0].long()
    seg = one_hot(mask, num_classes).to(dev, dt)
    image = (torch.rand(1, 3, size, size, generator=gen) * 2 - 1).to(dev, dt)
    g = model.generator
    slow = config == "paper"
    with torch.no_grad():  # as the engine runs it
        style, present = model.encoder(image, seg)
        prepared = g.prepare_styles(style)
        # As the engine runs: style work once per style change, then frame after frame.
        synth_ms = median_ms(
            lambda: g.render(seg, prepared), 2 if slow else 5, max(3, repeats // 4) if slow else repeats, sync
        )
        # While painting: the mask-and-style work of the last frame is kept and redone
        # around the brush only (a 24-pixel dab in the middle).
        modulations = g.modulations(seg, prepared)
        dab = (size // 2 - 12, size // 2 + 12, size // 2 - 12, size // 2 + 12)

        def paint_frame() -> torch.Tensor:
            g.update_modulations(modulations, seg, prepared, dab)
            return g.render(seg, prepared, modulations)

        paint_ms = median_ms(paint_frame, 2 if slow else 5, max(3, repeats // 4) if slow else repeats, sync)
        style_change_ms = median_ms(lambda: g.prepare_styles(style), 2, max(3, repeats // 4), sync)
        encode_ms = median_ms(lambda: model.encoder(image, seg), 2, max(3, repeats // 4), sync)
        # Our StyleContext (random weights, the face model's width): what it adds to an encode.
        context = StyleContext(dataclasses.replace(cfg, context_hidden=SHIPPED_CONTEXT)).to(dev, dt).eval()
        context_ms = median_ms(lambda: context(image, seg, style), 2, max(3, repeats // 4), sync)
    peak_mb = peak_memory_mb(dev)  # synthesis's; a refinement step's backward pass needs more
    codes = StyleMatrix(style[0].float().cpu().numpy(), present[0].cpu().numpy())
    refine_ms = lambda refiner: median_ms(
        lambda: refiner.step(1), 1 if slow else 3, 2 if slow else max(3, repeats // 4), sync
    )
    # as the engine runs it: recorded on CUDA
    refine_step_ms = refine_ms(StyleRefiner(model, image, seg, codes))
    recorded = {}
    if can_record(dev):
        recorded = {
            **measure_recorded(g, mask, style, prepared, seg, repeats, sync),
            "refine_eager_step_ms": refine_ms(StyleRefiner(model, image, seg, codes, record=False)),
        }
    return {
        **recorded,
        "config": config,
        "size": size,
        "device": str(dev),
        "dtype": dtype,
        "synth_ms": synth_ms,
        "paint_ms": paint_ms,
        "style_change_ms": style_change_ms,
        "encode_ms": encode_ms,
        "context_ms": context_ms,
        "refine_step_ms": refine_step_ms,
        "generator_params": sum(p.numel() for p in model.generator.parameters()),
        "encoder_params": sum(p.numel() for p in model.encoder.parameters()),
        "peak_memory_mb": peak_mb,
    }


def measure_recorded(
    generator: SEANGenerator,
    mask: torch.Tensor,
    style: torch.Tensor,
    prepared: list,
    seg: torch.Tensor,
    repeats: int,
    sync,
) -> dict:
    """A frame as the engine runs it on CUDA (`FrameGraph`, one recorded launch; the label
    mask copied in each time), and how far its picture is from the eager one's."""
    frame = FrameGraph(generator, tuple(mask.shape[-2:]), seg.device, seg.dtype)
    codes = style[None].expand(NUM_BLOCKS, -1, -1, -1)
    with torch.no_grad():
        graph_ms = median_ms(lambda: frame(mask, codes), 5, repeats, sync)
        difference = (frame(mask, codes).float() - generator.render(seg, prepared).float()).abs().max()
    return {"graph_ms": graph_ms, "graph_recorded": frame.recording.recorded, "graph_max_diff": float(difference)}


def shipped_parser_config() -> "ParserConfig":
    """The bundled face parser's architecture and working size (the default ones without it)."""
    from models.inference.parser import ParserInfo
    from models.inference.weights import WEIGHTS_DIR
    from models.nets.parser import ParserConfig

    try:
        return ParserInfo.from_dict(json.loads((WEIGHTS_DIR / "face_parser.json").read_text())).config
    except (OSError, ValueError, KeyError):
        return ParserConfig()


def measure_parser(size: int, device: str, repeats: int) -> dict:
    """The face parser on one size x size photo: resize to its working size, network, argmax,
    back to numpy."""
    from models.data.labels import LabelScheme
    from models.inference.parser import Parser, ParserInfo
    from models.nets.parser import FaceParser

    dev = torch.device(device)
    torch.manual_seed(0)
    cfg = shipped_parser_config()
    parser = Parser(FaceParser(cfg), ParserInfo("bench", "face", LabelScheme.named("face"), cfg), dev)
    photo = (torch.rand(size, size, 3, generator=torch.Generator().manual_seed(0)) * 255).byte().numpy()
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    return {
        "config": "parser",
        "size": size,
        "input_size": cfg.input_size,
        "device": str(dev),
        "dtype": "fp32",
        "parse_ms": median_ms(lambda: parser.parse(photo), 3, repeats, sync),
        "params": sum(p.numel() for p in parser.net.parameters()),
        "peak_memory_mb": peak_memory_mb(dev),
    }


def in_child(call: str, failure: dict) -> dict:
    """Run `models.bench.speed.<call>` in a fresh interpreter and return its JSON."""
    code = f"import json; from models.bench import speed; print(json.dumps(speed.{call}))"
    # the child imports this package from the repository, wherever the command was started
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode != 0:
        return {**failure, "error": (out.stderr.strip().splitlines() or ["unknown error"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_in_child(config: str, size: int, device: str, dtype: str, repeats: int) -> dict:
    return in_child(
        f"measure({config!r}, {size}, {device!r}, {dtype!r}, {repeats})",
        {"config": config, "size": size, "device": device, "dtype": dtype},
    )


def run_bench(device: str, sizes: list[int], repeats: int = 20, configs=("lite", "paper"), progress=print) -> dict:
    dtypes = ["fp32"] + (["fp16", "bf16"] if device.startswith("cuda") else [])
    runs = []
    for size in sizes:
        for dtype in dtypes:
            for config in configs:
                progress(f"bench: {config} {size}px {dtype} on {device}")
                runs.append(measure_in_child(config, size, device, dtype, repeats))
    speedups = []
    for size in sizes:
        for dtype in dtypes:
            pair = {r["config"]: r for r in runs if r["size"] == size and r["dtype"] == dtype and "error" not in r}
            if "lite" in pair and "paper" in pair:
                speedups.append(
                    {
                        "size": size,
                        "dtype": dtype,
                        "paper_over_lite": pair["paper"]["synth_ms"] / pair["lite"]["synth_ms"],
                    }
                )
    progress(f"bench: face parser on {device}")
    parser = in_child(f"measure_parser({sizes[0]}, {device!r}, {repeats})", {"config": "parser"})
    return {
        "schema": SCHEMA_VERSION,
        "device": device,
        "device_name": device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "runs": runs,
        "speedups": speedups,
        "parser": parser,
        "parse_ms": parser.get("parse_ms"),
    }


def measure_stylize(repeats: int = 5) -> dict:
    """A look on the CPU, as the command line and the editor run it (at NET_SIDE, the
    output at the picture's size), on random pictures with 64 regions of 12 classes
    (speed does not depend on the pixels): a 512x512 photo with the method's own
    smoothing and without, the editor's view of a 256 px synthesis, and a 512 px style
    photo made a look; by the shipped colour transfer and by the WCT network
    (weights/stylizer.json), in ms."""
    from models.inference.stylize import Stylizer

    network = Stylizer.load()
    rng = np.random.default_rng(0)
    labels = {
        size: np.kron(rng.integers(0, 12, (8, 8)), np.ones((size // 8, size // 8))).astype(np.uint8)
        for size in (256, 512)
    }
    photos = {size: (rng.random((size, size, 3)) * 255).astype(np.uint8) for size in labels}
    return {
        "transfer": measure_look(photos, labels, None, repeats),
        "network": measure_look(photos, labels, network, repeats),
        "decoder_config": network.info.config.to_dict(),
        "threads": torch.get_num_threads(),
    }


def measure_fill(side: int = 300, repeats: int = 3) -> dict:
    """A painted `side` x `side` square filled at full resolution (`texture_fill` with the
    shipped settings, as `restyle --edited-mask` and the export run it): strands painted
    into the smooth half of a 1024 px photo, against the strands of the other half, the
    guide the photo's class colours; in seconds."""
    from models.inference.texture_fill import DEFAULT_FILL, texture_fill

    rng = np.random.default_rng(0)
    n = 1024
    yy, xx = np.mgrid[:n, :n]
    strands = (40 * np.sin((xx + yy) * 0.6) + rng.normal(0, 6, (n, n)))[..., None]
    own = (xx < n // 2).astype(np.uint8)
    photo = np.where(own[..., None] == 1, [150, 90, 50] + strands * [1, 0.7, 0.4], [90, 110, 130])
    photo = np.clip(photo + rng.normal(0, 3, photo.shape), 0, 255).astype(np.uint8)
    fill = np.zeros((n, n), bool)
    top, left = (n - side) // 2, n // 2
    fill[top : top + side, left : left + side] = True  # the square's left side meets the strands
    labels = np.where(fill, 1, own).astype(np.uint8)
    guide = np.where(labels[..., None] == 1, [150, 90, 50], [90, 110, 130]).astype(np.uint8)
    none = lambda: None
    seconds = median_ms(lambda: texture_fill(photo, fill, labels, own, guide, DEFAULT_FILL), 1, repeats, none) / 1000
    return {"side": side, "photo_side": n, "fill_s": seconds, "threads": torch.get_num_threads()}


def measure_look(photos: dict, labels: dict, network, repeats: int) -> dict:
    """`measure_stylize`'s timings of one method (`network` None: the colour transfer)."""
    from models.inference.stylize import style_look, stylize
    from models.settings import NET_SIDE

    none = lambda: None
    look = style_look(photos[512], labels[512], NET_SIDE, network)
    time_of = lambda size, smooth: median_ms(
        lambda: stylize(photos[size], look, labels[size], smooth, side=NET_SIDE, network=network), 1, repeats, none
    )
    feathered = {}
    if network is None:  # portraits' default: the guided feather of the class maps
        feathered = {
            "stylize_512_feather_ms": time_of(512, "feather"),
            "stylize_256_view_feather_ms": time_of(256, "feather"),
        }
    return {
        **feathered,
        "stylize_512_smoothed_ms": time_of(512, "guided"),
        "stylize_512_none_ms": time_of(512, "none"),
        "stylize_256_view_ms": time_of(256, "guided"),
        "style_photo_512_ms": median_ms(
            lambda: style_look(photos[512], labels[512], NET_SIDE, network), 1, repeats, none
        ),
        "net_side": NET_SIDE,
    }


def measure_bank(
    engine: "Engine", bank_path: str, sample: np.ndarray, layouts: int = 8, given: list[np.ndarray] | None = None
) -> dict:
    """SIMS with a bank, on the engine's device: per layout, retrieval (every component,
    nothing remembered), composing the canvas, and the canvas network over SEAN's picture,
    in ms (medians over the `given` layouts, else over `layouts` layouts: `sample`, a mask
    of the model's, and copies of it made to look painted by hand, so no dataset is
    needed); and the frame after a brush stroke on the first, when retrieval remembers
    the components the stroke left alone."""
    import cv2

    from models.data.mask_noise import hand_drawn
    from models.inference.sims import BankPainter, Canvas, compose, retrieve

    painter = BankPainter.load(engine, bank_path)
    size = painter.bank.size
    sample = painter.layout(sample)
    masks = (
        [painter.layout(m) for m in given]
        if given
        else [sample] + [hand_drawn(sample, np.random.default_rng(i), 1.0) for i in range(1, layouts)]
    )
    times: dict[str, list[float]] = {"retrieve_ms": [], "compose_ms": [], "network_ms": [], "components": []}
    for mask in masks:
        start = time.perf_counter()
        matches, missing = retrieve(painter.bank, mask)
        retrieved = time.perf_counter()
        canvas = Canvas(*compose(painter.bank, mask, matches), matches, missing)
        composed = time.perf_counter()
        base = engine.synthesize(mask, engine.mean_style)
        synthesized = time.perf_counter()
        painter.paint_over(base, mask, canvas)
        times["retrieve_ms"].append((retrieved - start) * 1000)
        times["compose_ms"].append((composed - retrieved) * 1000)
        times["network_ms"].append((time.perf_counter() - synthesized) * 1000)
        times["components"].append(len(matches))
    stroke = masks[0].copy()
    cv2.circle(stroke, (size // 2, size * 3 // 4), max(2, size // 40), 0, -1)
    painter.canvas(masks[0])
    start = time.perf_counter()
    painter.paint_over(engine.synthesize(stroke, engine.mean_style), stroke, painter.canvas(stroke))
    return {
        **{k: float(np.median(v)) for k, v in times.items()},
        "stroke_frame_ms": (time.perf_counter() - start) * 1000,
        "segments": len(painter.bank),
        "bank_photos": painter.bank.meta["photos"],
        "device": str(engine.device),
        "threads": torch.get_num_threads(),
    }
