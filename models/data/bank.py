"""A memory bank of real segments, as SIMS keeps one (Qi et al., CVPR 2018).

Every connected component of every class in a set of labelled photos becomes a segment:
where it lies (bounding box, a seed pixel inside it), its area and colour statistics, and
two descriptors that retrieval compares: its mask and its context (the labels in its box
grown by 25%), both resized to DESCRIPTOR x DESCRIPTOR. The photos and label maps are kept
once each, as JPEG and PNG bytes, at the model's size; a segment's crop and mask are cut
from them when it is used (`SegmentBank.segment`), so the bank stays small: Cityscapes'
2,975 training photos make about 60 MB.

File format (an .npz without pickles; `BANK_FORMAT` versions it):
    meta             JSON: format, model, labels (scheme name and class names), size,
                     descriptor, context_grow, min_area, photos, segments
    stems            (P,) str       photo names
    jpeg, jpeg_offsets, png, png_offsets
                     photo i is jpeg[jpeg_offsets[i]:jpeg_offsets[i + 1]] (RGB JPEG) and its
                     label map png[...] (8-bit PNG of class indices), both size x size
    seg_photo        (N,) int32     which photo a segment comes from
    seg_label        (N,) uint8     its class
    seg_box          (N, 4) int16   top, bottom, left, right (bottom/right exclusive)
    seg_seed         (N, 2) int16   a pixel (y, x) of the component: with the class, it picks
                                    the component out of the label map again
    seg_area         (N,) int32     pixels
    seg_mean, seg_std (N, 3) uint8  RGB mean and spread inside the component
    seg_mask         (N, D*D/8) uint8  the component's mask in its box at D x D, bit-packed
    seg_context      (N, D*D) uint8    the labels of the grown box at D x D (OUTSIDE off the photo)
"""

from __future__ import annotations

import io
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from models.data.datasets import flat, resize_crop
from models.data.files import InputError, atomic_write, check_labels, load_arrays, open_image
from models.data.labels import LabelScheme

BANK_FORMAT = 1
DESCRIPTOR = 16  # masks and contexts are compared at 16 x 16
COARSE = 8  # ... after a shortlist made at 8 x 8
CONTEXT_GROW = 0.25  # the context box is the component's box grown by a quarter (SIMS)
OUTSIDE = 255  # context label for the part of a grown box beyond the photo
MIN_AREA_SHARE = 1 / 4096  # components below this share of the photo (16 px at 256) are not kept
# In-memory cost of a segment for retrieval (descriptors unpacked) and the bound on it:
# a bank past it is refused with the number, rather than swapping the machine to a halt.
BYTES_PER_SEGMENT = 2 * DESCRIPTOR * DESCRIPTOR + 5 * COARSE * COARSE + 64
MAX_BANK_BYTES = 6 * 2**30
PHOTO_CACHE = 256  # decoded photos kept (about 64 MB at 256 px)
SEGMENT_ARRAYS = {
    "seg_photo": np.int32,
    "seg_label": np.uint8,
    "seg_box": np.int16,
    "seg_seed": np.int16,
    "seg_area": np.int32,
    "seg_mean": np.uint8,
    "seg_std": np.uint8,
    "seg_mask": np.uint8,
    "seg_context": np.uint8,
}


@dataclass(frozen=True)
class Component:
    """One connected component of one class in a label map."""

    label: int
    box: tuple[int, int, int, int]  # top, bottom, left, right
    seed: tuple[int, int]  # (y, x) inside it
    mask: np.ndarray  # bool, the box's size: which of the box's pixels it covers

    @property
    def area(self) -> int:
        return int(self.mask.sum())


def min_area(size: int) -> int:
    return max(1, round(size * size * MIN_AREA_SHARE))


def components(labels: np.ndarray, smallest: int = 1) -> list[Component]:
    """The connected components (8-connected) of every class in `labels`, largest first,
    those under `smallest` pixels left out."""
    found = []
    for label in np.unique(labels):
        count, ids, stats, _ = cv2.connectedComponentsWithStats((labels == label).astype(np.uint8), connectivity=8)
        found += [component(int(label), ids, stats, i) for i in range(1, count) if stats[i, 4] >= smallest]
    return sorted(found, key=lambda c: -c.area)


