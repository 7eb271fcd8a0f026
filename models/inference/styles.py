"""ST, the style matrix: one style code per class, and the codes files `encode` writes."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.data.files import InputError, atomic_write, load_arrays

CODE_RANGE = 1.0 + 1e-3     # codes are the encoder's tanh outputs, and refinement keeps them there
MAX_CODES_BYTES = 16 << 20   # a codes file is a few kilobytes (19 x 512 floats); more is not codes


@dataclass
class StyleMatrix:
    """ST: one style code per class, and which classes the style photo actually had."""
    codes: np.ndarray     # (s, 512) float32
    present: np.ndarray   # (s,) bool

    def filled_from(self, fallback: "StyleMatrix") -> "StyleMatrix":
        """Classes this style lacks take the fallback's codes."""
        codes = np.where(self.present[:, None], self.codes, fallback.codes)
        return StyleMatrix(codes.astype(np.float32), self.present | fallback.present)

    def save(self, path: str | Path, model: str, label_names: tuple[str, ...]) -> None:
        def write(p: Path) -> None:
            with open(p, "wb") as f:
                np.savez(f, codes=self.codes, present=self.present,
                         model=np.array(model), labels=np.array(label_names))
        atomic_write(path, write, (".npz",))

    @classmethod
    def load(cls, path: str | Path, num_classes: int, style_dim: int, model: str | None = None) -> "StyleMatrix":
        """Codes written by `save`; with `model`, codes made by another model are refused."""
        codes, present, made_by = read_codes_file(path)
        if model and made_by and made_by != model:
            raise InputError(f"{path}: these are '{made_by}' styles; they cannot be used with model '{model}'")
        if codes.shape != (num_classes, style_dim) or present.shape != (num_classes,):
            raise InputError(f"{path}: codes have shape {codes.shape}, this model needs "
                             f"({num_classes}, {style_dim}); were they made with another model?")
        if not np.isfinite(codes).all():
            raise InputError(f"{path}: the codes hold values that are not numbers (NaN or infinite)")
        if np.abs(codes).max(initial=0) > CODE_RANGE:
            raise InputError(f"{path}: the codes reach {np.abs(codes).max():.3g}; style codes lie within "
                             f"[-1, 1] (the encoder's tanh), so these would paint black or white")
        return cls(codes, present)


def read_codes_file(path: str | Path) -> tuple[np.ndarray, np.ndarray, str | None]:
    """(codes, present, the model that made them) from a codes .npz; anything else (a
    truncated zip, a text file, a pickle, arrays of the wrong kind) is an InputError."""
    not_codes = f"{path}: not a style-codes file"
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    if Path(path).stat().st_size > MAX_CODES_BYTES:
        raise InputError(f"{not_codes} (it is {Path(path).stat().st_size / 2 ** 20:.0f} MB; codes are kilobytes)")
    data = Path(path).read_bytes()
    if data[:6] == b"\x93NUMPY":
        raise InputError(f"{not_codes} (a single array, not the .npz that `encode` writes)")
    f = load_arrays(data, not_codes, MAX_CODES_BYTES)
    if "codes" not in f or "present" not in f:
        raise InputError(f"{not_codes} (it has no 'codes' and 'present' arrays)")
    try:
        codes, present = f["codes"].astype(np.float32), f["present"].astype(bool)
        made_by = str(f["model"]) if "model" in f else None
    except (ValueError, TypeError) as e:
        raise InputError(f"{not_codes} (arrays of the wrong kind: {e})") from None
    return codes, present, made_by
