"""Folder datasets: DIR/images/X.jpg with DIR/labels/X.png (uint8 class indices)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from models.data.files import check_labels, load_image, load_mask
from models.data.labels import LabelScheme
from models.data.mask_noise import hand_drawn
from models.data.tensors import image_to_tensor

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


@dataclass(frozen=True)
class Pair:
    """A photo and its label file."""

    image: Path
    label: Path

    @property
    def stem(self) -> str:
        return self.image.stem

    def read(self, scheme: LabelScheme) -> tuple[np.ndarray, np.ndarray]:
        return load_image(self.image), load_mask(self.label, scheme)

    def read_mask(self, scheme: LabelScheme) -> np.ndarray:
        return np.asarray(load_mask(self.label, scheme))


class Pack:
    """A packed dataset: JPEG photos and PNG labels as bytes in one .npz (no pickles), small
    enough to carry to a GPU machine. `python main.py lab pack` writes it."""

    def __init__(self, path: str | Path):
        with np.load(path, allow_pickle=False) as f:
            self.stems = [str(s) for s in f["stems"]]
            self.jpeg, self.jpeg_offsets = f["jpeg"], f["jpeg_offsets"]
            self.png, self.png_offsets = f["png"], f["png_offsets"]

    def pairs(self) -> list["PackedPair"]:
        return [PackedPair(self, i) for i in range(len(self.stems))]

    @staticmethod
    def write(path: str | Path, items: list[tuple[str, bytes, bytes]]) -> None:
        """items: (stem, JPEG bytes, PNG bytes)."""
        jpeg, jpeg_offsets = flat([i[1] for i in items])
        png, png_offsets = flat([i[2] for i in items])
        np.savez(
            path,
            stems=np.array([i[0] for i in items]),
            jpeg=jpeg,
            jpeg_offsets=jpeg_offsets,
            png=png,
            png_offsets=png_offsets,
        )


def flat(blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Byte strings as one uint8 array and the offsets between them (blob i is
    data[offsets[i]:offsets[i + 1]])."""
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    return np.frombuffer(b"".join(blobs), np.uint8), offsets


@dataclass(frozen=True, eq=False)
class PackedPair:
    pack: Pack
    index: int

    @property
    def stem(self) -> str:
        return self.pack.stems[self.index]

    def read(self, scheme: LabelScheme) -> tuple[np.ndarray, np.ndarray]:
        p, i = self.pack, self.index
        jpeg = p.jpeg[p.jpeg_offsets[i] : p.jpeg_offsets[i + 1]]
        image = cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        return image, self.read_mask(scheme)

    def read_mask(self, scheme: LabelScheme) -> np.ndarray:
        p, i = self.pack, self.index
        return cv2.imdecode(p.png[p.png_offsets[i] : p.png_offsets[i + 1]], cv2.IMREAD_UNCHANGED)


def find_pairs(root: str | Path) -> list[Pair]:
    """Image/label pairs of one dataset folder (images/ and labels/ inside)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    if not (root / "images").is_dir() or not (root / "labels").is_dir():
        raise FileNotFoundError(f"{root}: a dataset folder needs images/ and labels/ inside")
    return match_pairs(root / "images", root / "labels")


def match_pairs(images: str | Path, labels: str | Path) -> list[Pair]:
    """Images and label PNGs matched by file stem, sorted."""
    images, labels = Path(images), Path(labels)
    for folder in (images, labels):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
    by_stem = {p.stem: p for p in labels.glob("*.png")}
    pairs = [
        Pair(p, by_stem[p.stem])
        for p in sorted(images.iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES and p.stem in by_stem
    ]
    if not pairs:
        raise FileNotFoundError(f"{images}: no images with matching labels in {labels}")
    return pairs


def by_stem_hash(pairs: list) -> list:
    """The pairs in a fixed pseudo-random order: independent of file order or machine,
    stable when files are added, and unrelated to what file names encode (UTKFace's
    start with the age)."""
    return sorted(pairs, key=lambda p: hashlib.sha1(p.stem.encode()).hexdigest())


def holdout_split(pairs: list, n_val: int) -> tuple[list, list]:
    """(train, val): the first n_val pairs in stem-hash order are held out."""
    ranked = by_stem_hash(pairs)
    val = {p.stem for p in ranked[:n_val]}
    return [p for p in pairs if p.stem not in val], [p for p in pairs if p.stem in val]


def crop_window(
    height: int, width: int, size: int, scale: float = 1.0, offset: tuple[float, float] = (0.5, 0.5)
) -> tuple[int, int, int, int]:
    """Where resize_crop cuts: the scaled size (nh, nw) and the crop's top left corner."""
    f = size * scale / min(height, width)
    nh, nw = max(size, round(height * f)), max(size, round(width * f))
    return nh, nw, round((nh - size) * offset[0]), round((nw - size) * offset[1])


