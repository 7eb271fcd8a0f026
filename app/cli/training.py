"""Commands that train and ship models: train, export, pack, train-parser, export-parser,
gpu-round and join-parts (a lent GPU's work and the way back)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from app.cli.common import (
    add_device_arg,
    add_quality_arg,
    comma_ints,
    comma_list,
    float_in,
    int_in,
    library_errors_are_input,
    parser_path,
)
from models.data.files import InputError
from models.training.options import ParserTrainOptions, TrainOptions
from models.training.presets import PRESETS, preset


@library_errors_are_input
def cmd_train(args: argparse.Namespace) -> int:
    from models.training.sean_trainer import train  # imports the losses; keeps other commands light

    path = train(options_from(args, TrainOptions, preset(args.preset) if args.preset else {}))
    print(f"checkpoint: {path}")
    return 0


@library_errors_are_input
def cmd_export(args: argparse.Namespace) -> int:
    from models.training.export import export_weights

    info = export_weights(
        args.run, args.out, args.data, args.max_images, args.device or "cpu", args.average_with, args.as_trained
    )
    print(
        f"wrote {args.out}.safetensors and {args.out}.json "
        f"({info.training['iterations']} iterations, {info.image_size}px)"
    )
    return 0


@library_errors_are_input
def cmd_pack(args: argparse.Namespace) -> int:
    from models.data.datasets import pack_folders
    from models.data.labels import LabelScheme

    out = Path(args.out)
    if not out.parent.is_dir():
        raise InputError(f"{out.parent}: no such folder")
    packed, total = pack_folders(
        args.data, LabelScheme.named(args.labels), args.holdout, args.size, out, args.max_mb, args.quality, args.offset
    )
    print(f"wrote {out}: {packed} of {total} training pairs ({out.stat().st_size / 2**20:.1f} MiB)")
    return 0


@library_errors_are_input
def cmd_gpu_round(args: argparse.Namespace) -> int:
    """Everything a lent GPU's few minutes are for, in one command, in the order that keeps
    the most if the time runs out: the CUDA bench (the frame time targets), the adversarial
    fine-tune (train's options; the defaults are the face recipe), its export, and the
    weights cut into parts that can travel back (`join-parts` puts them together).
    `--device cpu` rehearses it here (slowly), to check the commands before a GPU's time."""
    import json

    import torch

    from models.bench.speed import run_bench
    from models.device import pick_device
    from models.training.export import export_weights, split_for_transfer
    from models.training.sean_trainer import train

    opts = options_from(args, TrainOptions, preset(args.preset))
    if not opts.device and not torch.cuda.is_available():
        raise InputError(
            "gpu-round is for a CUDA GPU and there is no CUDA GPU here; --device cpu rehearses it (slowly)"
        )
    device = str(pick_device(opts.device or "cuda"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.bench_sizes:
        from app.cli.evaluation import print_runs

        result = run_bench(device, args.bench_sizes, args.repeats, configs=("lite",))
        (out / f"bench_{device.split(':')[0]}.json").write_text(json.dumps(result, indent=1))
        print_runs(result)
    train(opts)
    stem = out / f"{opts.name}_{opts.size}"
    export_weights(opts.run_dir, stem, max_images=args.max_images, device=device)
    parts = split_for_transfer(stem.with_suffix(".safetensors"))
    print(
        f"wrote {stem}.json and {stem.name}.safetensors in {len(parts)} parts: "
        f"python main.py lab join-parts {stem}.safetensors"
    )
    return 0


def cmd_join_parts(args: argparse.Namespace) -> int:
    from models.training.export import join_parts

    try:
        path = join_parts(Path(args.file))
    except (OSError, ValueError) as e:
        raise InputError(str(e)) from None
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB, checksum matches)")
    return 0


@library_errors_are_input
def cmd_train_parser(args: argparse.Namespace) -> int:
    from models.training.parser_trainer import train_parser

    opts = options_from(args, ParserTrainOptions)
    if opts.init_from:
        opts.init_from = str(parser_path(opts.init_from))  # a model name becomes its parser's JSON
    print(f"checkpoint: {train_parser(opts)}")
    return 0


def cmd_export_parser(args: argparse.Namespace) -> int:
    from models.training.export import export_parser

    info = export_parser(args.run, args.out, args.model)
    print(f"wrote {args.out}.safetensors and {args.out}.json ({info.training['iterations']} iterations)")
    return 0


def add_options(p: argparse.ArgumentParser, options: type) -> None:
    """A flag for every field of an options dataclass, with the field's help and type (see
    `option` in models/training/options.py): each option is declared once. A flag left out
    is left out of the parsed arguments too, so that `options_from` can tell it from one
    given with its default's value (a preset's value gives way only to a given flag)."""
    kinds = {"int": int, "float": float, "str": str, "list[str]": comma_list, "list[int]": comma_ints}
    for f in dataclasses.fields(options):
        meta = f.metadata
        flag = "--" + (meta.get("flag") or f.name).replace("_", "-")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if f.type == "bool":
            p.add_argument(flag, dest=f.name, action="store_true", default=argparse.SUPPRESS, help=meta.get("help"))
            continue
        p.add_argument(
            flag,
            dest=f.name,
            type=kinds[f.type],
            default=argparse.SUPPRESS,
            required=required,
            choices=meta.get("choices") or None,
            help=meta.get("help"),
        )


def options_from(args: argparse.Namespace, options: type, recipe: dict | None = None):
    """The options dataclass from parsed flags: each option as given, else the `recipe`'s
    (a preset's) value, else its default."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(options) if hasattr(args, f.name)}
    return options(**{**(recipe or {}), **given})


def add_preset_arg(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=default,
        help="start from a named recipe (models/training/presets.py); flags given win over it"
        + (f" (default {default})" if default else ""),
    )


def register(sub: argparse._SubParsersAction, lab: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-parser", help="train the face parser (resumes from runs/NAME)")
    add_options(p, ParserTrainOptions)
    p.set_defaults(handler=cmd_train_parser)

    p = sub.add_parser("export-parser", help="write shipped parser weights from a run")
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True, help="weights stem, e.g. weights/face_parser")
    p.add_argument("--model", default="face", help="the model whose labels it produces")
    p.set_defaults(handler=cmd_export_parser)

    p = sub.add_parser("train", help="train a SEAN model (resumes from runs/NAME)")
    add_options(p, TrainOptions)
    add_preset_arg(p, None)
    p.set_defaults(handler=cmd_train)

    p = lab.add_parser(
        "gpu-round",
        help="on a lent CUDA GPU: the CUDA bench, an adversarial fine-tune, its export in parts that can travel back",
    )
    add_options(p, TrainOptions)
    p.add_argument("--out", required=True, help="folder for the bench JSON, the weights JSON and parts")
    p.add_argument("--bench-sizes", type=comma_ints, default=[256, 512], help="bench sizes (empty: no bench)")
    p.add_argument("--repeats", type=int_in(1, 10_000), default=50, help="bench repeats per measurement")
    p.add_argument("--max-images", type=int_in(1, 10**7), default=400, help="training photos for the style statistics")
    add_preset_arg(p, "face-gpu-round")
    p.set_defaults(handler=cmd_gpu_round)

    p = lab.add_parser("join-parts", help="put weights that came back from a GPU in parts together")
    p.add_argument("file", help="the file to make, e.g. face_gpu_256.safetensors (from FILE.part0...)")
    p.set_defaults(handler=cmd_join_parts)

    p = lab.add_parser("pack", help="pack training pairs into one small .npz (to carry to a GPU machine)")
    p.add_argument("--data", type=comma_list, required=True)
    p.add_argument("--holdout", type=comma_ints, default=[], help="as for train: these pairs stay out")
    p.add_argument("--labels", default="face")
    p.add_argument("--size", type=int_in(32, 4096), default=256, help="shorter side of the stored photos")
    p.add_argument("--max-mb", type=float_in(0.001, 10**6), default=40)
    add_quality_arg(p, 90)
    p.add_argument(
        "--offset",
        type=int_in(0, 10**9),
        default=0,
        help="start each folder this many pairs in (wrapping round): a pack of other photos",
    )
    p.add_argument("--out", required=True, help="PACK.npz; train takes it in --data")
    p.set_defaults(handler=cmd_pack)

    p = sub.add_parser("export", help="write shipped weights from a training run")
    p.add_argument("--run", required=True, help="run folder holding checkpoint.pt")
    p.add_argument("--out", required=True, help="weights stem, e.g. weights/face_256")
    p.add_argument("--data", type=comma_list, default=None, help="folders for the style statistics")
    p.add_argument("--max-images", type=int_in(1, 10**7), default=1000)
    p.add_argument(
        "--average-with",
        type=comma_list,
        default=[],
        metavar="WEIGHTS[,WEIGHTS...]",
        help="earlier exports of the same run to average the checkpoint's weights with",
    )
    p.add_argument(
        "--as-trained",
        action="store_true",
        help="the weights as trained, not their moving average (which lags a short run)",
    )
    add_device_arg(p)
    p.set_defaults(handler=cmd_export)
