"""Commands that make pictures and masks: encode, synth, parse, label."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.cli.common import (
    FRAMED_SIZES,
    SYNTH_SIZES,
    add_model_args,
    add_refine_arg,
    file_name,
    float_in,
    int_in,
    load_parser,
    output_image,
    refine_steps,
    refuse_aspect_for_a_face,
)
from models.data.files import WORKING_SIDE, InputError, check_writable, load_image, load_mask, save_image, save_mask
from models.inference.styles import StyleMatrix
from models.settings import MAX_SCENE_ASPECT, REFINE_STEPS

if TYPE_CHECKING:
    from models.inference.engine import Engine


def style_of_photo(engine: Engine, image_path: str, mask_path: str | None, refine: int) -> StyleMatrix:
    """Codes of a style photo: under its mask, or framed and parsed when none is given."""
    photo = load_image(image_path, max_side=None if mask_path else WORKING_SIDE)
    engine.check_photo_suits(photo, image_path)
    if mask_path:
        return engine.encode(photo, load_mask(mask_path, engine.labels), refine)
    if not engine.has_parser:
        raise InputError(
            f"{image_path}: no --style-mask given, and model '{engine.info.model}' has no "
            "parser to make one from the photo; pass --style-mask MASK.png"
        )
    framed, mask, found = engine.frame_and_parse(photo)
    if not found:
        print(f"note: no face found in {image_path}; using its centre square", file=sys.stderr)
    return engine.encode(framed, mask, refine)


def describe_missing(engine: Engine, style: StyleMatrix, mask) -> str | None:
    """A note naming the regions of `mask` the style photo had no code for."""
    used = set(int(v) for v in set(mask.ravel().tolist()))
    missing = [engine.labels.names[c] for c in sorted(used) if not style.present[c]]
    if not missing:
        return None
    return f"note: the style photo has no {', '.join(missing)}; those regions keep the mean style"


def cmd_encode(args: argparse.Namespace) -> int:
    from models.inference.engine import Engine

    steps = refine_steps(args)
    check_writable(args.out)
    engine = Engine.load(args.model, args.device)
    image = load_image(args.image)
    if args.mask is None:  # framed and parsed as an edit of the photo would be
        _, image = engine.frame(image)
        mask = engine.parser.parse(image)
    else:
        mask = load_mask(args.mask, engine.labels)
        if mask.shape != image.shape[:2]:
            raise InputError(
                f"{args.image} is {image.shape[1]}x{image.shape[0]} but the mask {args.mask} is "
                f"{mask.shape[1]}x{mask.shape[0]}: a mask from `parse` belongs to the framed photo "
                "(`parse --framed FRAMED.png`, then encode that), or leave out --mask to frame and parse it here"
            )
    style = engine.encode(image, mask, steps)
    style.save(args.out, engine.info.model, engine.labels.names)
    present = [engine.labels.names[c] for c in range(len(style.present)) if style.present[c]]
    print(f"wrote {args.out}: style codes for {len(present)} regions ({', '.join(present)})")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    import cv2

    from models.inference.engine import Engine

    steps = refine_steps(args)
    output_image(args.out)
    if args.show_canvas and not args.bank:
        raise InputError("--show-canvas needs --bank: the canvas is what the bank's segments make")
    output_image(args.show_canvas)
    engine = Engine.load(args.model, args.device)
    painter = bank_painter(engine, args.bank) if args.bank else None
    if args.aspect is not None:
        refuse_aspect_for_a_face(engine, "--aspect")
    mask = engine.scene_layout(load_mask(args.mask, engine.labels), args.aspect)
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
    out = paint_from_bank(painter, mask, style, args.show_canvas) if painter else engine.synthesize(mask, style)
    if args.look:  # SPADE + PIS: the synthesis given a photo's look
        from app.cli.look import describe_plan, look_of
        from models.inference.stylize import default_smoothing, stylize
        from models.settings import NET_SIDE

        look = look_of(engine, args.look, args.look_mask, NET_SIDE)
        note = describe_plan(engine, mask, look.labels)
        if note:
            print(note, file=sys.stderr)
        out = stylize(out, look, mask, default_smoothing(engine.labels.framing))
    if args.size and args.size != out.shape[0]:
        interp = cv2.INTER_LANCZOS4 if args.size > out.shape[0] else cv2.INTER_AREA
        out = cv2.resize(out, (round(args.size * out.shape[1] / out.shape[0]), args.size), interpolation=interp)
    save_image(args.out, out)
    print(f"wrote {args.out} ({out.shape[1]}x{out.shape[0]})")
    return 0


def bank_painter(engine: Engine, bank: str):
    from models.inference.sims import BankPainter

    painter = BankPainter.load(engine, bank)
    print(f"bank: {painter.bank.summary()}", file=sys.stderr)
    return painter


def paint_from_bank(painter, mask: np.ndarray, style: StyleMatrix, show_canvas: str | None) -> np.ndarray:
    """SIMS: the mask's canvas of retrieved segments, painted by the canvas network over the
    picture `style` gives; regions the bank lacks keep that picture, and a note says which."""
    canvas = painter.canvas(mask)
    if canvas.missing:
        print(
            f"note: the bank has no {', '.join(canvas.missing)}; those regions keep the style's picture",
            file=sys.stderr,
        )
    if show_canvas:  # at the layout's aspect, beside the picture (the bank's segments are square-squeezed)
        import cv2

        save_image(show_canvas, cv2.resize(canvas.image, mask.shape[::-1], interpolation=cv2.INTER_LINEAR))
        print(
            f"wrote {show_canvas}: the canvas ({canvas.filled.mean():.0%} of it pasted from "
            f"{len(canvas.matches)} segments)"
        )
    return painter.paint(mask, canvas, style)


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


def register(sub: argparse._SubParsersAction, lab: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="style codes of a photo under its mask")
    p.add_argument("image")
    p.add_argument("--mask", help="label mask of IMAGE (index or colour PNG); without one, IMAGE is framed and parsed")
    p.add_argument("--out", required=True, help="CODES.npz")
    add_refine_arg(p, REFINE_STEPS, "the")
    add_model_args(p)
    p.set_defaults(handler=cmd_encode)

    p = sub.add_parser("synth", help="synthesise a photo from a mask and styles")
    p.add_argument("--mask", required=True, help="target label mask (index or colour PNG)")
    p.add_argument("--style", type=file_name, help="style photo; its codes override --codes where it has the region")
    p.add_argument("--style-mask", type=file_name, help="label mask of the style photo")
    p.add_argument(
        "--codes", type=file_name, help="style codes from `encode`; regions neither gives use the mean style"
    )
    p.add_argument(
        "--look",
        type=file_name,
        help="then give the picture this photo's look (photorealistic stylisation, region by region: SPADE + PIS)",
    )
    p.add_argument(
        "--look-mask", type=file_name, help="label mask of the --look photo (parsed when the model has a parser)"
    )
    p.add_argument(
        "--bank",
        type=file_name,
        help="paint the mask from real segments of this bank (`python main.py bank`): "
        "SIMS's retrieval, canvas and synthesis, over the picture the styles give",
    )
    p.add_argument("--show-canvas", metavar="CANVAS", help="with --bank: also write the canvas of retrieved segments")
    p.add_argument("--out", required=True, help="output image (.png or .jpg)")
    p.add_argument(
        "--size",
        type=int_in(*SYNTH_SIZES),
        default=None,
        help=f"output height in pixels, {SYNTH_SIZES[0]}-{SYNTH_SIZES[1]} (a face's side; default: the model's)",
    )
    p.add_argument(
        "--aspect",
        type=float_in(1 / MAX_SCENE_ASPECT, MAX_SCENE_ASPECT),
        default=None,
        help="a scene's width over its height (default: the mask's own; a square mask of a set squeezed into "
        "the square, as pix2pix's Cityscapes from 2:1, at that set's aspect)",
    )
    add_refine_arg(p, REFINE_STEPS, "the --style photo's")
    add_model_args(p)
    p.set_defaults(handler=cmd_synth)

    p = sub.add_parser("parse", help="photo -> label mask with the model's parser")
    p.add_argument("image")
    p.add_argument("--out", required=True, help="index mask PNG")
    p.add_argument("--color", help="also write a colour visualisation here")
    p.add_argument("--framed", help="also write the framed photo the mask belongs to")
    p.add_argument("--no-frame", action="store_true", help="parse the photo as given (already framed)")
    p.add_argument(
        "--size",
        type=int_in(*FRAMED_SIZES),
        default=256,
        help=f"framed image size, {FRAMED_SIZES[0]}-{FRAMED_SIZES[1]} (default 256)",
    )
    add_model_args(p)
    p.set_defaults(handler=cmd_parse)

    p = sub.add_parser("label", help="frame and parse a folder of photos into a training dataset")
    p.add_argument("photos")
    p.add_argument("--out", required=True, help="dataset folder (gets images/ and labels/)")
    p.add_argument(
        "--size",
        type=int_in(*FRAMED_SIZES),
        default=256,
        help=f"framed photo size, {FRAMED_SIZES[0]}-{FRAMED_SIZES[1]} (default 256)",
    )
    add_model_args(p)
    p.set_defaults(handler=cmd_label)
