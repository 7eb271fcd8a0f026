"""What every command shares: argument types and groups, the photo and parser helpers."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from models.data.files import DEFAULT_QUALITY, MIN_SIDE, InputError, check_writable, image_format
from models.device import pick_device

if TYPE_CHECKING:
    from models.inference.engine import Engine

BAD_INPUT = 2
SYNTH_SIZES = (MIN_SIDE, 4096)  # --size of a synthesised image: the model's 256 px up or down
FRAMED_SIZES = (MIN_SIDE, 2048)  # --size of a framed photo for parse and label


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments get what bad input gets everywhere: exit 2 with one line on stderr."""

    def error(self, message: str):
        self.exit(BAD_INPUT, f"error: {message} (see: python {self.prog} --help)\n")


def library_errors_are_input(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A command whose library calls say what is wrong with the user's data by raising
    FileNotFoundError or ValueError (trainers, exports, packs): those become one-line
    InputErrors (exit 2), in this one place."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (FileNotFoundError, ValueError) as e:
            raise InputError(str(e)) from None

    return run


def number_in(kind: type, low: float, high: float, what: str):
    """An argparse type for a `kind` (int or float) in [low, high] whose error names the
    range (a float must be finite: nan is outside every range)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside the allowed range {low:g}-{high:g}")
        return value

    return parse


def int_in(low: int, high: int):
    return number_in(int, low, high, "a whole number")


def float_in(low: float, high: float):
    return number_in(float, low, high, "a number")


class Stages:
    """A long command's progress on a terminal, stage by stage (tqdm; nothing when the
    output is not a terminal, or with --quiet): `stages(name)` starts the next stage."""

    def __init__(self, what: str, total: int, quiet: bool = False):
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            desc=what,
            disable=quiet or not sys.stderr.isatty(),
            file=sys.stderr,
            bar_format="{desc} {n}/{total}{postfix} [{elapsed}]",
        )
        self.started = False

    def __call__(self, name: str) -> None:
        self.bar.update(1 if self.started else 0)
        self.started = True
        self.bar.set_postfix_str(name)

    def done(self) -> None:
        self.bar.update(1)
        self.bar.close()


def output_image(path: str | None) -> None:
    """Check an image to be written, before the work that makes it: a known type, a folder
    that exists and takes files."""
    if path:
        image_format(path)
        check_writable(path)


def file_name(text: str) -> str:
    """An argparse type for a file the user names: an empty name (`--codes ""`) is a
    mistake, not "none" (it used to be ignored silently)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty file name")
    return text


def comma_list(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names and text:  # "" is an unset default; "," names nothing
        raise argparse.ArgumentTypeError(f"{text!r} names nothing; give names separated by commas")
    return names


def comma_ints(text: str) -> list[int]:
    try:
        return [int(t) for t in comma_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_device_arg(p: argparse.ArgumentParser, note: str = "") -> None:
    p.add_argument("--device", default=None, help=f"cpu, cuda, cuda:N or mps (default: best available){note}")


def add_quality_arg(p: argparse.ArgumentParser, default: int | None = DEFAULT_QUALITY, what: str = "") -> None:
    shown = what or f"default {default}"
    p.add_argument("--quality", type=int_in(1, 100), default=default, help=f"JPEG quality ({shown})")


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default="face",
        help="model name (face), weights stem (face_256) or weights JSON path (default: face)",
    )
    add_device_arg(p)


def add_refine_arg(p: argparse.ArgumentParser, default: int, what: str) -> None:
    p.add_argument(
        "--refine",
        type=int,
        default=default,
        metavar="STEPS",
        help=f"fit {what} style codes to the photo with STEPS steps after the encoder "
        f"(0: the encoder's codes alone; default {default})",
    )


def refine_steps(args: argparse.Namespace) -> int:
    if not 0 <= args.refine <= 10_000:
        raise InputError(f"--refine {args.refine}: give a number of steps between 0 and 10000")
    return args.refine


def add_labelled_folder_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--images", required=required, help="folder of photos")
    p.add_argument("--labels", required=required, help="folder of label PNGs with the photos' stems")
    p.add_argument(
        "--holdout",
        type=int_in(0, 10**9),
        default=0,
        help="use only the N pairs `train --holdout N` keeps out of this folder",
    )
    p.add_argument(
        "--trained",
        action="store_true",
        help="with --holdout: the pairs training used instead (how closely the model "
        "fits what it saw, against the held-out ones)",
    )


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


def refuse_aspect_for_a_face(engine: "Engine", flag: str) -> None:
    """A face is painted in the model's square, framed as its training photos were: an
    aspect flag (`--aspect`, `--at-aspect`) is for scenes."""
    if engine.labels.framing == "face":
        raise InputError(f"{flag} is for scenes; a face is painted in the model's square, framed as in training")
