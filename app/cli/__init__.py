"""Command line: `python main.py COMMAND ...` runs the same engine as the editor.

Each command group lives in its own module (synthesis, training, evaluation); this one
builds the parser and is the one place that turns a library's errors into exit 2 with a
one-line reason on stderr. Exit codes: 0 success, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys

from app.cli import bank, evaluation, look, photo, synthesis, training
from app.cli.common import BAD_INPUT, OneLineParser, add_model_args
from models.data.files import InputError
from models.device import keep_freed_memory


def cmd_edit(args: argparse.Namespace) -> int:
    from app.editor.launch import run_editor  # here: Qt and the networks load only for the editor

    return run_editor(args.model, args.device, args.files)


def build_parser() -> argparse.ArgumentParser:
    """Every command's arguments; building it loads no networks (the commands import
    what they need when they run)."""
    parser = OneLineParser(prog="main.py", description="SEAN Studio engine")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    p = sub.add_parser("edit", help="open the editor (what `python main.py` alone does)")
    p.add_argument(
        "files", nargs="*", help="a project (.sean), a mask or photos to open; a project or mask picks its own model"
    )
    add_model_args(p)
    p.set_defaults(handler=cmd_edit)

    # the research tools (evaluation, figures, benchmarks, data packs, GPU rounds) apart
    # from what a user runs: `python main.py lab COMMAND`
    lab = sub.add_parser(
        "lab",
        help="research tools: evaluation, figures, benchmarks, data packs, GPU rounds (python main.py lab --help)",
    ).add_subparsers(dest="lab_command", metavar="LAB_COMMAND", parser_class=OneLineParser)
    for group in (synthesis, photo, look, bank, training, evaluation):
        group.register(sub, lab)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0), or bad arguments (2, already explained in one line)
        return int(e.code or 0)
    args.command_line = " ".join(["python", "main.py", *argv])
    keep_freed_memory()
    if not getattr(args, "handler", None):
        from app.editor.launch import run_editor

        return run_editor()
    try:
        return args.handler(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return BAD_INPUT
    except OSError as e:  # a file or folder the system refused (read-only, full, missing)
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
