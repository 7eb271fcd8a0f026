"""The project file (.sean): a zip of project.json, mask.png, codes.npz, the photo and
thumbnails, and for a photo edit its original file, its own mask and its wider parse;
versions 1 to 3 are read. Written from a `ProjectSnapshot` (a document copied at one
moment, so another thread can write it); read back with every entry bounded (a crafted
zip may declare or inflate to gigabytes) and every value checked. No Qt here."""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from app.editor.document import BLEND, MEAN, USE_A, USE_B, BankFill, Document, History, Look, RegionStyle, Source, State
from models.data.files import (
    MAX_PIXELS,
    InputError,
    check_archive,
    decode,
    load_arrays,
    open_image,
    photo_from_bytes,
    read_entry,
)
from models.data.framing import Framing
from models.inference.composite import PhotoEdit, Surround
from models.inference.recolour import ColourAdjust
from models.inference.styles import StyleMatrix, checked_colours
from models.nets.sean import NUM_BLOCKS

# What a project's entries may inflate to (a crafted zip may declare or inflate to gigabytes):
PROJECT_LIMIT = 1536 << 20  # all entries together
ORIGINAL_LIMIT = 768 << 20  # the original photo's file (a 120-megapixel PNG fits)
IMAGE_LIMIT = 512 << 20  # every other image
JSON_LIMIT = 16 << 20  # project.json (a few kilobytes)
CODES_LIMIT = 64 << 20  # codes.npz (some kilobytes per source)
THUMBNAIL_PIXELS = 1 << 20  # thumbnails are 96 px; a megapixel is already generous

PROJECT_VERSION = 3  # 3: a photo edit keeps the original photo; 2: entries named by position
READABLE_VERSIONS = (1, 2, 3)


def snapshot_of(doc: Document, **extra_meta) -> "ProjectSnapshot":
    """What a project file of `doc` holds, copied now (sources are replaced, never changed
    in place, so sharing them is safe)."""
    meta = {
        "format": PROJECT_VERSION,
        "model": doc.model,
        "labels": list(doc.label_names),
        "title": doc.title,
        "regions": [asdict(r) for r in doc.regions],
        **extra_meta,
    }
    if doc.bank is not None:
        meta["bank"] = doc.bank.to_dict()
    return ProjectSnapshot(meta, doc.mask.copy(), tuple(doc.sources.items()), doc.photo, doc.photo_edit, doc.look)


def load_project(path: str | Path, recovering: bool = False) -> Document:
    """A project file; anything else (damaged, truncated, another program's zip) is an
    InputError that says so. Only an autosave of our own (`recovering`) may say which
    project it was made of, and so where Save writes: a project someone sent is saved
    where it was opened from, whatever its JSON says."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as z:
            doc, meta = read_project(z, path)
    except InputError:
        raise
    except (
        OSError,
        KeyError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        EOFError,
        RuntimeError,
        NotImplementedError,
        zipfile.BadZipFile,
        zlib.error,
    ) as e:
        raise InputError(f"{path}: not a SEAN Studio project, or a damaged one ({e})") from None
    doc.path = path
    of = meta.get("autosave_of")
    if (
        recovering
        and isinstance(of, str)
        and Path(of).suffix == ".sean"
        and not Path(of).is_symlink()
        and (Path(of).is_file() or not Path(of).exists())
    ):
        doc.path = Path(of)
    return doc


@dataclass(frozen=True)
class ProjectSnapshot:
    """A document's contents at one moment, ready to become a project file."""

    meta: dict
    mask: np.ndarray
    sources: tuple[tuple[str, Source], ...]
    photo: np.ndarray | None
    photo_edit: PhotoEdit | None = None
    look: Look | None = None

    def to_bytes(self) -> bytes:
        # Entries are named by position: a source's key may be a path, with slashes and colons.
        meta = {**self.meta, "sources": [{"key": k, "name": s.name, "kind": s.kind} for k, s in self.sources]}
        if self.photo_edit is not None:
            edit = self.photo_edit
            meta["photo_edit"] = {"framing": edit.framing.to_dict(), "source_key": edit.source_key}
            if edit.surround is not None:
                meta["photo_edit"]["surround"] = edit.surround.framing.to_dict()
        if self.look is not None:
            meta["look"] = {"name": self.look.name, "strength": self.look.strength}
        codes = {f"{i}.codes": s.style.codes for i, (_, s) in enumerate(self.sources)}
        codes.update({f"{i}.present": s.style.present for i, (_, s) in enumerate(self.sources)})
        codes.update(
            {f"{i}.colours": s.style.colours for i, (_, s) in enumerate(self.sources) if s.style.colours is not None}
        )
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("project.json", json.dumps(meta, indent=1))
            z.writestr("mask.png", png_bytes(self.mask))
            npz = io.BytesIO()
            np.savez(npz, **codes)
            z.writestr("codes.npz", npz.getvalue())
            if self.photo is not None:
                z.writestr("photo.png", png_bytes(self.photo))
            for i, (_, s) in enumerate(self.sources):
                if s.thumbnail is not None:
                    z.writestr(f"thumbnails/{i}.png", png_bytes(s.thumbnail))
            if self.photo_edit is not None:
                write_photo_edit(z, self.photo_edit)
            if self.look is not None:
                z.writestr("look.png", png_bytes(self.look.photo))
                if self.look.labels is not None:
                    z.writestr("look_labels.png", png_bytes(self.look.labels))
        return buf.getvalue()


