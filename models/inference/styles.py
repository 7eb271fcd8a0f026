"""ST, the style matrix: one style code per class, and the codes files `encode` writes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.data.files import InputError, atomic_write, load_arrays

# codes are the encoder's tanh outputs plus its context's residual (held-out CelebA-HQ: every
# photo past 1, up to 1.76), clipped to this; refinement keeps them within [-1, 1]
CODE_RANGE = 3.0
MAX_CODES_BYTES = 16 << 20  # a codes file is a few kilobytes (19 x 512 floats); more is not codes
COLOUR_STATS = 12  # per class: the mean RGB (3) and its covariance (3 x 3), RGB in [0, 1]
MIN_COLOUR_PIXELS = 64  # fewer pixels of a class than this say too little of its colours


@dataclass
class StyleMatrix:
    """ST: one style code per class, and which classes the style photo actually had.
    `colours`, when the style came from a photo: per class, the statistics of that
    photo's pixels of the class (NaN where it had too few), which a restyle of a photo
    anchors its colours to (models/inference/composite.py)."""

    codes: np.ndarray  # (s, 512) float32
    present: np.ndarray  # (s,) bool
    colours: np.ndarray | None = None  # (s, COLOUR_STATS) float32, or None: no photo behind it

    def colour_rows(self) -> np.ndarray:
        """(s, COLOUR_STATS): the colours, NaN where none are known."""
        if self.colours is None:
            return np.full((len(self.present), COLOUR_STATS), np.nan, np.float32)
        return self.colours

    def filled_from(self, fallback: "StyleMatrix") -> "StyleMatrix":
        """Classes this style lacks take the fallback's codes (and colours)."""
        codes = np.where(self.present[:, None], self.codes, fallback.codes)
        colours = None
        if self.colours is not None or fallback.colours is not None:
            colours = np.where(self.present[:, None], self.colour_rows(), fallback.colour_rows())
        return StyleMatrix(codes.astype(np.float32), self.present | fallback.present, colours)

    def with_codes(self, codes: np.ndarray) -> "StyleMatrix":
        """The same style (classes, colours) with other codes: refined ones."""
        return StyleMatrix(codes.astype(np.float32), self.present.copy(), self.colours)

    def save(self, path: str | Path, model: str, label_names: tuple[str, ...]) -> None:
        def write(p: Path) -> None:
            with open(p, "wb") as f:
                colours = {} if self.colours is None else {"colours": self.colours}
                np.savez(
                    f,
                    codes=self.codes,
                    present=self.present,
                    model=np.array(model),
                    labels=np.array(label_names),
                    **colours,
                )

        atomic_write(path, write, (".npz",))

    @classmethod
    def load(cls, path: str | Path, num_classes: int, style_dim: int, model: str | None = None) -> "StyleMatrix":
        """Codes written by `save`; with `model`, codes made by another model are refused."""
        codes, present, made_by, colours = read_codes_file(path)
        if model and made_by and made_by != model:
            raise InputError(f"{path}: these are '{made_by}' styles; they cannot be used with model '{model}'")
        if codes.shape != (num_classes, style_dim) or present.shape != (num_classes,):
            raise InputError(
                f"{path}: codes have shape {codes.shape}, this model needs "
                f"({num_classes}, {style_dim}); were they made with another model?"
            )
        if not np.isfinite(codes).all():
            raise InputError(f"{path}: the codes hold values that are not numbers (NaN or infinite)")
        if np.abs(codes).max(initial=0) > CODE_RANGE:
            raise InputError(
                f"{path}: the codes reach {np.abs(codes).max():.3g}; style codes lie within "
                f"[-{CODE_RANGE:g}, {CODE_RANGE:g}] (the encoder's), so these would paint black or white"
            )
        return cls(codes, present, None if colours is None else checked_colours(colours, num_classes, str(path)))


def blended_colours(per_block: list[StyleMatrix]) -> np.ndarray:
    """(s, COLOUR_STATS): the colours that styles given per SEAN block amount to, their
    mean (NaN for a class where any block's style has none)."""
    return np.mean([style.colour_rows() for style in per_block], axis=0).astype(np.float32)


def mixed_colours(a: np.ndarray, b: np.ndarray, weight_of_b: float) -> np.ndarray:
    """Colour statistics of a style mixed from two: each alone at weight 0 or 1, in
    between the weighted mean (NaN where either has none)."""
    return a if weight_of_b <= 0 else b if weight_of_b >= 1 else (1 - weight_of_b) * a + weight_of_b * b


def region_colours(image: np.ndarray, mask: np.ndarray, num_classes: int) -> np.ndarray:
    """(num_classes, COLOUR_STATS) float32: per class of `mask`, the mean and covariance
    of `image`'s pixels (uint8 RGB, the same height and width), NaN for classes with
    fewer than MIN_COLOUR_PIXELS pixels."""
    out = np.full((num_classes, COLOUR_STATS), np.nan, np.float32)
    pixels = image.reshape(-1, 3).astype(np.float64) / 255
    labels = mask.ravel()
    for c in np.unique(labels):
        if c >= num_classes:
            continue
        x = pixels[labels == c]
        if len(x) >= MIN_COLOUR_PIXELS:
            out[c] = np.concatenate([x.mean(0), np.cov(x.T).ravel()])
    return out


def checked_colours(colours: np.ndarray, num_classes: int, where: str) -> np.ndarray:
    """Colour statistics read from a file: the right shape, NaN or within the range that
    colours in [0, 1] can have, whole rows known or unknown."""
    try:
        colours = np.asarray(colours, np.float32)
    except (ValueError, TypeError):
        raise InputError(f"{where}: colour statistics that are not numbers") from None
    if colours.shape != (num_classes, COLOUR_STATS):
        raise InputError(
            f"{where}: colour statistics of shape {colours.shape}, expected ({num_classes}, {COLOUR_STATS})"
        )
    known = np.isfinite(colours)
    if not (known.all(1) | ~known.any(1)).all() or np.isinf(colours).any():
        raise InputError(f"{where}: colour statistics with missing or infinite values")
    rows = colours[known.all(1)]
    if ((rows[:, :3] < 0) | (rows[:, :3] > 1)).any() or (np.abs(rows[:, 3:]) > 0.25).any():
        raise InputError(f"{where}: colour statistics outside what colours in [0, 1] can have")
    return colours


def read_codes_file(path: str | Path) -> tuple[np.ndarray, np.ndarray, str | None, np.ndarray | None]:
    """(codes, present, the model that made them, colours or None) from a codes .npz; anything else (a
    truncated zip, a text file, a pickle, arrays of the wrong kind) is an InputError."""
    not_codes = f"{path}: not a style-codes file"
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    if Path(path).stat().st_size > MAX_CODES_BYTES:
        raise InputError(f"{not_codes} (it is {Path(path).stat().st_size / 2**20:.0f} MB; codes are kilobytes)")
    data = Path(path).read_bytes()
    if data[:6] == b"\x93NUMPY":
        raise InputError(f"{not_codes} (a single array, not the .npz that `encode` writes)")
    f = load_arrays(data, not_codes, MAX_CODES_BYTES)
    if "codes" not in f or "present" not in f:
        raise InputError(f"{not_codes} (it has no 'codes' and 'present' arrays)")
    try:
        codes, present = f["codes"].astype(np.float32), f["present"].astype(bool)
        made_by = str(f["model"]) if "model" in f else None
        colours = f["colours"].astype(np.float32) if "colours" in f else None
    except (ValueError, TypeError) as e:
        raise InputError(f"{not_codes} (arrays of the wrong kind: {e})") from None
    return codes, present, made_by, colours
