"""Reading and writing images, masks and style codes, with clear errors for bad input.

Everything a user hands us goes through here, so the engine itself only ever sees
uint8 RGB images (H, W, 3) and uint8 index masks (H, W).
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from models.data.labels import LabelScheme

T = TypeVar("T")


class InputError(ValueError):
    """Bad user input: the message is one line a user can act on."""


MIN_SIDE = 32  # pixels: a smaller picture holds nothing a 256 px model can use
MAX_PIXELS = 120_000_000  # 120 megapixels: above any camera's full frame (a 102 MP medium
# format included); a 12000 x 12000 picture is refused, not decoded
MAX_SIDE = 32_767  # pixels on a side: OpenCV's remap and resize go no further
WORKING_SIDE = 2048  # photos that are only framed and parsed are decoded no larger
MIN_MASK_SIDE = 8  # a coarse layout scales up; a 1x1 "mask" is a mistake
MAX_MASK_COLOURS = 64  # a mask has one value per class (20 at most here); a photo, thousands


# The only formats any file we are handed is read as. Pillow identifies a file by its
# content, not its name, and some of its readers run other programs: EPS and PS go through
# Ghostscript, which executes the file's PostScript (an "EPS" named photo.jpg could write
# files or loop forever). Every reader here is Pillow's own decoder. (JPEG includes the MPO
# JPEGs that many cameras and phones write, with a second, preview frame.)
IMAGE_READ_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "PPM", "TGA")


def open_image(source: str | Path | io.BytesIO, where: str) -> Image.Image:
    """A PIL image, decoded lazily: its size is checked against MAX_PIXELS before any pixel
    is decoded (PIL's own bomb check would only warn, and at a lower size). The one place a
    file becomes an image: only IMAGE_READ_FORMATS are tried, whatever the file claims."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source, formats=IMAGE_READ_FORMATS)
    except UnidentifiedImageError:
        raise InputError(f"{where}: not an image of a format we read ({', '.join(IMAGE_READ_FORMATS)})") from None
    except Image.DecompressionBombError:
        raise InputError(f"{where}: too many pixels ({MAX_PIXELS // 1_000_000} megapixels at most)") from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError) as e:
        raise InputError(f"{where}: not a readable image ({e})") from None
    if img.width < 1 or img.height < 1:
        img.close()
        raise InputError(f"{where}: image is empty")
    if img.width * img.height > MAX_PIXELS:
        img.close()
        raise InputError(
            f"{where}: {img.width}x{img.height} is {img.width * img.height / 1e6:.0f} megapixels; "
            f"{MAX_PIXELS // 1_000_000} megapixels at most are accepted"
        )
    return img


def read_entry(z: zipfile.ZipFile, name: str, limit: int, where: str) -> bytes:
    """One zip entry's bytes, at most `limit` of them: its declared size is checked first,
    and it is inflated a piece at a time, so an entry that lies about its size (a zip
    bomb: megabytes that inflate to gigabytes) stops at the limit, not at the memory's."""
    try:
        info = z.getinfo(name)
    except KeyError:
        raise InputError(f"{where}: no {name!r} in it") from None
    too_big = InputError(f"{where}: {name!r} inflates to more than {limit / 2**20:.0f} MB; refused")
    if info.file_size > limit:
        raise too_big
    out = io.BytesIO()
    with z.open(info) as f:
        while chunk := f.read(1 << 20):
            out.write(chunk)
            if out.tell() > limit:
                raise too_big
    return out.getvalue()


def check_archive(z: zipfile.ZipFile, limit: int, where: str) -> None:
    """Refuse an archive whose entries together declare more than `limit` bytes."""
    total = sum(info.file_size for info in z.infolist())
    if total > limit:
        raise InputError(
            f"{where}: its entries inflate to {total / 2**30:.1f} GB; {limit / 2**30:.1f} GB at most are read"
        )


def load_arrays(data: bytes, where: str, max_bytes: int) -> dict[str, np.ndarray]:
    """The arrays of an .npz held in memory, each header read before anything is
    allocated: an object (pickled) array, or one whose declared shape needs more than
    `max_bytes` (a header may declare exabytes in a few bytes), is refused."""
    try:
        return read_arrays(data, where, max_bytes)
    except InputError:
        raise
    except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile, NotImplementedError, RuntimeError) as e:
        reason = "pickled data, which is never loaded" if "pickle" in str(e) else e
        raise InputError(f"{where}: damaged, truncated or not an .npz ({reason})") from None