def read_project(z: zipfile.ZipFile, path: Path) -> tuple[Document, dict]:
    """(the document, its project.json) from an open project zip, format 1 or 2."""
    check_archive(z, PROJECT_LIMIT, str(path))
    meta = json.loads(read_entry(z, "project.json", JSON_LIMIT, str(path)))
    if not isinstance(meta, dict) or meta.get("format") not in READABLE_VERSIONS:
        version = meta.get("format") if isinstance(meta, dict) else None
        raise InputError(f"{path}: project format {version} is not supported")
    labels = tuple(str(n) for n in meta["labels"])
    mask = read_image(z, "mask.png", "L")
    if mask.ndim != 2 or int(mask.max()) >= len(labels) or len(meta["regions"]) != len(labels):
        raise InputError(f"{path}: the project's mask does not match its labels")
    arrays = load_arrays(read_entry(z, "codes.npz", CODES_LIMIT, str(path)), f"{path}: codes.npz", CODES_LIMIT)
    names = set(z.namelist())
    if meta["format"] == 1:  # sources by key, entries named after the keys
        listed = [(k, v["name"], v["kind"], k) for k, v in meta["sources"].items()]
    else:
        listed = [(v["key"], v["name"], v["kind"], str(i)) for i, v in enumerate(meta["sources"])]
    sources = {}
    for key, name, kind, entry in listed:
        codes, present = arrays[f"{entry}.codes"].astype(np.float32), arrays[f"{entry}.present"].astype(bool)
        if codes.ndim != 2 or codes.shape[0] != len(labels) or present.shape != (len(labels),):
            raise InputError(f"{path}: the codes of source {name!r} do not match the project's labels")
        colours = arrays.get(f"{entry}.colours")
        if colours is not None:
            colours = checked_colours(colours, len(labels), f"{path}: the colours of source {name!r}")
        thumb = f"thumbnails/{entry}.png"
        sources[str(key)] = Source(
            str(name),
            StyleMatrix(codes, present, colours),
            read_image(z, thumb, "RGB", THUMBNAIL_PIXELS) if thumb in names else None,
            str(kind),
        )
    photo = read_image(z, "photo.png", "RGB") if "photo.png" in names else None
    photo_edit = read_photo_edit(z, meta["photo_edit"], mask.shape, len(labels)) if meta.get("photo_edit") else None
    doc = Document(str(meta["model"]), labels, mask, sources, photo, path, str(meta.get("title", "")), photo_edit)
    regions = tuple(
        RegionStyle(
            r["source_a"],
            r["source_b"],
            float(r["blend"]),
            tuple(r["crossover"]),
            ColourAdjust(
                **{
                    k: float(r.get("adjust", {})[k])
                    for k in r.get("adjust", {})
                    if k in ("hue", "saturation", "lightness")
                }
            ),
        )
        for r in meta["regions"]
    )
    if any(
        len(r.crossover) != NUM_BLOCKS
        or not set(r.crossover) <= {BLEND, USE_A, USE_B}
        or not isinstance(r.source_a, str)
        or not isinstance(r.source_b, (str, type(None)))
        or not 0 <= r.blend <= 1
        for r in regions
    ):
        raise InputError(f"{path}: the project's region styles are damaged")
    known = set(sources) | {MEAN}
    unknown = {name for r in regions for name in (r.source_a, r.source_b) if name is not None and name not in known}
    if unknown:  # a style named but not held: it would silently become the mean style
        raise InputError(f"{path}: the project's regions name {len(unknown)} style(s) it does not hold")
    doc.history = History(
        State(
            doc.mask.copy(),
            regions,
            read_look(z, meta.get("look"), len(labels)),
            read_bank_fill(meta.get("bank"), len(labels), path),
        )
    )
    doc.mark_saved()
    return doc, meta


