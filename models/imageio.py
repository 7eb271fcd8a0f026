"""Reading and writing images, masks and style codes, with clear errors for bad input.

Everything a user hands us goes through here, so the engine itself only ever sees
uint8 RGB images (H, W, 3) and uint8 index masks (H, W).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .labels import LabelScheme


class InputError(ValueError):
    """Bad user input: the message is one line a user can act on."""


def _open(path: str | Path) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise InputError(f"{path}: not a readable image ({e})") from None
    if img.width < 1 or img.height < 1:
        raise InputError(f"{path}: image is empty")
    return img


def to_rgb(img: Image.Image) -> np.ndarray:
    """Any PIL image (grey, 16-bit, palette, RGBA...) -> uint8 RGB; alpha is composited on white."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        a = a / 257.0 if a.max() > 255 else a   # 16-bit grey -> 8-bit
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def load_image(path: str | Path) -> np.ndarray:
    return to_rgb(_open(path))


def mask_from_colors(rgb: np.ndarray, scheme: LabelScheme, where: str = "mask") -> np.ndarray:
    """Colour-coded mask (H, W, 3) -> index mask, using the scheme's palette exactly."""
    palette = scheme.palette().astype(np.int32)
    key = lambda c: (c[..., 0].astype(np.int32) << 16) | (c[..., 1].astype(np.int32) << 8) | c[..., 2]
    lookup = {int(k): i for i, k in enumerate(key(palette))}
    colours, inverse = np.unique(key(rgb).ravel(), return_inverse=True)
    unknown = [int(c) for c in colours if int(c) not in lookup]
    if unknown:
        shown = ", ".join(f"#{c:06x}" for c in unknown[:3])
        raise InputError(f"{where}: {len(unknown)} colour(s) that are not {scheme.name} label colours "
                         f"(e.g. {shown}); save it as an index PNG or use the palette colours")
    return np.array([lookup[int(c)] for c in colours], np.uint8)[inverse].reshape(rgb.shape[:2])


def check_labels(mask: np.ndarray, scheme: LabelScheme, where: str = "mask") -> np.ndarray:
    if mask.ndim != 2:
        raise InputError(f"{where}: expected a single-channel label map, got shape {mask.shape}")
    top = int(mask.max()) if mask.size else 0
    if top >= scheme.num_classes:
        raise InputError(f"{where}: holds label {top} but model '{scheme.name}' has "
                         f"{scheme.num_classes} classes (0-{scheme.num_classes - 1})")
    return mask.astype(np.uint8)


def mask_from_image(img: Image.Image, scheme: LabelScheme, where: str) -> np.ndarray:
    if img.mode in ("L", "P", "I", "I;16", "I;16B", "I;16L"):
        return check_labels(np.asarray(img).astype(np.int64), scheme, where)
    rgb = np.asarray(img.convert("RGB"))
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return check_labels(rgb[..., 0], scheme, where)  # an index mask saved as grey RGB
    return mask_from_colors(rgb, scheme, where)


def load_mask(path: str | Path, scheme: LabelScheme) -> np.ndarray:
    """An index PNG (grey or palette mode: the values are labels) or a colour-coded PNG."""
    return mask_from_image(_open(path), scheme, str(path))


def carries_palette(img: Image.Image, scheme: LabelScheme) -> bool:
    """Whether a palette PNG holds exactly the scheme's colours, as `save_mask` writes it."""
    palette = img.getpalette() if img.mode == "P" else None
    n = scheme.num_classes
    return palette is not None and len(palette) >= 3 * n and \
        np.array_equal(np.array(palette[:3 * n]).reshape(n, 3), scheme.palette())


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


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename: never a half-written file."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"{path}: folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes it private; a saved file should not be
        os.replace(tmp, path)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_image(path: str | Path, rgb: np.ndarray) -> None:
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP"}
    kind = fmt.get(Path(path).suffix.lower())
    if kind is None:
        raise InputError(f"{path}: unsupported image type; use one of {', '.join(fmt)}")
    atomic_write(path, lambda p: Image.fromarray(rgb).save(p, format=kind, quality=95))


def save_mask(path: str | Path, mask: np.ndarray, scheme: LabelScheme) -> None:
    """Index PNG whose pixel values are labels, with the scheme's palette so viewers show colours."""
    img = Image.fromarray(mask.astype(np.uint8)).convert("P")  # L -> P keeps the values as indices
    img.putpalette(scheme.palette().ravel().tolist())
    atomic_write(path, lambda p: img.save(p, format="PNG"))
