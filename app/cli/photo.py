"""Commands that edit a user's photo and give it back at its own size: restyle, render."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.cli.common import (
    Stages,
    add_device_arg,
    add_model_args,
    add_quality_arg,
    add_refine_arg,
    comma_list,
    file_name,
    float_in,
    output_image,
    refine_steps,
)
from app.cli.synthesis import style_of_photo
from models.data.files import (
    DEFAULT_QUALITY,
    InputError,
    jpeg_quality,
    load_image,
    load_mask,
    photo_metadata,
    save_image,
)
from models.inference.styles import StyleMatrix
from models.settings import REFINE_STEPS

if TYPE_CHECKING:
    from models.inference.composite import PhotoMaps
    from models.inference.engine import Engine


def region_ids(engine: Engine, names: list[str], alone: bool = False) -> list[int]:
    """Class ids of the named regions (all, when none are named), each with the regions of
    its group (skin with nose, ears and neck), as a drop in the editor takes them, unless
    `alone`."""
    if not names:
        return list(range(engine.labels.num_classes))
    if any(not n for n in names):
        raise InputError("--region: an empty region name; give names separated by commas, e.g. hair,skin")
    unknown = [n for n in names if n not in engine.labels.names]
    if unknown:
        raise InputError(
            f"--region {','.join(unknown)}: not a region of model '{engine.info.model}' "
            f"(regions: {', '.join(engine.labels.names)})"
        )
    ids = [engine.labels.names.index(n) for n in names]
    groups = [(c,) if alone else engine.labels.group_of(c) for c in ids]
    return list(dict.fromkeys(c for group in groups for c in group))


def painted_maps(args: argparse.Namespace, engine: Engine, photo: np.ndarray, mask: np.ndarray | None) -> PhotoMaps:
    """The edited labels and the photo's own at the photo's size: --edited-mask, and --mask
    or the parse of the photo as given (what `parse --no-frame` writes), a parse pixel off
    at class borders."""
    edited = load_mask(args.edited_mask, engine.labels)
    if edited.shape != photo.shape[:2]:
        raise InputError(
            f"{args.edited_mask} is {edited.shape[1]}x{edited.shape[0]} but the photo is "
            f"{photo.shape[1]}x{photo.shape[0]}; paint on a label map of the photo's own size (parse --no-frame)"
        )
    own = mask if mask is not None else engine.parser.parse(photo)
    if not (edited != own).any():
        print(f"note: {args.edited_mask} is the photo's own mask; nothing was painted", file=sys.stderr)
    from models.inference.composite import PhotoMaps

    parse_pixel = max(photo.shape[:2]) / engine.parser.info.config.input_size
    return PhotoMaps(edited, own, 0 if mask is not None else int(np.ceil(parse_pixel)))


def painted_into_square(edit, photo_maps: PhotoMaps) -> np.ndarray:
    """The edit's mask at the model's size with the painted shapes in it, for the model's
    picture of the edit (the fill's guide)."""
    import cv2

    edited, own = photo_maps.edited, photo_maps.own
    size = edit.mask.shape[0]
    to_model = edit.framing.to_model(size).astype(np.float32)
    warp = lambda a: cv2.warpAffine(a, to_model, (size, size), flags=cv2.INTER_NEAREST, borderValue=0)
    painted = warp((edited != own).astype(np.uint8)) > 0
    out = edit.mask.copy()
    out[painted] = warp(edited)[painted]
    return out


def cmd_restyle(args: argparse.Namespace) -> int:
    from models.inference.composite import render_edit, start_edit
    from models.inference.engine import Engine
    from models.inference.recolour import ColourAdjust

    steps = refine_steps(args)
    if args.style == "" or args.codes == "":
        raise InputError("--style and --codes need a file name")
    adjust = ColourAdjust(args.hue, args.saturation / 100, args.lightness / 100)
    if args.style and args.codes or not (args.style or args.codes or args.edited_mask or not adjust.is_identity):
        raise InputError(
            "give the new style as --style PHOTO2 or --codes CODES.npz (one of them), and/or a "
            "colour by hand with --hue, --saturation, --lightness, and/or painted shapes with --edited-mask"
        )
    output_image(args.out)
    if any(Path(args.out).resolve() == Path(p).resolve() for p in (args.photo, args.style, args.codes) if p):
        raise InputError(f"--out {args.out} is one of the inputs; write the edit to a new file")
    stage = Stages("restyle", 5, args.quiet)  # the default refinement takes seconds: say what is done
    stage("loading the model and the photo")
    engine = Engine.load(args.model, args.device)
    regions = region_ids(engine, args.region, args.alone)
    bank = texture_bank(args, engine)
    original = load_image(args.photo)
    engine.check_photo_suits(original, args.photo)
    mask = load_mask(args.mask, engine.labels) if args.mask else None
    if mask is None and not engine.has_parser:
        raise InputError(f"model '{engine.info.model}' has no parser: give the photo's mask with --mask MASK.png")
    if mask is not None and mask.shape != original.shape[:2]:
        raise InputError(
            f"{args.mask} is {mask.shape[1]}x{mask.shape[0]} but the photo is {original.shape[1]}x{original.shape[0]}"
        )
    stage(f"framing, parsing and fitting the photo's style ({steps} refinement steps)")
    edit, own, _ = start_edit(engine, original, "photo", mask, steps)
    if engine.labels.framing == "face" and not edit.framing.found_face:
        print(f"note: no face found in {args.photo}; editing its centre square", file=sys.stderr)
    present = set(np.unique(edit.mask).tolist())
    absent = [engine.labels.names[c] for c in regions if c not in present]
    if args.region and len(absent) == len(regions):
        raise InputError(f"{args.photo}: the model finds no {', '.join(absent)} in this photo; nothing to restyle")
    if args.region and absent:
        print(f"note: the model finds no {', '.join(absent)} in {args.photo}", file=sys.stderr)
    stage("reading the new style")
    styles = new_styles(args, engine, own, regions, edit.mask, steps)
    photo_maps = painted_maps(args, engine, original, mask) if args.edited_mask else None
    edited_mask = edit.mask if photo_maps is None else painted_into_square(edit, photo_maps)
    stage("recolouring the photo" + (" and filling the painted shapes" if photo_maps else ""))
    adjustments = {} if adjust.is_identity else {c: adjust for c in regions}
    lacking: list[int] = []
    result = render_edit(engine, edit, edited_mask, [styles], own, adjustments, photo_maps, bank, lacking)
    if lacking:
        names = ", ".join(engine.labels.names[c] for c in lacking)
        where = "the photo and the bank have" if bank is not None else "the photo has"
        more = "" if bank is not None else " (--bank BANK.npz lends other photos')"
        print(
            f"note: {where} too little {names} to copy its texture from{more}; those shapes take the model's picture",
            file=sys.stderr,
        )
    stage("writing")
    quality = args.quality or jpeg_quality(args.photo) or DEFAULT_QUALITY  # a JPEG's own, unless given
    save_image(args.out, result, quality, photo_metadata(args.photo))
    stage.done()
    changed = int((result != original).any(-1).sum())
    print(
        f"wrote {args.out} ({result.shape[1]}x{result.shape[0]}; {changed / result[..., 0].size:.1%} of "
        f"the pixels changed)"
    )
    return 0


def texture_bank(args: argparse.Namespace, engine: Engine):
    """--bank, loaded and checked against the model, or None."""
    if not args.bank:
        return None
    if not args.edited_mask:
        raise InputError("--bank gives painted shapes their texture: it needs --edited-mask")
    from models.data.bank import SegmentBank

    bank = SegmentBank.load(args.bank)
    bank.check_fits(engine.info.model, engine.labels)
    return bank


def new_styles(
    args: argparse.Namespace, engine: Engine, own: StyleMatrix, regions: list[int], mask: np.ndarray, steps: int
) -> StyleMatrix:
    """The photo's own style with `regions` taken from --style or --codes (the photo's own
    alone when neither is given: a colour set by hand only)."""
    own = own.filled_from(engine.mean_style)
    if not (args.style or args.codes):
        return own
    cfg = engine.info.config
    target = (
        style_of_photo(engine, args.style, None, steps)
        if args.style
        else StyleMatrix.load(args.codes, cfg.num_classes, cfg.style_dim, engine.info.model)
    )
    codes = own.codes.copy()
    given = [c for c in regions if target.present[c]]
    codes[given] = target.codes[given]
    missing = [engine.labels.names[c] for c in regions if not target.present[c] and c in np.unique(mask)]
    if missing:
        print(f"note: the new style has no {', '.join(missing)}; those regions keep the photo's own", file=sys.stderr)
    colours = own.colour_rows().copy()
    colours[given] = target.colour_rows()[given]
    return StyleMatrix(codes, own.present | target.present, colours)


def cmd_render(args: argparse.Namespace) -> int:
    import io

    from app.editor.document import Document
    from app.editor.session import EditorSession
    from models.inference.engine import Engine

    output_image(args.out)
    doc = Document.load(args.project)
    if doc.photo_edit is None:
        raise InputError(f"{args.project}: this edit did not start from a photo; `synth` renders a mask")
    session = EditorSession(Engine.load(doc.model, args.device))
    session.check_fits(doc, args.project)  # codes of another width or NaN: refused, as the editor does
    result = session.render_photo(doc)  # the editor's own export
    edit = doc.photo_edit
    metadata = photo_metadata(io.BytesIO(edit.file)) if edit.file else {}
    original_quality = jpeg_quality(io.BytesIO(edit.file)) if edit.file else None
    save_image(args.out, result, args.quality or original_quality or DEFAULT_QUALITY, metadata)
    print(f"wrote {args.out} ({result.shape[1]}x{result.shape[0]}{', with its look' if doc.look else ''})")
    return 0


def register(sub: argparse._SubParsersAction, lab: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "restyle",
        help="give regions of a photo another style; the photo comes back at its own size, changed only there",
    )
    p.add_argument("photo")
    p.add_argument("--out", required=True, help="the edited photo (.png or .jpg)")
    p.add_argument(
        "--region",
        type=comma_list,
        default=[],
        metavar="NAME[,NAME...]",
        help="the regions to restyle, each with its group (skin takes nose, ears and neck; default: all)",
    )
    p.add_argument("--alone", action="store_true", help="restyle the named regions alone, not their groups")
    p.add_argument("--quiet", action="store_true", help="no progress on the terminal")
    p.add_argument(
        "--style", type=file_name, help="take the new style from this photo (framed and parsed like any photo)"
    )
    p.add_argument("--codes", type=file_name, help="take the new style from these codes (`encode` writes them)")
    p.add_argument(
        "--hue",
        type=float_in(-180, 180),
        default=0.0,
        metavar="DEG",
        help="turn the regions' hue by this many degrees (after the new style, if any)",
    )
    p.add_argument(
        "--saturation",
        type=float_in(-100, 100),
        default=0.0,
        metavar="PCT",
        help="the regions' saturation, -100 (grey) to 100 (twice as saturated)",
    )
    p.add_argument(
        "--lightness",
        type=float_in(-100, 100),
        default=0.0,
        metavar="PCT",
        help="the regions' lightness, -100 (black) to 100 (white)",
    )
    p.add_argument("--mask", type=file_name, help="the photo's own mask (for models without a parser)")
    p.add_argument(
        "--edited-mask",
        type=file_name,
        help="a label map at the photo's own size (as `parse --no-frame` writes one): where it differs from "
        "the photo's own mask (parsed, or --mask), the shapes painted in it are filled with the photo's texture",
    )
    p.add_argument(
        "--bank",
        type=file_name,
        help="with --edited-mask: a segment bank (`python main.py bank`) whose photos give their texture to "
        "painted classes the photo has too little of (a beard on a beardless face)",
    )
    add_quality_arg(p, None, "default: the original's, when it is a JPEG; else 95")
    add_refine_arg(p, REFINE_STEPS, "the photos'")
    add_model_args(p)
    p.set_defaults(handler=cmd_restyle)

    p = sub.add_parser("render", help="a saved photo edit at the photo's full resolution")
    p.add_argument("project", help="PROJECT.sean, started from a photo")
    p.add_argument("--out", required=True, help="the edited photo (.png or .jpg)")
    add_quality_arg(p, None, "default: the original's, when it is a JPEG; else 95")
    add_device_arg(p)
    p.set_defaults(handler=cmd_render)