def write_photo_edit(z: zipfile.ZipFile, edit: PhotoEdit) -> None:
    """The original as it was read (its own file, losslessly; a PNG when there is none) and
    the photo's own mask."""
    if edit.file:
        z.writestr("original", edit.file, compress_type=zipfile.ZIP_STORED)  # already compressed
    else:
        z.writestr("original", png_bytes(edit.original))
    z.writestr("photo_mask.png", png_bytes(edit.mask))
    if edit.surround is not None:
        z.writestr("surround_mask.png", png_bytes(edit.surround.mask))


def read_photo_edit(z: zipfile.ZipFile, meta: dict, mask_shape: tuple, num_classes: int) -> PhotoEdit:
    data = read_entry(z, "original", ORIGINAL_LIMIT, "the project")
    photo_mask = read_image(z, "photo_mask.png", "L")
    if photo_mask.shape != mask_shape:
        raise InputError("the photo's own mask does not match the edit's")
    surround = None
    if meta.get("surround") is not None:
        surround_mask = read_image(z, "surround_mask.png", "L")
        if surround_mask.shape != mask_shape or int(surround_mask.max()) >= num_classes:
            raise InputError("the photo's wider mask does not match the edit's")
        surround = Surround(Framing.from_dict(meta["surround"]), surround_mask)
    return PhotoEdit(
        photo_from_bytes(data, "original"),
        Framing.from_dict(meta["framing"]),
        photo_mask,
        str(meta["source_key"]),
        data,
        surround,
    )


def read_bank_fill(meta: dict | None, num_classes: int, path: Path) -> BankFill | None:
    if meta is None:
        return None
    try:
        return BankFill.from_dict(meta, num_classes)
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{path}: the project's bank fill is damaged") from None


def read_look(z: zipfile.ZipFile, meta: dict | None, num_classes: int) -> Look | None:
    if meta is None:
        return None
    photo = read_image(z, "look.png", "RGB")
    labels = read_image(z, "look_labels.png", "L") if "look_labels.png" in z.namelist() else None
    strength = float(meta["strength"])
    if (
        labels is not None
        and (labels.shape != photo.shape[:2] or int(labels.max()) >= num_classes)
        or not 0 <= strength <= 1
    ):
        raise InputError("the project's look is damaged")
    return Look(str(meta["name"]), photo, labels, strength)


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def read_image(z: zipfile.ZipFile, name: str, mode: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """An image inside a project, with the size limits of any image a user opens, or the
    smaller `max_pixels` (a copy: painting writes to the mask)."""
    img = open_image(io.BytesIO(read_entry(z, name, IMAGE_LIMIT, "the project")), name)
    if img.width * img.height > max_pixels:
        img.close()
        raise InputError(f"{name}: {img.width}x{img.height} is larger than such an image can be")
    img = decode(img, name)
    if mode == "L" and img.mode not in ("L", "P"):
        raise InputError(f"{name}: not a label mask")
    return np.array(img if mode == "L" else img.convert(mode))