def read_arrays(data: bytes, where: str, max_bytes: int) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        check_archive(z, max_bytes + (1 << 20) * max(1, len(z.infolist())), where)
        arrays = {}
        for info in z.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with z.open(info) as f:
                version = np.lib.format.read_magic(f)
                read_header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(f)
            if dtype.hasobject:
                raise InputError(f"{where}: {info.filename} holds pickled objects, which are never loaded")
            size = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if size > max_bytes:
                raise InputError(
                    f"{where}: {info.filename} declares {size / 2**20:.0f} MB of data; "
                    f"{max_bytes / 2**20:.0f} MB at most are read"
                )
            arrays[info.filename[:-4]] = np.load(
                io.BytesIO(read_entry(z, info.filename, size + (1 << 16), where)), allow_pickle=False
            )
    return arrays


def decode(img: Image.Image, where: str) -> Image.Image:
    """Decode the pixels, turning a truncated or damaged file into an InputError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
    except (
        OSError,
        SyntaxError,
        ValueError,
        TypeError,
        EOFError,
        MemoryError,
        ZeroDivisionError,
        Image.DecompressionBombError,
    ) as e:
        img.close()
        raise InputError(f"{where}: not a readable image ({e})") from None
    return img


def _open(path: str | Path) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return decode(open_image(path, str(path)), str(path))


def check_size(width: int, height: int, where: str) -> None:
    """One rule for every photo a user hands in: MIN_SIDE pixels on each side at least,
    MAX_SIDE at most (OpenCV's warps and resizes address 32,767 pixels a side). (Masks
    have their own, smaller limit: a coarse layout scales to the model's size.)"""
    if max(width, height) > MAX_SIDE:
        raise InputError(f"{where}: {width}x{height} is too long a side ({MAX_SIDE} px at most)")
    if min(width, height) < MIN_SIDE:
        raise InputError(f"{where}: {width}x{height} is too small ({MIN_SIDE} px on each side at least)")


def to_rgb(img: Image.Image) -> np.ndarray:
    """Any PIL image (grey, 16-bit, palette, RGBA...) -> uint8 RGB; alpha is composited on white."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        a = a / 257.0 if a.max() > 255 else a  # 16-bit grey -> 8-bit
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def readable(convert: Callable[[], T], where: str) -> T:
    """Pixels out of a decoded image: PIL refuses some odd modes and damaged palettes only
    when they are converted, with its own errors; those are InputErrors here."""
    try:
        return convert()
    except (ValueError, OSError, TypeError, KeyError, IndexError, ZeroDivisionError) as e:
        raise InputError(f"{where}: not a readable image ({e})") from None


def load_image(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """A photo as uint8 RGB, EXIF orientation applied. With `max_side`, a larger photo is
    scaled down as it is decoded (JPEG decodes at 1/2, 1/4 or 1/8 size directly), so a
    40-megapixel photo that is only going to be framed never costs a full decode."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    img = open_image(path, str(path))
    try:
        check_size(img.width, img.height, str(path))
    except InputError:
        img.close()
        raise
    if max_side and max(img.size) > max_side:
        scale = max(max_side / max(img.size), MIN_SIDE / min(img.size))  # never below the size rule
        box = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        readable(lambda: img.draft("RGB", box), str(path))
        img = decode(img, str(path))
        readable(lambda: img.thumbnail(box, Image.Resampling.LANCZOS, reducing_gap=2.0), str(path))
    img = decode(img, str(path))
    return readable(lambda: to_rgb(img), str(path))


def photo_from_bytes(data: bytes, where: str) -> np.ndarray:
    """A photo held in memory (a project's copy of the original), with the rules of any photo."""
    img = open_image(io.BytesIO(data), where)
    check_size(img.width, img.height, where)
    img = decode(img, where)
    return readable(lambda: to_rgb(img), where)


def mask_from_colors(rgb: np.ndarray, scheme: LabelScheme, where: str = "mask") -> np.ndarray:
    """Colour-coded mask (H, W, 3) -> index mask, using the scheme's palette exactly."""
    palette = scheme.palette().astype(np.int32)
    key = lambda c: (c[..., 0].astype(np.int32) << 16) | (c[..., 1].astype(np.int32) << 8) | c[..., 2]
    lookup = {int(k): i for i, k in enumerate(key(palette))}
    colours, inverse = np.unique(key(rgb).ravel(), return_inverse=True)
    unknown = [int(c) for c in colours if int(c) not in lookup]
    if unknown:
        shown = ", ".join(f"#{c:06x}" for c in unknown[:3])
        raise InputError(
            f"{where}: {len(unknown)} colour(s) that are not {scheme.name} label colours "
            f"(e.g. {shown}); save it as an index PNG or use the palette colours"
        )
    return np.array([lookup[int(c)] for c in colours], np.uint8)[inverse].reshape(rgb.shape[:2])


def check_labels(mask: np.ndarray, scheme: LabelScheme, where: str = "mask") -> np.ndarray:
    if mask.ndim != 2:
        raise InputError(f"{where}: expected a single-channel label map, got shape {mask.shape}")
    top = int(mask.max()) if mask.size else 0
    if top >= scheme.num_classes:
        raise InputError(
            f"{where}: holds label {top} but model '{scheme.name}' has "
            f"{scheme.num_classes} classes (0-{scheme.num_classes - 1})"
        )
    return mask.astype(np.uint8)


def mask_from_image(img: Image.Image, scheme: LabelScheme, where: str) -> np.ndarray:
    if img.mode in ("L", "P", "I", "I;16", "I;16B", "I;16L"):
        return check_labels(readable(lambda: np.asarray(img).astype(np.int64), where), scheme, where)
    rgb = readable(lambda: np.asarray(img.convert("RGB")), where)
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return check_labels(rgb[..., 0], scheme, where)  # an index mask saved as grey RGB
    return mask_from_colors(rgb, scheme, where)


def load_mask(path: str | Path, scheme: LabelScheme) -> np.ndarray:
    """An index PNG (grey or palette mode: the values are labels) or a colour-coded PNG."""
    with _open(path) as img:
        mask = mask_from_image(img, scheme, str(path))
    if max(mask.shape) > MAX_SIDE:
        raise InputError(f"{path}: {mask.shape[1]}x{mask.shape[0]} is too long a side ({MAX_SIDE} px at most)")
    if min(mask.shape) < MIN_MASK_SIDE:
        raise InputError(
            f"{path}: {mask.shape[1]}x{mask.shape[0]} is too small for a mask "
            f"({MIN_MASK_SIDE} px on each side at least)"
        )
    return mask


def looks_like_label_map(path: str | Path) -> bool:
    """Whether a file is meant as a mask (a PNG of a few flat values or colours), even one
    no model can read: such a file gets a mask's error, never a photo's treatment."""
    try:
        with _open(path) as img:
            return img.format == "PNG" and readable(lambda: img.getcolors(MAX_MASK_COLOURS), str(path)) is not None
    except InputError:
        return False


def carries_palette(img: Image.Image, scheme: LabelScheme) -> bool:
    """Whether a palette PNG holds exactly the scheme's colours, as `save_mask` writes it."""
    palette = img.getpalette() if img.mode == "P" else None
    n = scheme.num_classes
    return (
        palette is not None
        and len(palette) >= 3 * n
        and np.array_equal(np.array(palette[: 3 * n]).reshape(n, 3), scheme.palette())
    )


def schemes_fitting_mask(path: str | Path, schemes: dict[str, LabelScheme]) -> list[str]:
    """The names of `schemes` under which the file reads as a mask: one whose palette the
    PNG carries first, then the rest in the order given (e.g. the current model first)."""
    img = _open(path)
    fits = []
    for name, scheme in schemes.items():
        try:
            mask_from_image(img, scheme, str(path))
        except InputError:
            continue
        fits.append(name)
    return sorted(fits, key=lambda name: not carries_palette(img, schemes[name]))


def check_folder(path: Path) -> None:
    if not path.parent.exists():
        raise InputError(f"{path}: folder {path.parent} does not exist")
    if not path.parent.is_dir():
        raise InputError(f"{path}: {path.parent} is a file, not a folder")


def check_target(path: Path, suffixes: tuple[str, ...] = ()) -> None:
    """What we write replaces only a regular file or nothing: never a device node, a FIFO
    or a folder (as root, a rename onto /dev/null would replace the device); and, when
    `suffixes` are given, its name says what it holds (`parse --out m.jpg` is not a PNG)."""
    check_folder(path)
    if path.exists() and not path.is_file() or path.is_symlink() and not path.resolve().is_file():
        raise InputError(f"{path}: not a regular file; give the name of a new file or of a file to replace")
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(f"{path}: this writes a {' or '.join(suffixes)} file; give a name ending in {suffixes[0]}")


STALE_PARTIAL_SECONDS = 3600  # a temporary file this old is no other writer's work in progress


def remove_stale_partials(path: Path) -> None:
    """The temporary files a killed write to `path` left beside it (named as `atomic_write`
    names them: '.STEM-' + 8 random characters + the suffix), once they are an hour old:
    never a file of another name, never one that may still be being written."""
    pattern = re.compile(rf"\.{re.escape(path.stem)}-[a-z0-9_]{{8}}{re.escape(path.suffix)}")
    now = time.time()
    try:
        for other in path.parent.iterdir():
            stale = (
                pattern.fullmatch(other.name)
                and other.is_file()
                and now - other.stat().st_mtime > STALE_PARTIAL_SECONDS
            )
            if stale:
                other.unlink(missing_ok=True)
    except OSError:
        pass  # a folder we cannot list or clean: the write itself says what is wrong


def atomic_write(path: str | Path, write: Callable[[Path], None], suffixes: tuple[str, ...] = ()) -> None:
    """Write through a temporary file in the same folder, then rename: never a half-written
    file, and a file that cannot be written (read-only folder, full disk) is an InputError
    that says why, with whatever was there before left intact. See `check_target`."""
    path = Path(path)
    check_target(path, suffixes)
    remove_stale_partials(path)
    tmp = None
    umask = os.umask(0)
    os.umask(umask)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
        os.close(fd)
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a saved file should not be
        os.replace(tmp, path)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def check_writable(path: str | Path) -> None:
    """Fail before the work, not after it: can a file be created beside `path`? (What is
    at `path` now is left alone.)"""
    path = Path(path)
    check_folder(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name")
    check_target(path)
    try:
        with tempfile.NamedTemporaryFile(prefix=f".{path.stem}-", dir=path.parent):
            pass
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None


DEFAULT_QUALITY = 95  # JPEG quality of what we write, unless a photo's own is known


IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP"}


def image_format(path: str | Path) -> str:
    kind = IMAGE_FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise InputError(f"{path}: unsupported image type; use one of {', '.join(IMAGE_FORMATS)}")
    return kind


def save_image(path: str | Path, rgb: np.ndarray, quality: int = DEFAULT_QUALITY, metadata: dict | None = None) -> None:
    """PNG, JPEG (at `quality`), WebP or BMP by the suffix; `metadata` (from `photo_metadata`:
    EXIF and the colour profile) goes with it where the format keeps it."""
    kind = image_format(path)
    extra = {k: v for k, v in (metadata or {}).items() if v and kind in ("JPEG", "PNG", "WEBP")}
    atomic_write(path, lambda p: Image.fromarray(rgb).save(p, format=kind, quality=quality, **extra))


def photo_metadata(path: str | Path | io.BytesIO) -> dict:
    """A photo's EXIF (its orientation reset: the pixels are stored turned) and colour
    profile, to write back with an edit of it; {} when it has neither or cannot be read."""
    try:
        with open_image(path, str(path)) as img:
            exif = img.getexif()
            if 0x0112 in exif:
                exif[0x0112] = 1
            return {"exif": exif.tobytes() if len(exif) else None, "icc_profile": img.info.get("icc_profile")}
    except (InputError, OSError, ValueError, SyntaxError, TypeError):
        return {}


# The IJG's standard luminance quantisation table (JPEG Annex K), row by row, as Pillow reports tables
IJG_LUMINANCE = (
    16,
    11,
    10,
    16,
    24,
    40,
    51,
    61,
    12,
    12,
    14,
    19,
    26,
    58,
    60,
    55,
    14,
    13,
    16,
    24,
    40,
    57,
    69,
    56,
    14,
    17,
    22,
    29,
    51,
    87,
    80,
    62,
    18,
    22,
    37,
    56,
    68,
    109,
    103,
    77,
    24,
    35,
    55,
    64,
    81,
    104,
    113,
    92,
    49,
    64,
    78,
    87,
    103,
    121,
    120,
    101,
    72,
    92,
    95,
    98,
    112,
    100,
    103,
    99,
)


def jpeg_quality(source: str | Path | io.BytesIO) -> int | None:
    """The quality (1-100, IJG scale) a JPEG was most likely saved at, read from its
    luminance quantisation table; None for another format or an unusual table. An edit
    of a JPEG is offered this quality, so its untouched pixels lose no more than they had."""
    try:
        with open_image(source, str(source)) as img:
            tables = getattr(img, "quantization", None) if img.format in ("JPEG", "MPO") else None
    except (InputError, OSError, ValueError):
        return None
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    table = np.array(tables[0], np.float64)
    std = np.array(IJG_LUMINANCE, np.float64)

    def scaled(q: int) -> np.ndarray:
        scale = 5000 / q if q < 50 else 200 - 2 * q
        return np.clip(np.floor((std * scale + 50) / 100), 1, 255)

    errors = [np.abs(scaled(q) - table).mean() for q in range(1, 101)]
    best = int(np.argmin(errors))
    return best + 1 if errors[best] < 1.0 else None


def save_mask(path: str | Path, mask: np.ndarray, scheme: LabelScheme) -> None:
    """Index PNG whose pixel values are labels, with the scheme's palette so viewers show colours."""
    img = Image.fromarray(mask.astype(np.uint8)).convert("P")  # L -> P keeps the values as indices
    img.putpalette(scheme.palette().ravel().tolist())
    atomic_write(path, lambda p: img.save(p, format="PNG"), (".png",))