def component(label: int, ids: np.ndarray, stats: np.ndarray, i: int) -> Component:
    """Component i of connectedComponentsWithStats' answer; its seed is its first pixel in
    reading order, so the same component has the same seed however it was found."""
    x, y, w, h, _ = stats[i]
    mask = ids[y : y + h, x : x + w] == i
    sy, sx = np.unravel_index(np.argmax(mask), mask.shape)
    return Component(label, (int(y), int(y + h), int(x), int(x + w)), (int(y + sy), int(x + sx)), mask)


def component_at(labels: np.ndarray, label: int, point: tuple[int, int]) -> Component:
    """The component of class `label` that holds pixel `point` (y, x)."""
    _, ids, stats, _ = cv2.connectedComponentsWithStats((labels == label).astype(np.uint8), connectivity=8)
    return component(label, ids, stats, int(ids[point]))


def grown_box(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    top, bottom, left, right = box
    dy, dx = round((bottom - top) * CONTEXT_GROW / 2), round((right - left) * CONTEXT_GROW / 2)
    return top - dy, bottom + dy, left - dx, right + dx


def describe(labels: np.ndarray, component: Component) -> tuple[np.ndarray, np.ndarray]:
    """(mask, context) descriptors of a component, each DESCRIPTOR*DESCRIPTOR long: its mask
    in its box (bool) and the labels of its grown box (uint8, OUTSIDE beyond the photo),
    both resized to DESCRIPTOR x DESCRIPTOR whatever the box's shape: retrieval compares
    shapes after scaling to a box, as SIMS does."""
    d = (DESCRIPTOR, DESCRIPTOR)
    mask = cv2.resize(component.mask.astype(np.float32), d, interpolation=cv2.INTER_AREA) >= 0.5
    top, bottom, left, right = grown_box(component.box)
    h, w = labels.shape
    padded = cv2.copyMakeBorder(
        labels, max(0, -top), max(0, bottom - h), max(0, -left), max(0, right - w), cv2.BORDER_CONSTANT, value=OUTSIDE
    )
    oy, ox = max(0, -top), max(0, -left)
    context = padded[top + oy : bottom + oy, left + ox : right + ox]
    context = cv2.resize(context, d, interpolation=cv2.INTER_NEAREST)
    return mask.reshape(-1), context.reshape(-1)


@dataclass(frozen=True)
class ClassSegments:
    """One class's segments, ready to compare: full descriptors and a coarse copy
    (COARSE x COARSE, a quarter of the work) that shortlists before the full comparison."""

    index: np.ndarray  # (n,) bank segment indices
    masks: np.ndarray  # (n, D*D) bool
    contexts: np.ndarray  # (n, D*D) uint8
    coarse_masks: np.ndarray  # (n, C*C) float32, the share of each coarse cell covered
    coarse_contexts: np.ndarray  # (n, C*C) uint8, every other row and column
    log_aspects: np.ndarray  # (n,) log(height / width) of their boxes

    @classmethod
    def of(cls, arrays: dict[str, np.ndarray], label: int) -> "ClassSegments":
        index = np.flatnonzero(arrays["seg_label"] == label)
        masks = np.unpackbits(arrays["seg_mask"][index], axis=1).astype(bool)
        contexts = arrays["seg_context"][index]
        box = arrays["seg_box"][index].astype(np.float32)
        return cls(
            index, masks, contexts, *coarse(masks, contexts), np.log((box[:, 1] - box[:, 0]) / (box[:, 3] - box[:, 2]))
        )


def coarse(masks: np.ndarray, contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, D*D) descriptors at COARSE x COARSE: masks area-averaged, contexts subsampled."""
    n, f = len(masks), DESCRIPTOR // COARSE
    soft = masks.reshape(n, COARSE, f, COARSE, f).mean(axis=(2, 4), dtype=np.float32)
    sampled = contexts.reshape(n, DESCRIPTOR, DESCRIPTOR)[:, ::f, ::f]
    return soft.reshape(n, -1), np.ascontiguousarray(sampled).reshape(n, -1)


def whole(value: object) -> int:
    """`value` if it is a whole number (a JSON int, not a bool, a string or a float)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(value)
    return value


def segments_lie_in_photos(a: dict[str, np.ndarray], size: int) -> bool:
    """Every segment's box is a non-empty part of its size x size photo with its seed inside,
    and its area fits the box: what `segment` and retrieval index by."""
    box, seed, area = a["seg_box"].astype(np.int64), a["seg_seed"].astype(np.int64), a["seg_area"]
    top, bottom, left, right = box.T
    return bool(
        np.all((0 <= top) & (top < bottom) & (bottom <= size) & (0 <= left) & (left < right) & (right <= size))
        and np.all((top <= seed[:, 0]) & (seed[:, 0] < bottom) & (left <= seed[:, 1]) & (seed[:, 1] < right))
        and np.all((area > 0) & (area <= (bottom - top) * (right - left)))
    )


BANK_SIDES = (16, 2048)  # the side of a bank's photos, as far as a bank file may claim
BANK_FILE_LIMIT = 2 << 30  # a bank file is read whole: Cityscapes' 2,975 photos make about 60 MB
BANK_ARRAY_LIMIT = 4 << 30  # bytes one of a bank's arrays may declare (the street bank's largest: ~100 MB)


class SegmentBank:
    """The segments of a set of photos; see the module's docstring for what each array holds."""

    def __init__(self, meta: dict, arrays: dict[str, np.ndarray]):
        self.meta = meta
        self.arrays = arrays
        self.stems = [str(s) for s in arrays["stems"]]
        self._by_label: dict[int, ClassSegments] = {}
        self._photos: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()  # recently decoded

    # --- building -------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        pairs: Iterable,
        scheme: LabelScheme,
        size: int,
        model: str,
        progress: Callable[[Iterable], Iterable] = lambda it: it,
    ) -> "SegmentBank":
        """A bank of every component of every pair (objects with `.stem` and `.read(scheme)`);
        photos are scaled and cropped to `size`."""
        smallest = min_area(size)
        stems, jpegs, pngs, rows = [], [], [], {k: [] for k in SEGMENT_ARRAYS}
        for pair in progress(pairs):
            image, labels = pair.read(scheme)
            # scaled and centre-cropped to the model's size, as evaluation and training see photos
            image, labels = resize_crop(image, check_labels(labels, scheme, pair.stem), size)
            photo = len(stems)
            for comp in components(labels, smallest):
                mask, context = describe(labels, comp)
                pixels = image[comp.box[0] : comp.box[1], comp.box[2] : comp.box[3]][comp.mask]
                for key, value in (
                    ("seg_photo", photo),
                    ("seg_label", comp.label),
                    ("seg_box", comp.box),
                    ("seg_seed", comp.seed),
                    ("seg_area", comp.area),
                    ("seg_mean", pixels.mean(0).round()),
                    ("seg_std", pixels.std(0).round()),
                    ("seg_mask", np.packbits(mask)),
                    ("seg_context", context),
                ):
                    rows[key].append(value)
            stems.append(pair.stem)
            jpegs.append(
                cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])[
                    1
                ].tobytes()
            )
            pngs.append(cv2.imencode(".png", labels)[1].tobytes())
        if not stems:
            raise InputError("no labelled photos to build a bank from")
        arrays = {"stems": np.array(stems)}
        arrays["jpeg"], arrays["jpeg_offsets"] = flat(jpegs)
        arrays["png"], arrays["png_offsets"] = flat(pngs)
        for key, dtype in SEGMENT_ARRAYS.items():
            arrays[key] = np.array(rows[key], dtype=dtype)
        meta = {
            "format": BANK_FORMAT,
            "model": model,
            "labels": {"name": scheme.name, "names": list(scheme.names)},
            "size": size,
            "descriptor": DESCRIPTOR,
            "context_grow": CONTEXT_GROW,
            "min_area": smallest,
            "photos": len(stems),
            "segments": len(rows["seg_label"]),
        }
        return cls(meta, arrays)

    def save(self, path: str | Path) -> None:
        def write(p: Path) -> None:
            with open(p, "wb") as f:
                np.savez(f, meta=np.array(json.dumps(self.meta)), **self.arrays)

        atomic_write(path, write, (".npz",))

    # --- loading ------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "SegmentBank":
        """A bank written by `save`; anything else (a damaged or truncated file, a pickle, a
        bank of another format or whose arrays disagree) is an InputError that says so."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such bank file (make one with `python main.py bank`)")
        damaged = f"{path}: not a usable segment bank"
        if path.stat().st_size > BANK_FILE_LIMIT:
            raise InputError(
                f"{path}: {path.stat().st_size / 2**30:.1f} GiB is larger than a segment bank can be "
                f"({BANK_FILE_LIMIT / 2**30:.0f} GiB); build it from fewer photos"
            )
        try:
            arrays = load_arrays(path.read_bytes(), "it", BANK_ARRAY_LIMIT)
        except InputError as e:
            raise InputError(f"{damaged} (it cannot be read: {str(e).removeprefix('it: ')}); build it again") from None
        if "meta" not in arrays:
            raise InputError(f"{damaged} (no 'meta' record)")
        try:
            meta = json.loads(str(arrays.pop("meta")))
        except ValueError:
            raise InputError(f"{damaged} (its 'meta' record is not JSON)") from None
        if not isinstance(meta, dict) or meta.get("format") != BANK_FORMAT:
            raise InputError(
                f"{damaged} (format {meta.get('format') if isinstance(meta, dict) else '?'}, "
                f"this version reads format {BANK_FORMAT}); build it again"
            )
        bank = cls(meta, arrays)
        bank.check(damaged)
        return bank

    def check(self, damaged: str) -> None:
        """Every array present, of its type and length, and every index in range."""
        a, meta = self.arrays, self.meta
        missing = [k for k in ("stems", "jpeg", "jpeg_offsets", "png", "png_offsets", *SEGMENT_ARRAYS) if k not in a]
        if missing:
            raise InputError(f"{damaged} (arrays missing: {', '.join(missing)})")
        try:
            n, photos = whole(meta["segments"]), whole(meta["photos"])
            d, size = whole(meta["descriptor"]), whole(meta["size"])
            names = list(meta["labels"]["names"])
        except (KeyError, TypeError, ValueError):
            raise InputError(
                f"{damaged} (its 'meta' record lacks whole numbers for segments, photos, size or "
                "descriptor, or its labels)"
            ) from None
        if not BANK_SIDES[0] <= size <= BANK_SIDES[1] or n < 0 or photos < 0:
            raise InputError(f"{damaged} (photos of {size} px; a bank holds {BANK_SIDES[0]}-{BANK_SIDES[1]} px)")
        if d != DESCRIPTOR:
            raise InputError(
                f"{damaged} (descriptors of {d} px, this version compares {DESCRIPTOR} px); build it again"
            )
        shapes = {
            "seg_box": (n, 4),
            "seg_seed": (n, 2),
            "seg_mean": (n, 3),
            "seg_std": (n, 3),
            "seg_mask": (n, d * d // 8),
            "seg_context": (n, d * d),
        }
        for key, dtype in SEGMENT_ARRAYS.items():
            if a[key].dtype != dtype or a[key].shape != shapes.get(key, (n,)):
                raise InputError(
                    f"{damaged} ({key} is {a[key].dtype} {a[key].shape}, "
                    f"expected {np.dtype(dtype)} {shapes.get(key, (n,))})"
                )
        for blob, offsets in (("jpeg", "jpeg_offsets"), ("png", "png_offsets")):
            o = a[offsets]
            if o.shape != (photos + 1,) or o[0] != 0 or o[-1] != a[blob].size or np.any(np.diff(o) < 0):
                raise InputError(f"{damaged} ({offsets} do not match the {photos} photos it records)")
        if len(a["stems"]) != photos or (
            n and (a["seg_photo"].min() < 0 or a["seg_photo"].max() >= photos or a["seg_label"].max() >= len(names))
        ):
            raise InputError(f"{damaged} (segments point at photos or classes it does not have)")
        if n and not segments_lie_in_photos(a, size):
            raise InputError(f"{damaged} (segments whose boxes, seeds or areas lie outside its {size} px photos)")
        if n * BYTES_PER_SEGMENT > MAX_BANK_BYTES:
            raise InputError(
                f"{damaged.replace('not a usable', 'too large a')}: {n:,} segments would take "
                f"{n * BYTES_PER_SEGMENT / 2**30:.1f} GiB to search, more than the "
                f"{MAX_BANK_BYTES / 2**30:.0f} GiB allowed; build it from fewer photos"
            )

    def check_fits(self, model: str, scheme: LabelScheme, where: str = "bank") -> None:
        """Refuse a bank made for other labels: its segments would go to the wrong regions."""
        names = tuple(self.meta["labels"]["names"])
        if names != scheme.names:
            raise InputError(
                f"{where} was built for model '{self.meta.get('model')}' with labels "
                f"'{self.meta['labels'].get('name')}' ({len(names)} classes); model '{model}' "
                f"uses '{scheme.name}' ({scheme.num_classes} classes)"
            )

    # --- use -------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return int(self.meta["size"])

    def __len__(self) -> int:
        return int(self.meta["segments"])

    def label_names(self) -> tuple[str, ...]:
        return tuple(self.meta["labels"]["names"])

    def of_label(self, label: int) -> "ClassSegments":
        """The segments of one class, descriptors unpacked once and kept: retrieval
        compares against them all at once."""
        if label not in self._by_label:
            self._by_label[label] = ClassSegments.of(self.arrays, label)
        return self._by_label[label]

    def classes(self) -> set[int]:
        return set(np.unique(self.arrays["seg_label"]).tolist())

    def photo(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(RGB photo, label map) number i; the last PHOTO_CACHE decoded are kept (a canvas
        often takes several segments from one photo, and the next frame the same ones)."""
        if i in self._photos:
            self._photos.move_to_end(i)
            return self._photos[i]
        self._photos[i] = decoded = self.decode_photo(i)
        if len(self._photos) > PHOTO_CACHE:
            self._photos.popitem(last=False)
        return decoded

    def decode_photo(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a = self.arrays
        jpeg = a["jpeg"][a["jpeg_offsets"][i] : a["jpeg_offsets"][i + 1]]
        png = a["png"][a["png_offsets"][i] : a["png_offsets"][i + 1]]
        damaged = InputError(f"bank photo {self.stems[i]!r} is damaged; build the bank again")
        if not all(self.declares_own_size(blob) for blob in (jpeg, png)):
            raise damaged
        try:
            image, labels = cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.imdecode(png, cv2.IMREAD_UNCHANGED)
        except cv2.error:
            raise damaged from None
        if image is None or labels is None or not image.shape[:2] == labels.shape == (self.size, self.size):
            raise damaged
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), labels

    def declares_own_size(self, blob: np.ndarray) -> bool:
        """Whether an image's header says the bank's size, read before decoding a pixel (so
        a crafted header cannot make us allocate gigabytes)."""
        try:
            with open_image(io.BytesIO(blob.tobytes()), "bank photo") as img:
                return img.size == (self.size, self.size)
        except InputError:
            return False

    def segment(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(the crop of segment i's box from its photo, its mask in that box)."""
        a = self.arrays
        image, labels = self.photo(int(a["seg_photo"][i]))
        comp = component_at(labels, int(a["seg_label"][i]), tuple(int(v) for v in a["seg_seed"][i]))
        top, bottom, left, right = comp.box
        return image[top:bottom, left:right], comp.mask

    def summary(self) -> str:
        names = self.label_names()
        counts = np.bincount(self.arrays["seg_label"], minlength=len(names))
        shown = ", ".join(f"{names[c]} {counts[c]}" for c in np.argsort(-counts) if counts[c])
        return (
            f"{self.meta['photos']} photos, {len(self):,} segments at {self.size} px "
            f"(model '{self.meta['model']}'): {shown}"
        )
