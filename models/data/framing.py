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

FACE_WIDTH = 0.646      # detector box width / frame side, in CelebA-HQ
FACE_DROP = 0.052       # (box centre y - frame centre y) / frame side, in CelebA-HQ
MIN_FACE = 24           # pixels: smaller detections are noise
PORTRAIT_FACE = 0.4     # a face this wide (of the photo's shorter side) makes a photo a portrait;
                        # no Cityscapes val photo comes near it, every detected face photo passes it


@dataclass(frozen=True)
class Framing:
    """A square crop (x, y, side) in photo pixels; it may reach past the photo's edges."""
    x: float
    y: float
    side: float
    found_face: bool

    def crop(self, photo: np.ndarray, size: int) -> np.ndarray:
        """The framed square, scaled to size x size; outside the photo, mirrored edges."""
        scale = size / self.side
        m = np.array([[scale, 0, -self.x * scale], [0, scale, -self.y * scale]], np.float32)
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        return cv2.warpAffine(photo, m, (size, size), flags=interp, borderMode=cv2.BORDER_REFLECT_101)


def detect_faces(photo: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h), largest first."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    grey = cv2.equalizeHist(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY))
    faces = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(MIN_FACE, MIN_FACE))
    return sorted((tuple(int(v) for v in f) for f in faces), key=lambda b: -b[2] * b[3])


def frame_face(photo: np.ndarray) -> Framing:
    """The CelebA-HQ-style square around the largest face, or the centre square if none."""
    faces = detect_faces(photo)
    if not faces:
        h, w = photo.shape[:2]
        side = min(h, w)
        return Framing((w - side) / 2, (h - side) / 2, side, found_face=False)
    x, y, w, h = faces[0]
    side = w / FACE_WIDTH
    cx, cy = x + w / 2, y + h / 2 - FACE_DROP * side
    return Framing(cx - side / 2, cy - side / 2, side, found_face=True)


def framed_photo(photo: np.ndarray, size: int) -> tuple[np.ndarray, bool]:
    """(the photo framed as the face models expect, size x size; whether a face was found)."""
    framing = frame_face(photo)
    return framing.crop(photo, size), framing.found_face


def stretched_photo(photo: np.ndarray, size: int) -> np.ndarray:
    """The whole photo scaled to size x size, aspect ignored (how pix2pix made its Cityscapes)."""
    interp = cv2.INTER_AREA if min(photo.shape[:2]) >= size else cv2.INTER_CUBIC
    return cv2.resize(photo, (size, size), interpolation=interp)


def model_input(photo: np.ndarray, size: int, framing: str) -> tuple[np.ndarray, bool]:
    """(the photo as a model with this framing was trained on it; False when a face framing
    found no face and fell back to the centre square)."""
    if framing == "face":
        return framed_photo(photo, size)
    return stretched_photo(photo, size), True


def looks_like_portrait(photo: np.ndarray) -> bool:
    """Whether a face fills much of the photo (a portrait, not a scene with people in it)."""
    faces = detect_faces(photo)
    return bool(faces) and faces[0][2] >= PORTRAIT_FACE * min(photo.shape[:2])
