"""Commands that train and ship models: train, export, pack, train-parser, export-parser."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from app.cli.common import comma_ints, comma_list, parser_path
from models.data.files import InputError


def cmd_train(args: argparse.Namespace) -> int:
    from models.training.sean_trainer import TrainOptions, train  # imports the losses; keeps other commands light
    try:
        path = train(options_from(args, TrainOptions))
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


def cmd_train_parser(args: argparse.Namespace) -> int:
    from models.training.parser_trainer import ParserTrainOptions, train_parser
    if args.init_from:
        args.init_from = str(parser_path(args.init_from))   # a model name becomes its parser's JSON
    try:
        print(f"checkpoint: {train_parser(options_from(args, ParserTrainOptions))}")
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


def add_options(p: argparse.ArgumentParser, options: type) -> None:
    """A flag for every field of an options dataclass, with the field's help, default and
    type (see `option` in models/training/scaffold.py): each option is declared once."""
    kinds = {"int": int, "float": float, "str": str, "list[str]": comma_list, "list[int]": comma_ints}
    for f in dataclasses.fields(options):
        meta = f.metadata
        flag = "--" + (meta.get("flag") or f.name).replace("_", "-")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = None if required else (f.default_factory() if f.default is dataclasses.MISSING else f.default)
        if f.type == "bool":
            p.add_argument(flag, dest=f.name, action="store_true", help=meta.get("help"))
            continue
        p.add_argument(flag, dest=f.name, type=kinds[f.type], default=default, required=required,
                       choices=meta.get("choices") or None, help=meta.get("help"))


def options_from(args: argparse.Namespace, options: type):
    """The options dataclass filled from parsed flags (add_options made one for each field)."""
    return options(**{f.name: getattr(args, f.name) for f in dataclasses.fields(options)})


def register(sub: argparse._SubParsersAction) -> None:
    from models.training.parser_trainer import ParserTrainOptions
    p = sub.add_parser("train-parser", help="train the face parser (resumes from runs/NAME)")
    add_options(p, ParserTrainOptions)
    p.set_defaults(handler=cmd_train_parser)

    p = sub.add_parser("export-parser", help="write shipped parser weights from a run")
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True, help="weights stem, e.g. weights/face_parser")
    p.add_argument("--model", default="face", help="the model whose labels it produces")
    p.set_defaults(handler=cmd_export_parser)

    from models.training.sean_trainer import TrainOptions
    p = sub.add_parser("train", help="train a SEAN model (resumes from runs/NAME)")
    add_options(p, TrainOptions)
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