def resize_crop(
    image: np.ndarray, mask: np.ndarray, size: int, scale: float = 1.0, offset: tuple[float, float] = (0.5, 0.5)
) -> tuple[np.ndarray, np.ndarray]:
    """Resize so the shorter side is size * scale, then crop size x size at the relative offset."""
    nh, nw, top, left = crop_window(*mask.shape, size, scale, offset)
    interp = cv2.INTER_AREA if size * scale < min(mask.shape) else cv2.INTER_CUBIC
    image = cv2.resize(image, (nw, nh), interpolation=interp)
    mask = cv2.resize(mask, (nw, nh), interpolation=cv2.INTER_NEAREST)
    return image[top : top + size, left : left + size], mask[top : top + size, left : left + size]


def rotation(height: int, width: int, degrees: float, zoom: float) -> np.ndarray:
    return cv2.getRotationMatrix2D((width / 2, height / 2), degrees, zoom)


def turn(array: np.ndarray, matrix: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Warp keeping the size; the edges are mirrored in rather than filled with a colour no photo has."""
    h, w = array.shape[:2]
    return cv2.warpAffine(array, matrix, (w, h), flags=interpolation, borderMode=cv2.BORDER_REFLECT_101)


def rotate_zoom(image: np.ndarray, mask: np.ndarray, degrees: float, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """Turn and scale about the centre, keeping the size (image and mask alike, so they stay consistent)."""
    m = rotation(*mask.shape, degrees, zoom)
    return turn(image, m), turn(mask, m, cv2.INTER_NEAREST)


class FolderDataset(Dataset):
    """Pairs as tensors: image (3, S, S) in [-1, 1], label (S, S) int64.

    With `augment`: random scale (up to +15%) and crop, and a horizontal flip that swaps
    the scheme's left/right classes. With `rotate` > 0 as well: a turn of up to that many
    degrees either way and a zoom out of up to 10% (faces framed from users' photos are
    never as level and centred as an aligned dataset's).

    With `mask_noise` P, "drawn" is the label made to look hand-painted in a share P of
    the items (the label itself in the rest).

    With `scores` (one per pair, or None): a teacher's class scores (h, w, s), covering the
    photo at any resolution, go through the same crop, turn and flip, and come out as
    "scores" (s, S, S) with "distil" saying which items have them.
    """

    def __init__(
        self,
        pairs: list,
        scheme: LabelScheme,
        size: int,
        augment: bool = False,
        rotate: float = 0.0,
        scores: list[np.ndarray | None] | None = None,
        mask_noise: float = 0.0,
    ):
        self.pairs, self.scheme, self.size, self.augment, self.rotate = pairs, scheme, size, augment, rotate
        self.scores, self.mask_noise = scores, mask_noise
        self.flip_lut = scheme.flip_lut()

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        pair = self.pairs[i]
        image, mask = pair.read(self.scheme)
        if image.shape[:2] != mask.shape:
            image = cv2.resize(image, mask.shape[::-1], interpolation=cv2.INTER_AREA)
        return image, check_labels(mask, self.scheme, pair.stem)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        image, mask = self.load(i)
        scores = self.scores[i] if self.scores is not None else None
        scale, offset, flip, turn_by = 1.0, (0.5, 0.5), False, None
        if self.augment:
            # Seeded from torch, which the DataLoader seeds differently in every worker.
            rng = np.random.default_rng(int(torch.randint(2**31, ())))
            scale, offset = rng.uniform(1.0, 1.15), tuple(rng.uniform(0, 1, 2))
            if self.rotate:
                turn_by = rng.uniform(-self.rotate, self.rotate), rng.uniform(0.9, 1.0)
            flip = rng.random() < 0.5
        window = crop_window(*mask.shape, self.size, scale, offset)
        image, mask = resize_crop(image, mask, self.size, scale, offset)
        if turn_by:
            image, mask = rotate_zoom(image, mask, *turn_by)
        if flip:
            image, mask = image[:, ::-1], self.flip_lut[mask[:, ::-1]]
        item = {"image": image_to_tensor(image)[0], "label": torch.from_numpy(np.ascontiguousarray(mask)).long()}
        if self.mask_noise:  # the mask as a person might paint it, for the generator (see mask_noise.py)
            rng = np.random.default_rng(int(torch.randint(2**31, ())))
            drawn = hand_drawn(np.ascontiguousarray(mask), rng) if rng.random() < self.mask_noise else mask
            item["drawn"] = torch.from_numpy(np.ascontiguousarray(drawn)).long()
        if self.scores is not None:
            item["distil"] = torch.tensor(scores is not None)
            item["scores"] = (
                torch.zeros(self.scheme.num_classes, self.size, self.size)
                if scores is None
                else torch.from_numpy(self.place_scores(scores, window, turn_by, flip)).permute(2, 0, 1)
            )
        return item

    def place_scores(
        self, scores: np.ndarray, window: tuple[int, int, int, int], turn_by: tuple[float, float] | None, flip: bool
    ) -> np.ndarray:
        """Teacher scores through the photo's crop, turn and flip (left/right classes swapped)."""
        nh, nw, top, left = window
        scores = cv2.resize(scores.astype(np.float32), (nw, nh), interpolation=cv2.INTER_LINEAR)
        scores = scores[top : top + self.size, left : left + self.size]
        if turn_by:
            scores = turn(scores, rotation(self.size, self.size, *turn_by))
        if flip:
            scores = scores[:, ::-1, self.flip_lut]
        return np.ascontiguousarray(scores)


def classes_present(pairs: list, scheme: LabelScheme) -> np.ndarray:
    """(N, s) bool: which classes each pair's label mask shows (labels only, no photos)."""
    present = np.zeros((len(pairs), scheme.num_classes), bool)
    for i, pair in enumerate(pairs):
        mask = check_labels(pair.read_mask(scheme), scheme, pair.stem)
        present[i, np.bincount(mask.ravel(), minlength=scheme.num_classes) > 0] = True
    return present


def rare_class_weights(present: np.ndarray, boost: float, rare_below: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Sampling weight per pair: `boost` for pairs showing a class that fewer than
    `rare_below` of the pairs show (hats, earrings, necklaces in the faces), else 1.
    -> (weights, the rare classes' indices)."""
    shown = present.mean(0)
    rare = np.flatnonzero((shown > 0) & (shown < rare_below))
    return np.where(present[:, rare].any(1), boost, 1.0), rare


def per_folder(values: list[int], folders: int, default: int, flag: str) -> list[int]:
    """A command-line list given as one number for all data folders, or one per folder."""
    if len(values) not in (0, 1, folders):
        raise ValueError(f"{flag} takes one number, or one per data folder ({folders})")
    return values * folders if len(values) == 1 else (values or [default] * folders)


def split_folders(roots: list[str], holdout: list[int]) -> list[tuple[list, list]]:
    """(train, val) per folder (or pack, *.npz); holdout[i] pairs of folder i are held out."""
    counts = per_folder(holdout, len(roots), 0, "--holdout")
    return [
        holdout_split(Pack(root).pairs() if str(root).endswith(".npz") else find_pairs(root), n)
        for root, n in zip(roots, counts)
    ]


def load_folders(roots: list[str], scheme: LabelScheme, holdout: list[int]) -> tuple[list, list]:
    """Train and validation pairs over several folders, concatenated."""
    splits = split_folders(roots, holdout)
    return [p for t, _ in splits for p in t], [p for _, v in splits for p in v]


def pack_folders(
    roots: list[str],
    scheme: LabelScheme,
    holdout: list[int],
    size: int,
    out: Path,
    max_mb: float = 40,
    quality: int = 90,
    offset: int = 0,
) -> tuple[int, int]:
    """Write the training pairs, shorter side scaled to `size`, into a pack of at most
    `max_mb`; folders are taken in turn, each in stem-hash order, so a cut-off keeps their
    mix and is a fair sample of each. Each folder's order starts `offset` pairs in (and
    wraps round): successive packs with growing offsets hold other photos. -> (packed, total)."""
    rotated = lambda q: q[offset % len(q) :] + q[: offset % len(q)] if q else q
    queues = [rotated(by_stem_hash(t)) for t, _ in split_folders(roots, holdout)]
    order = [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)]
    items, total_bytes = [], 0
    for pair in order:
        image, mask = pair.read(scheme)
        f = size / min(mask.shape)
        shape = (max(size, round(mask.shape[1] * f)), max(size, round(mask.shape[0] * f)))
        image = cv2.resize(image, shape, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
        mask = cv2.resize(check_labels(mask, scheme, pair.stem), shape, interpolation=cv2.INTER_NEAREST)
        jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
        png = cv2.imencode(".png", mask)[1]
        if total_bytes + jpeg.nbytes + png.nbytes > max_mb * 2**20:
            break
        total_bytes += jpeg.nbytes + png.nbytes
        items.append((pair.stem, jpeg.tobytes(), png.tobytes()))
    Pack.write(out, items)
    return len(items), len(order)
