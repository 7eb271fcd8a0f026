"""ST, the style matrix: one style code per class, and the codes files `encode` writes."""
from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.data.files import InputError, atomic_write


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
        atomic_write(path, write)

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
        return cls(codes, present)


def read_codes_file(path: str | Path) -> tuple[np.ndarray, np.ndarray, str | None]:
    """(codes, present, the model that made them) from a codes .npz; anything else (a
    truncated zip, a text file, a pickle, arrays of the wrong kind) is an InputError."""
    not_codes = f"{path}: not a style-codes file"
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    try:
        loaded = np.load(io.BytesIO(Path(path).read_bytes()), allow_pickle=False)   # no file left open on errors
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise InputError(f"{not_codes} (a single array, not the .npz that `encode` writes)")
        with loaded as f:
            if "codes" not in f.files or "present" not in f.files:
                raise InputError(f"{not_codes} (it has no 'codes' and 'present' arrays)")
            codes, present = f["codes"].astype(np.float32), f["present"].astype(bool)
            made_by = str(f["model"]) if "model" in f.files else None
    except InputError:
        raise
    except (OSError, ValueError, TypeError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
            zlib.error) as e:
        reason = "pickled data, which is never loaded" if "pickle" in str(e) else e
        raise InputError(f"{not_codes}: damaged, truncated or of another kind ({reason})") from None
    return codes, present, made_by
