"""Label schemes (class names, colours, left/right pairs) are data: models/schemes/*.json."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCHEMES_DIR = Path(__file__).parent / "schemes"
FRAMINGS = ("face", "stretch")
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


# How the editor shows a class whose name is a dataset's code (CelebAMask-HQ's): a user
# reads "eyeglasses", not "eye_g". Names not listed are shown with spaces for underscores.
DISPLAY_NAMES = {
    "eye_g": "eyeglasses",
    "ear_r": "earring",
    "neck_l": "necklace",
    "l_eye": "left eye",
    "r_eye": "right eye",
    "l_brow": "left brow",
    "r_brow": "right brow",
    "l_ear": "left ear",
    "r_ear": "right ear",
    "u_lip": "upper lip",
    "l_lip": "lower lip",
    "mouth": "mouth (inside)",
}


def display_name(name: str) -> str:
    return DISPLAY_NAMES.get(name, name.replace("_", " "))


@dataclass(frozen=True)
class LabelScheme:
    name: str
    names: tuple[str, ...]
    colors: tuple[str, ...]  # "#rrggbb", one per class
    flip_pairs: tuple[tuple[int, int], ...]  # classes a horizontal flip swaps (left/right eye...)
    framing: str = "stretch"  # how a photo becomes a model input: "face" (found and framed as in
    # CelebA-HQ) or "stretch" (scaled whole, as pix2pix's Cityscapes)
    groups: tuple[tuple[int, ...], ...] = ()  # regions that take a dropped style together (skin
    # with nose, ears and neck; both eyes...)
    shaded: tuple[int, ...] = ()  # regions whose lightness is mostly the light on them (skin), not
    # a pattern of their own (hair's strands): a restyle scales their light, as a new albedo would
    loose: tuple[int, ...] = ()  # classes whose labels take in the shaded region round them (a
    # brow's label holds the skin round a light brow): a restyle of it takes their pixels of its colour
    aspect: float = 1.0  # width / height of the photos the training set's square layouts were
    # squeezed from (pix2pix's Cityscapes: 2048 x 1024 into 256 x 256): a square layout is read as that

    def __post_init__(self) -> None:
        if not self.names or not all(isinstance(n, str) for n in self.names):
            raise ValueError(f"label scheme {self.name!r}: names must be a list of strings")
        if not all(isinstance(c, str) and COLOUR.fullmatch(c) for c in self.colors):
            raise ValueError(f"label scheme {self.name!r}: colours must be '#rrggbb' strings")
        if not all(
            len(p) == 2 and all(isinstance(c, int) and 0 <= c < len(self.names) for c in p) for p in self.flip_pairs
        ):
            raise ValueError(f"label scheme {self.name!r}: flip pairs must be pairs of its classes")
        if len(self.names) != len(self.colors):
            raise ValueError(f"label scheme {self.name!r}: {len(self.names)} names but {len(self.colors)} colours")
        if self.framing not in FRAMINGS:
            raise ValueError(
                f"label scheme {self.name!r}: framing {self.framing!r} is not one of {', '.join(FRAMINGS)}"
            )
        if not (isinstance(self.aspect, (int, float)) and 0.25 <= self.aspect <= 4):
            raise ValueError(f"label scheme {self.name!r}: aspect {self.aspect!r} is not a number from 0.25 to 4")
        for group in (*self.groups, self.shaded, self.loose):
            if not all(0 <= c < len(self.names) for c in group):
                raise ValueError(f"label scheme {self.name!r}: {list(group)} names a class it does not have")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def group_of(self, label: int) -> tuple[int, ...]:
        """The regions that belong with `label` (itself first), or just `label`."""
        group = next((g for g in self.groups if label in g), ())
        return (label, *(c for c in group if c != label))

    @classmethod
    def from_dict(cls, d: dict) -> "LabelScheme":
        names = tuple(d["names"])
        index = {n: i for i, n in enumerate(names)}
        path = SCHEMES_DIR / f"{d['name']}.json"
        # weights made before a field existed: the scheme of the same name has it
        known = lambda field: json.loads(path.read_text()).get(field, []) if path.is_file() else []
        groups = d.get("groups")
        if groups is None:
            groups = [g for g in known("groups") if all(n in index for n in g)]
        shaded, loose = d.get("shaded"), d.get("loose")
        if shaded is None:
            shaded = [n for n in known("shaded") if n in index]
        if loose is None:
            loose = [n for n in known("loose") if n in index]
        try:
            groups = tuple(tuple(index[n] for n in g) for g in groups)
            shaded, loose = tuple(index[n] for n in shaded), tuple(index[n] for n in loose)
        except (KeyError, TypeError) as e:
            raise ValueError(
                f"label scheme {d['name']!r}: groups, shaded or loose regions name unknown class {e}"
            ) from None
        return cls(
            name=d["name"],
            names=names,
            colors=tuple(d["colors"]),
            flip_pairs=tuple(tuple(p) for p in d.get("flip_pairs", ())),
            framing=d.get("framing", "stretch"),
            groups=groups,
            shaded=shaded,
            loose=loose,
            aspect=d.get("aspect", known("aspect") or 1.0),
        )

    @classmethod
    def named(cls, name: str) -> "LabelScheme":
        path = SCHEMES_DIR / f"{name}.json"
        if not path.exists():
            known = sorted(p.stem for p in SCHEMES_DIR.glob("*.json"))
            raise ValueError(f"unknown label scheme {name!r}; known: {', '.join(known)}")
        return cls.from_dict(json.loads(path.read_text()))

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "names": list(self.names),
            "colors": list(self.colors),
            "flip_pairs": [list(p) for p in self.flip_pairs],
            "framing": self.framing,
            "groups": [[self.names[c] for c in g] for g in self.groups],
            "shaded": [self.names[c] for c in self.shaded],
            "loose": [self.names[c] for c in self.loose],
            "aspect": self.aspect,
        }

    def palette(self) -> np.ndarray:
        """(num_classes, 3) uint8 RGB."""
        return np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in self.colors], np.uint8)

    def flip_lut(self) -> np.ndarray:
        """Lookup table that relabels a horizontally flipped mask (left <-> right)."""
        lut = np.arange(self.num_classes, dtype=np.uint8)
        for a, b in self.flip_pairs:
            lut[a], lut[b] = b, a
        return lut

    def colorize(self, mask: np.ndarray) -> np.ndarray:
        """Index mask (H, W) -> colour image (H, W, 3) uint8."""
        return self.palette()[mask]
