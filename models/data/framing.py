"""Find the face in any photo and crop it the way the face models were trained (the
CelebA-HQ look: face centred, hair and some shoulders in view).

Detection uses the Haar cascade that opencv-python 4.x ships in `cv2.data` (nothing is
downloaded). Measured on CelebA-HQ photos, the cascade's box is 0.646 of the frame wide
and its centre sits 0.052 of the frame below the frame's centre; framing inverts that.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FACE_WIDTH = 0.646  # detector box width / frame side, in CelebA-HQ
FACE_DROP = 0.052  # (box centre y - frame centre y) / frame side, in CelebA-HQ
MIN_FACE = 24  # pixels: smaller detections are noise
DETECT_SIDE = 800  # faces are searched for in a copy of the photo no larger than this
MAX_FRAMING = 1e6  # pixels: no photo (32,767 px a side at most) has its square further out or larger
PORTRAIT_FACE = 0.4  # a face this wide (of the photo's shorter side) makes a photo a portrait;
# no Cityscapes val photo comes near it, every detected face photo passes it


@dataclass(frozen=True)
class Framing:
    """Where the model's square lies in a photo: a box (x, y, side, and height when it is
    not square) in photo pixels; it may reach past the photo's edges. A face framing is a
    square around the face; a scene's is the whole photo, stretched to the square."""

    x: float
    y: float
    side: float
    found_face: bool
    height: float | None = None  # None: a square of `side`

    @property
    def box_height(self) -> float:
        return self.side if self.height is None else self.height

    def to_model(self, size: int) -> np.ndarray:
        """The 2x3 affine map from photo pixels to the model's size x size square."""
        sx, sy = size / self.side, size / self.box_height
        return np.array([[sx, 0, -self.x * sx], [0, sy, -self.y * sy]], np.float64)

    def to_photo(self, size: int) -> np.ndarray:
        """The inverse: model pixels -> photo pixels."""
        sx, sy = self.side / size, self.box_height / size
        return np.array([[sx, 0, self.x], [0, sy, self.y]], np.float64)

    def crop(self, photo: np.ndarray, size: int) -> np.ndarray:
        """The framed box, scaled to size x size; outside the photo, mirrored edges."""
        m = self.to_model(size)
        interp = cv2.INTER_AREA if m[0, 0] < 1 or m[1, 1] < 1 else cv2.INTER_CUBIC
        return cv2.warpAffine(
            photo, m.astype(np.float32), (size, size), flags=interp, borderMode=cv2.BORDER_REFLECT_101
        )

    def scaled(self, factor: float) -> "Framing":
        """The same box on a copy of the photo scaled by `factor`."""
        return Framing(
            self.x * factor,
            self.y * factor,
            self.side * factor,
            self.found_face,
            None if self.height is None else self.height * factor,
        )

    def widened(self, factor: float) -> "Framing":
        """A box `factor` times as large about the same centre."""
        cx, cy = self.x + self.side / 2, self.y + self.box_height / 2
        side, height = self.side * factor, None if self.height is None else self.height * factor
        return Framing(cx - side / 2, cy - (height or side) / 2, side, self.found_face, height)

    def to_dict(self) -> dict:
        return {"x": self.x, "y": self.y, "side": self.side, "height": self.height, "found_face": self.found_face}

    @classmethod
    def from_dict(cls, d: dict) -> "Framing":
        height = d.get("height")
        framing = cls(
            float(d["x"]),
            float(d["y"]),
            float(d["side"]),
            bool(d["found_face"]),
            None if height is None else float(height),
        )
        values = [framing.x, framing.y, framing.side, framing.box_height]
        if not (
            np.isfinite(values).all()
            and framing.side > 0
            and framing.box_height > 0
            and max(abs(v) for v in values) <= MAX_FRAMING
        ):
            raise ValueError("a framing needs a finite box of positive size, within the photo's reach")
        return framing


def detect_faces(photo: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h) in photo pixels, largest first. A large photo is searched at
    DETECT_SIDE px (a 12-megapixel photo in a fraction of the time, the same faces)."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    scale = min(1.0, DETECT_SIDE / max(photo.shape[:2]))
    if scale < 1:
        photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    grey = cv2.equalizeHist(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY))
    faces = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(MIN_FACE, MIN_FACE))
    return sorted((tuple(round(v / scale) for v in f) for f in faces), key=lambda b: -b[2] * b[3])


def frame_face(photo: np.ndarray, face: int = 0, faces: list | None = None) -> Framing:
    """The CelebA-HQ-style square around the largest face (or the `face`-th largest), or
    the centre square if none. `faces`: `detect_faces(photo)`, when already known."""
    faces = detect_faces(photo) if faces is None else faces
    if not faces:
        h, w = photo.shape[:2]
        side = min(h, w)
        return Framing((w - side) / 2, (h - side) / 2, side, found_face=False)
    x, y, w, h = faces[face % len(faces)]
    side = w / FACE_WIDTH
    cx, cy = x + w / 2, y + h / 2 - FACE_DROP * side
    return Framing(cx - side / 2, cy - side / 2, side, found_face=True)


def whole_photo(photo: np.ndarray) -> Framing:
    """A scene's framing: the whole photo, aspect ignored (how pix2pix made its Cityscapes)."""
    h, w = photo.shape[:2]
    return Framing(0.0, 0.0, float(w), True, float(h))


def frame_photo(photo: np.ndarray, framing: str, face: int = 0, faces: list | None = None) -> Framing:
    """Where a model with this framing ("face" or "stretch") sees the photo; for faces, the
    largest (or the `face`-th largest, counting round)."""
    return frame_face(photo, face, faces) if framing == "face" else whole_photo(photo)


def model_input(photo: np.ndarray, size: int, framing: str) -> tuple[np.ndarray, bool]:
    """(the photo as a model with this framing was trained on it; False when a face framing
    found no face and fell back to the centre square)."""
    if framing != "face":  # a plain resize: area-averaged as the training photos were
        return stretched_photo(photo, size), True
    box = frame_face(photo)
    return box.crop(photo, size), box.found_face


def stretched_photo(photo: np.ndarray, size: int) -> np.ndarray:
    """The whole photo scaled to size x size, aspect ignored."""
    interp = cv2.INTER_AREA if min(photo.shape[:2]) >= size else cv2.INTER_CUBIC
    return cv2.resize(photo, (size, size), interpolation=interp)


def looks_like_portrait(photo: np.ndarray) -> bool:
    """Whether a face fills much of the photo (a portrait, not a scene with people in it)."""
    faces = detect_faces(photo)
    return bool(faces) and faces[0][2] >= PORTRAIT_FACE * min(photo.shape[:2])
