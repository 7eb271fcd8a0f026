"""SIMS commands: bank (build a segment bank), train-canvas and export-canvas (the
network that paints from a canvas). `synth --bank` and `eval --generate bank` use them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.common import (
    add_labelled_folder_args,
    add_model_args,
    comma_ints,
    comma_list,
    int_in,
    library_errors_are_input,
    output_image,
)
from models.data.files import InputError, check_writable
from models.training.options import CanvasTrainOptions


@library_errors_are_input
def cmd_bank(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from models.data.bank import SegmentBank
    from models.data.datasets import split_folders
    from models.inference.engine import Engine

    engine = Engine.load(args.model, "cpu")
    check_writable(args.out)
    # the pairs `train --holdout` trains on: a bank must not hold the photos a model is measured on
    pairs = [p for train, _ in split_folders(args.data, args.holdout) for p in train]
    if args.limit:
        pairs = pairs[: args.limit]
    bank = SegmentBank.build(
        pairs,
        engine.labels,
        engine.size,
        engine.info.name,
        progress=lambda it: tqdm(it, desc="bank", unit="photo", mininterval=2),
    )
    bank.save(args.out)
    size = Path(args.out).stat().st_size / 2**20
    print(f"wrote {args.out} ({size:.0f} MB): {bank.summary()}", file=sys.stderr)
    return 0


@library_errors_are_input
def cmd_train_canvas(args: argparse.Namespace) -> int:
    from app.cli.training import options_from
    from models.training.canvas_trainer import train_canvas

    print(f"checkpoint: {train_canvas(options_from(args, CanvasTrainOptions))}")
    return 0


def cmd_export_canvas(args: argparse.Namespace) -> int:
    from models.training.export import export_canvas

    print(f"wrote {export_canvas(Path(args.run), Path(args.out))}")
    return 0


def cmd_figure_bank(args: argparse.Namespace) -> int:
    from app.cli.common import labelled_pairs
    from app.cli.showcase import make_bank_figure
    from models.inference.engine import Engine
    from models.inference.sims import BankPainter

    output_image(args.out)
    painter = BankPainter.load(Engine.load(args.model, args.device), args.bank)
    pairs = labelled_pairs(args)
    picked = [pairs[i] for i in args.pick if 0 <= i < len(pairs)] if args.pick else pairs[: args.rows]
    if not picked:
        raise InputError("no labelled photos to make the figure from")
    make_bank_figure(painter, picked, Path(args.out), args.show_canvas, args.show_photos)
    print(f"wrote {args.out}")
    return 0


def register(sub: argparse._SubParsersAction, lab: argparse._SubParsersAction) -> None:
    from app.cli.training import add_options

    p = sub.add_parser("bank", help="build a bank of real segments from labelled photos (for synth --bank)")
    add_model_args(p)
    p.add_argument(
        "--data",
        type=comma_list,
        required=True,
        help="DIR[,DIR...] each with images/ and labels/ (label maps of the model's classes)",
    )
    p.add_argument(
        "--holdout",
        type=comma_ints,
        default=[],
        help="leave out the N pairs per folder that `train --holdout N` holds out (e.g. 100,200)",
    )
    p.add_argument("--out", required=True, help="the bank file to write (.npz)")
    p.add_argument("--limit", type=int_in(0, 10**9), default=0, help="use only the first N photos")
    p.set_defaults(handler=cmd_bank)

    p = sub.add_parser(
        "train-canvas", help="train the network that paints a photo from a bank's canvas (resumes from runs/NAME)"
    )
    add_options(p, CanvasTrainOptions)
    p.set_defaults(handler=cmd_train_canvas)

    p = lab.add_parser("figure-bank", help="figure: mask | canvas | ours from the bank | mean style")
    add_labelled_folder_args(p)
    add_model_args(p)
    p.add_argument("--bank", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--rows", type=int_in(1, 64), default=4)
    p.add_argument("--pick", type=comma_ints, default=[], help="indices of the pairs to show (default: the first)")
    p.add_argument(
        "--show-canvas",
        action="store_true",
        help="show the canvas's pixels (dataset photos: for looking at locally, not for publishing)",
    )
    p.add_argument("--show-photos", action="store_true", help="also show the photos (for looking at locally)")
    p.set_defaults(handler=cmd_figure_bank)

    p = sub.add_parser("export-canvas", help="write the shipped canvas network from a run")
    p.add_argument("--run", required=True)
    p.add_argument("--out", default="weights", help="folder for MODEL_canvas.safetensors and .json")
    p.set_defaults(handler=cmd_export_canvas)
