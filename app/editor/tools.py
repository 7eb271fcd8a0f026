"""Mask painting operations on uint8 label arrays (no Qt): what the canvas tools do."""

from __future__ import annotations

import cv2
import numpy as np

Point = tuple[float, float]  # (x, y) in mask pixels
Box = tuple[int, int, int, int]  # (x0, y0, x1, y1) in mask pixels, end-exclusive


def paint_line(mask: np.ndarray, p0: Point, p1: Point, radius: float, label: int) -> Box:
    """A round brush dragged from p0 to p1 (a single dab when they are equal); returns the
    box of pixels it may have changed, clipped to the mask (empty when off the mask)."""
    thickness = max(1, int(round(2 * radius)))
    a = (int(round(p0[0])), int(round(p0[1])))
    b = (int(round(p1[0])), int(round(p1[1])))
    reach = thickness // 2 + 1
    box = (
        max(0, min(a[0], b[0]) - reach),
        max(0, min(a[1], b[1]) - reach),
        min(mask.shape[1], max(a[0], b[0]) + reach + 1),
        min(mask.shape[0], max(a[1], b[1]) + reach + 1),
    )
    if thickness == 1:
        cv2.line(mask, a, b, int(label), 1)
    else:
        cv2.line(mask, a, b, int(label), thickness, lineType=cv2.LINE_8)
        cv2.circle(mask, a, thickness // 2, int(label), -1)  # round caps
        cv2.circle(mask, b, thickness // 2, int(label), -1)
    return box


def flood_fill(mask: np.ndarray, seed: Point, label: int) -> None:
    """Relabel the 4-connected region of equal labels around `seed`."""
    x, y = int(seed[0]), int(seed[1])
    if not (0 <= x < mask.shape[1] and 0 <= y < mask.shape[0]) or mask[y, x] == label:
        return
    border = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), np.uint8)
    cv2.floodFill(mask, border, (x, y), int(label), 0, 0, 4)


def fill_rect(mask: np.ndarray, p0: Point, p1: Point, label: int) -> None:
    x0, x1 = sorted((int(round(p0[0])), int(round(p1[0]))))
    y0, y1 = sorted((int(round(p0[1])), int(round(p1[1]))))
    cv2.rectangle(mask, (x0, y0), (x1, y1), int(label), -1)


def fill_polygon(mask: np.ndarray, points: list[Point], label: int) -> None:
    if len(points) >= 3:
        pts = np.round(np.array(points)).astype(np.int32)
        cv2.fillPoly(mask, [pts], int(label))


def pick_label(mask: np.ndarray, point: Point) -> int | None:
    x, y = int(point[0]), int(point[1])
    if 0 <= x < mask.shape[1] and 0 <= y < mask.shape[0]:
        return int(mask[y, x])
    return None
