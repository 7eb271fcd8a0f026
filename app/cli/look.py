"""Photorealistic stylisation from the command line: stylize, its decoder's training and
export, its evaluation and figure; `synth --look` (SPADE + PIS) lives with synth and
calls `look_of` here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.cli.common import (
    add_device_arg,
    add_quality_arg,
    file_name,
    float_in,
    int_in,
    library_errors_are_input,
    output_image,
)
from models.data.files import WORKING_SIDE, InputError, load_image, load_mask, save_image, schemes_fitting_mask
from models.settings import LOOK_METHODS, NET_SIDE, SMOOTHING
from models.training.options import StylizerTrainOptions

if TYPE_CHECKING:
    from models.inference.engine import Engine
    from models.inference.stylize import StyleFeatures, Stylizer

MAX_NET_SIDE = 2048


def masks_model(args: argparse.Namespace, masks: list[str]) -> str | None:
    """The model whose labels the masks hold: --model, else the first the first mask fits."""
    from models.inference.weights import model_schemes

    if args.model or not masks:
        return args.model
    fits = schemes_fitting_mask(masks[0], model_schemes())
    if not fits:
        raise InputError(f"{masks[0]}: no model's labels fit this mask (models: {', '.join(model_schemes())})")
    return fits[0]


def photo_labels(engine: Engine | None, photo: np.ndarray, mask_path: str | None, what: str) -> np.ndarray | None:
    """A photo's labels at its own size: its mask, else (with a model that has a parser)
    parsed from the framed photo and placed back, else None (stylised as one region)."""
    from models.inference.composite import parsed_labels

    if mask_path:
        mask = load_mask(mask_path, engine.labels)
        if mask.shape != photo.shape[:2]:
            raise InputError(
                f"{mask_path} is {mask.shape[1]}x{mask.shape[0]} but the {what} is "
                f"{photo.shape[1]}x{photo.shape[0]}; a mask must be its photo's size"
            )
        return mask
    if engine is None:
        return None
    if not engine.has_parser:
        raise InputError(f"model '{engine.info.model}' has no parser: give the {what}'s mask too")
    labels, found_face = parsed_labels(engine, photo)
    if not found_face:
        print(f"note: no face found in the {what}; parsed its centre square", file=sys.stderr)
    return labels


def describe_plan(engine: Engine | None, content_labels, style_labels) -> str | None:
    """A note naming the content's classes that keep their look (the style photo has too
    little of them), or None."""
    from models.inference.stylize import kept_names

    if engine is None or content_labels is None:
        return None
    names = kept_names(engine.labels.names, content_labels, style_labels)
    return f"note: the style photo has none or too little of {names}; those regions keep their look" if names else None


def load_stylizer(engine: Engine | None) -> Stylizer:
    from models.inference.stylize import Stylizer

    return Stylizer.beside(engine.weights_dir) if engine is not None else Stylizer.load()


def look_of(
    engine: Engine | None, style_path: str, style_mask: str | None, side: int, network: Stylizer | None = None
) -> StyleFeatures:
    from models.inference.stylize import style_look

    style = load_image(style_path, max_side=WORKING_SIDE)
    return style_look(style, photo_labels(engine, style, style_mask, "style photo"), side, network)


def cmd_stylize(args: argparse.Namespace) -> int:
    from models.inference.engine import Engine

    output_image(args.out)
    if not 0 <= args.strength <= 1:
        raise InputError(f"--strength {args.strength}: give a number from 0 to 1")
    model = masks_model(args, [m for m in (args.content_mask, args.style_mask) if m])
    engine = Engine.load(model, args.device) if model else None
    from models.inference.stylize import default_smoothing, stylize

    network = load_stylizer(engine) if args.method == "network" else None
    smooth = args.smooth or ("guided" if network else default_smoothing(engine.labels.framing if engine else None))
    content = load_image(args.content)
    content_labels = photo_labels(engine, content, args.content_mask, "content photo")
    look = look_of(engine, args.style, args.style_mask, args.size, network)
    note = describe_plan(engine, content_labels, look.labels)
    if note:
        print(note, file=sys.stderr)
    out = stylize(content, look, content_labels, smooth, args.strength, args.size, network=network)
    save_image(args.out, out, args.quality)
    print(f"wrote {args.out} ({out.shape[1]}x{out.shape[0]})")
    return 0


@library_errors_are_input
def cmd_train_stylizer(args: argparse.Namespace) -> int:
    from app.cli.training import options_from
    from models.training.stylizer_trainer import train_stylizer

    print(f"checkpoint: {train_stylizer(options_from(args, StylizerTrainOptions))}")
    return 0


def cmd_export_stylizer(args: argparse.Namespace) -> int:
    from models.training.export import export_stylizer

    print(f"wrote {export_stylizer(Path(args.run), Path(args.out))}")
    return 0


def cmd_eval_stylize(args: argparse.Namespace) -> int:
    import json

    from app.cli.common import labelled_pairs
    from models.evaluation.stylization import METHODS, check_methods, evaluate_stylization
    from models.inference.engine import Engine

    methods = tuple(args.methods.split(",")) if args.methods else METHODS
    try:
        check_methods(methods)  # before the models load
    except ValueError as e:
        raise InputError(f"--methods: {e}") from None
    engine = Engine.load(args.model, "cpu")
    every = labelled_pairs(args)
    pairs, reference = every[: args.pairs], every[args.pairs :]  # the photos left over: the real set for KID
    if len(pairs) < 2:
        raise InputError("eval-stylize needs at least 2 labelled photos")
    result = evaluate_stylization(
        load_stylizer(engine), pairs, engine.labels, args.size, reference=reference, methods=methods
    )
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{result['pairs']} pairs at {result['size']} px (content i, style i + 1); the decoder alone gives "
        f"a photo back at {result['decoder_psnr']:.2f} dB"
    )
    print(f"{'method':>20} {'edge corr.':>10} {'Lab dist.':>9} {'foreign %':>9} {'KID x1000':>14} {'seconds':>8}")
    for method in ("content_unchanged", *methods):
        r = result[method]
        kid = f"{r['kid'][0]:.1f} ({r['kid'][1]:.1f})" if "kid" in r else "-"
        seconds = f"{r['seconds']:>8.3f}" if "seconds" in r else ""
        print(
            f"{method:>20} {r['edge_correlation']:>10.3f} {r['lab_distance']:>9.2f} "
            f"{100 * r['foreign_share']:>9.2f} {kid:>14} {seconds}"
        )
    return 0


def cmd_figure_stylize(args: argparse.Namespace) -> int:
    from app.cli.showcase import make_stylize_figure
    from models.inference.engine import Engine
    from models.inference.stylize import Stylizer

    output_image(args.out)
    if args.images or args.labels:  # real photos, to look at
        from app.cli.common import labelled_pairs
        from app.cli.showcase import make_stylize_photo_figure

        if not (args.images and args.labels):
            raise InputError("give --images and --labels together")
        engine = Engine.load(args.models[0], "cpu")
        pairs = labelled_pairs(args)[: args.count]
        if len(pairs) < 2:
            raise InputError("the figure needs at least 2 labelled photos")
        make_stylize_photo_figure(load_stylizer(engine), engine, pairs, Path(args.out))
    else:
        make_stylize_figure(Stylizer.load(), [Engine.load(m, "cpu") for m in args.models], Path(args.out), args.seed)
    print(f"wrote {args.out}")
    return 0


def register(sub: argparse._SubParsersAction, lab: argparse._SubParsersAction) -> None:
    from app.cli.common import add_labelled_folder_args
    from app.cli.training import add_options

    p = sub.add_parser(
        "stylize",
        help="give a photo the look of another (light, colour grading), region by region; photorealistic stylisation",
    )
    p.add_argument("content", help="the photo to restyle; the output has its size")
    p.add_argument("--style", required=True, help="the photo whose look it takes")
    p.add_argument("--out", required=True, help="output image (.png or .jpg)")
    p.add_argument("--content-mask", type=file_name, help="the content's label PNG (of one model, the photo's size)")
    p.add_argument("--style-mask", type=file_name, help="the style photo's label PNG")
    p.add_argument(
        "--model",
        default=None,
        help="the model whose labels the masks hold (default: the one "
        "they fit); with a parser (face), photos without a mask are parsed",
    )
    p.add_argument(
        "--method",
        choices=LOOK_METHODS,
        default="transfer",
        help="transfer: each region's colours moved to the style's (default, the photo's own pixels); "
        "network: the WCT network (PhotoWCT), for research",
    )
    p.add_argument(
        "--smooth",
        choices=SMOOTHING,
        help="feather (the default on faces: the transfer's region maps blended across region borders "
        "along the photo's own edges, applied at full size), guided filter (the default otherwise, and the "
        "network's), Li et al.'s exact solve, or none",
    )
    p.add_argument("--strength", type=float_in(0, 1), default=1.0, help="0 (the content) to 1 (the full look)")
    p.add_argument(
        "--size",
        type=int_in(32, MAX_NET_SIDE),
        default=NET_SIDE,
        help=f"the working size, longer side (default {NET_SIDE}); the output keeps the content's own size",
    )
    add_quality_arg(p)
    add_device_arg(p, "; for parsing: stylisation runs on the CPU")
    p.set_defaults(handler=cmd_stylize)

    p = sub.add_parser("train-stylizer", help="train the stylisation decoder block by block (resumes from runs/NAME)")
    add_options(p, StylizerTrainOptions)
    p.set_defaults(handler=cmd_train_stylizer)

    p = sub.add_parser("export-stylizer", help="write the shipped stylisation decoder from a run")
    p.add_argument("--run", default="runs/stylizer")
    p.add_argument("--out", default="weights", help="folder for stylizer.safetensors and stylizer.json")
    p.set_defaults(handler=cmd_export_stylizer)

    p = lab.add_parser(
        "eval-stylize",
        help="stylisation on held-out pairs: edges kept and colour reached, "
        "against Reinhard's colour transfer (global and per class)",
    )
    add_labelled_folder_args(p)
    p.add_argument("--model", default="face", help="whose labels the folder's masks hold")
    p.add_argument("--pairs", type=int_in(2, 100_000), default=50, help="photos to use (default 50)")
    p.add_argument("--size", type=int_in(32, 2048), default=256, help="photos cropped to this size")
    p.add_argument(
        "--methods",
        metavar="NAME[,NAME...]",
        help="measure only these methods (default: all): ours, ours_network, ours_network_no_smoothing, "
        "reinhard_global, reinhard_per_class, reinhard_smoothed",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_eval_stylize)

    p = lab.add_parser(
        "figure-stylize",
        help="content | style | ours | the network | per-class Reinhard + smoothing, from pictures our "
        "models made (or from real photos: --images, --labels, the first of --models)",
    )
    p.add_argument("--out", required=True)
    add_labelled_folder_args(p, required=False)
    p.add_argument("--count", type=int_in(2, 100), default=6, help="real photos: rows (default 6)")
    p.add_argument("--models", type=lambda t: [m for m in t.split(",") if m], default=["face", "cityscapes"])
    p.add_argument("--seed", type=int_in(0, 2**31 - 1), default=3)
    p.set_defaults(handler=cmd_figure_stylize)
