"""A restyle as a colour transform of the photo's own pixels.

The model draws the photo's mask twice, with the photo's own styles (`base`) and with the
new ones (`edited`). Per restyled region, a locally affine colour map from `base` to
`edited` is fitted (3x3 plus offset per pixel, the colour guided filter's local linear
model, He et al. 2010, section 3.5), regularised towards one affine map for the whole
region (the linear map between the two syntheses' colour distributions there) instead of
towards a constant, so that a window with little of the region takes the region's map
and a flat window keeps the photo's detail. Only the map's coefficients
travel to the photo's resolution, and they are applied to the original's pixels: strands,
pores and light stay the photo's, the synthesis's speckle and seams do not travel (a
3x3 map fitted over a window cannot copy them).

Outside the model's square the region's pixels (from a wider parse of the photo, the
edit's `surround`) take the region's global map; towards the square's edges the local map
fades into it, so no line marks where the square ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.data.filters import box

FIT_RADIUS = 0.04  # of the model's side: the window of the local fit (10 px at 256)
FIT_EPS = 0.1  # ridge towards the region's global map, chosen by measurement (docs/RESULTS.md)
GLOBAL_RIDGE = 1e-4  # added to the colour covariances of the global map (a deviation of 1% of the range)
MAX_GAIN = 2.0  # the global map changes the photo's contrast by at most this factor, either way
WORK_SIDE = 768  # the region's labels and the maps' coefficients are worked out this large
BAND_ROWS = 256  # photo rows transformed at a time: a 12-megapixel photo in bounded memory
HIGHLIGHT_TOP = 1.0  # a restyled region's brightest colours (its 99.9th percentile) land no higher
SHOULDER_SLOPE = 0.5  # the shoulder's slope where it lands them, swept in docs/RESULTS.md: pores stay visible
KNEE_FLOOR = 0.4  # the shoulder starts no lower: the mid-tones of a much lighter region keep their new tone
SHADED_PEAK = 1.3  # a shaded region's light is spread no wider than takes its peak past this


@dataclass(frozen=True)
class ColourMap:
    """Per pixel y = A x + b: `a` (H, W, 3, 3), output channel first, and `b` (H, W, 3),
    with the region's global map `a_global` (3, 3), `b_global` (3,)."""

    a: np.ndarray
    b: np.ndarray
    a_global: np.ndarray
    b_global: np.ndarray

    def stacked(self) -> np.ndarray:
        """(H, W, 12) float32: the coefficients as channels, to be resampled together."""
        h, w = self.b.shape[:2]
        return np.concatenate([self.a.reshape(h, w, 9), self.b], -1).astype(np.float32)

    def global_stacked(self) -> np.ndarray:
        return np.concatenate([self.a_global.ravel(), self.b_global]).astype(np.float32)


def matrix_power(sym: np.ndarray, power: float) -> np.ndarray:
    values, vectors = np.linalg.eigh(sym)
    return (vectors * np.maximum(values, 1e-12) ** power) @ vectors.T


@dataclass(frozen=True)
class ColourAdjust:
    """A region's colour set by hand, as photo editors' sliders set it: hue turned by
    `hue` degrees about the grey axis, saturation scaled by 1 + `saturation` (-1: grey),
    lightness moved towards white (`lightness` > 0) or black (< 0). Each is an affine map
    of RGB, so it composes with a restyle's colour map and acts through the same
    transform of the photo's own pixels."""

    hue: float = 0.0
    saturation: float = 0.0
    lightness: float = 0.0

    def __post_init__(self) -> None:
        if not (
            np.isfinite([self.hue, self.saturation, self.lightness]).all()
            and -180 <= self.hue <= 180
            and -1 <= self.saturation <= 1
            and -1 <= self.lightness <= 1
        ):
            raise ValueError(
                f"hue runs from -180 to 180 degrees, saturation and lightness from -1 to 1 "
                f"(got {self.hue}, {self.saturation}, {self.lightness})"
            )

    @property
    def is_identity(self) -> bool:
        return self.hue == 0 and self.saturation == 0 and self.lightness == 0

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(M (3, 3), t (3,)) with adjusted = M @ rgb + t, rgb in [0, 1]: the hue rotation
        and saturation matrices of SVG's feColorMatrix (Rec. 709 luminance), then lightness."""
        c, s = np.cos(np.radians(self.hue)), np.sin(np.radians(self.hue))
        hue = np.array(
            [
                [0.213 + c * 0.787 - s * 0.213, 0.715 - c * 0.715 - s * 0.715, 0.072 - c * 0.072 + s * 0.928],
                [0.213 - c * 0.213 + s * 0.143, 0.715 + c * 0.285 + s * 0.140, 0.072 - c * 0.072 - s * 0.283],
                [0.213 - c * 0.213 - s * 0.787, 0.715 - c * 0.715 + s * 0.715, 0.072 + c * 0.928 + s * 0.072],
            ]
        )
        k = 1 + self.saturation
        grey = np.array([0.213, 0.715, 0.072])
        saturation = np.outer(np.ones(3), grey) * (1 - k) + np.eye(3) * k
        light = self.lightness
        scale, offset = (1 - light, light) if light > 0 else (1 + light, 0.0)
        return scale * saturation @ hue, np.full(3, offset)

    def applied_after(self, coefficients: np.ndarray) -> np.ndarray:
        """Per-pixel maps (..., 12) followed by this adjustment: (M A, M b + t)."""
        return then_affine(coefficients, *self.affine())


def then_affine(coefficients: np.ndarray, m: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-pixel maps (..., 12) followed by the affine map y = m x + t: (m A, m b + t)."""
    a = coefficients[..., :9].reshape(*coefficients.shape[:-1], 3, 3)
    out = np.concatenate(
        [
            np.einsum("ij,...jk->...ik", m, a).reshape(*coefficients.shape[:-1], 9),
            np.einsum("ij,...j->...i", m, coefficients[..., 9:]) + t,
        ],
        -1,
    )
    return out.astype(np.float32)


def adjust_regions(image: np.ndarray, labels: np.ndarray, adjustments: dict[int, ColourAdjust]) -> np.ndarray:
    """uint8 `image` with the pixels of each class of `labels` (the image's size) through
    its hand adjustment: how an edit of a mask (a synthesis, no photo) takes them."""
    out = image.copy()
    for c, adjust in adjustments.items():
        area = labels == c
        if adjust.is_identity or not area.any():
            continue
        m, t = adjust.affine()
        out[area] = np.clip(np.rint((image[area] / 255.0 @ m.T + t) * 255), 0, 255).astype(np.uint8)
    return out


IDENTITY = np.concatenate([np.eye(3).ravel(), np.zeros(3)]).astype(np.float32)  # y = x, as 12 coefficients


def global_map(x: np.ndarray, y: np.ndarray, ridge: float = GLOBAL_RIDGE) -> tuple[np.ndarray, np.ndarray]:
    """The affine colour map (A (3, 3), b (3,)) that takes the distribution of the colours
    `x` (N, 3) to that of `y` (N, 3): `distribution_map` of their means and covariances.
    Not a regression of y on x: the two syntheses draw a region's texture differently
    (other strands), and a regression would shrink the map towards a flat colour wherever
    the textures do not line up."""
    return distribution_map(x.mean(0), np.cov(x.T), y.mean(0), np.cov(y.T), ridge)


def distribution_map(
    mx: np.ndarray, cx: np.ndarray, my: np.ndarray, cy: np.ndarray, ridge: float = GLOBAL_RIDGE
) -> tuple[np.ndarray, np.ndarray]:
    """The linear Monge-Kantorovich map (Pitie and Kokaram 2007) from colours of mean `mx`
    and covariance `cx` to colours of mean `my` and covariance `cy`: (A (3, 3), b (3,)).
    `ridge` (a variance) keeps it finite for a flat region."""
    cx, cy = cx + ridge * np.eye(len(cx)), cy + ridge * np.eye(len(cy))
    root = matrix_power(cx, 0.5)
    inverse_root = matrix_power(cx, -0.5)
    a = inverse_root @ matrix_power(root @ cy @ root, 0.5) @ inverse_root
    # The map is symmetric; its gains are capped: a flat synthesis of the photo's region
    # against a speckled new one would otherwise multiply the photo's contrast many times.
    values, vectors = np.linalg.eigh((a + a.T) / 2)
    a = (vectors * np.clip(values, 1 / MAX_GAIN, MAX_GAIN)) @ vectors.T
    return a, my - a @ mx


def fit_colour_map(
    base: np.ndarray, edited: np.ndarray, region: np.ndarray, radius: int, eps: float = FIT_EPS
) -> ColourMap:
    """The locally affine map from `base` to `edited` (float (S, S, 3) in [0, 1]) over the
    pixels of `region` (S, S) bool: in each window, min over A, b of
    n * mean_region |A x + b - y|^2 + eps |A - A_global|^2 (n: the window's share of the
    region), then the coefficients averaged over the windows holding each pixel, as the
    guided filter does. Outside the region: the global map."""
    m = region.astype(np.float32)
    a_g, b_g = global_map(base[region].astype(np.float64), edited[region].astype(np.float64))
    s = base.shape[0]
    n = box(m, radius)
    safe = np.maximum(n, 1e-6)
    mean = lambda v: (
        box(v * m.reshape(s, -1, *([1] * (v.ndim - 2))), radius) / safe.reshape(s, -1, *([1] * (v.ndim - 2)))
    )
    mx, my = mean(base), mean(edited)
    xx = mean((base[..., :, None] * base[..., None, :]).reshape(s, -1, 9)).reshape(s, -1, 3, 3)
    xy = mean((base[..., :, None] * edited[..., None, :]).reshape(s, -1, 9)).reshape(s, -1, 3, 3)
    cov_xx = xx - mx[..., :, None] * mx[..., None, :]
    cov_xy = xy - mx[..., :, None] * my[..., None, :]
    lhs = n[..., None, None] * cov_xx + eps * np.eye(3, dtype=np.float32)
    rhs = n[..., None, None] * cov_xy + eps * a_g.T.astype(np.float32)
    a = np.linalg.solve(lhs, rhs).swapaxes(-1, -2)  # (S, S, out, in)
    b = my - np.einsum("hwij,hwj->hwi", a, mx)
    a = mean(a.reshape(s, -1, 9)).reshape(s, -1, 3, 3)
    b = mean(b)
    outside = n < 1e-3
    a[~region | outside] = a_g
    b[~region | outside] = b_g
    return ColourMap(a.astype(np.float32), b.astype(np.float32), a_g.astype(np.float32), b_g.astype(np.float32))


# RGB -> luma and two colour differences (BT.601): the basis an anchor scales in, so that
# luminance comes from luminance alone (JPEG's blocky chroma never leaks into the detail)
OPPONENT = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def shaded_light(colour_map: ColourMap) -> ColourMap:
    """`colour_map` with the light of every pixel taken from its own light alone and the
    same way everywhere: each pixel's map gives luma as the region's global map takes luma
    to luma (one gain and offset), and keeps its own colour differences. For a shaded
    region (skin): a new skin tone is a new albedo under the same light, so the photo's
    shading, pores and wrinkles scale as one; the model's local maps, which draw the new
    tone with a shading of their own, would weight the photo's detail differently from
    place to place (docs/RESULTS.md: detail lost on strong darkenings), and a luma taken
    partly from colour would carry JPEG's blocky chroma into it."""
    to_rgb = np.linalg.inv(OPPONENT)
    luma_in, luma_out = to_rgb[:, 0], OPPONENT[0]
    gain = luma_out @ colour_map.a_global @ luma_in  # luma -> luma of the global map
    offset = luma_out @ colour_map.b_global

    def relit(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # A + e (gain luma_out - luma_out A), e the luma axis in RGB: the luma row made
        # gain * luma_out (of one map (3, 3) or of each pixel's (..., 3, 3)), the others kept
        row = gain * luma_out - luma_out @ a
        shifted = b + luma_in * (offset - b @ luma_out)[..., None]
        return (a + luma_in[:, None] * row[..., None, :]).astype(np.float32), shifted.astype(np.float32)

    return ColourMap(*relit(colour_map.a, colour_map.b), *relit(colour_map.a_global, colour_map.b_global))


def anchor_map(
    pixels: np.ndarray, coefficients: np.ndarray, target: np.ndarray, shaded: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The affine map (m, t) that, after the per-pixel maps `coefficients` (N, 12), gives a
    region's `pixels` (N, 3, in [0, 1]) the colours of `target` (the mean and covariance
    of the style photo's region: models/inference/styles.py), in luma and colour
    differences (Reinhard et al. 2001 in a linear basis): the mean of all three, and
    spreads with each gain capped at MAX_GAIN. Of a `shaded` region (skin, whose colours
    vary with the light on it more than with a pattern of its own), the photo's own
    spread of light scaled as its mean is (a new skin tone reflects the same light: its
    albedo scales it), spread no wider than fits under white, and its colour carried by
    that light (`light_carries_colour`; the style photo's spread of colour would lay its
    own shadows' tints on this face, blue cheeks). Of any other (hair: strands and
    sheen), the style photo's spread of colour and the spread of light the model's map
    gave (less where it would take the shadows under black: `light_above_black`), the
    photo's own texture as the new style draws it (docs/RESULTS.md: either rule for both
    kinds measured worse on one of them). The model's map says how the region's colours
    change from place to place; its synthesis of the new style is off by a few Lab units from
    the style photo, which this takes away."""
    mapped = apply_coefficients(pixels, coefficients).astype(np.float64) @ OPPONENT.T
    if shaded:
        own = pixels.astype(np.float64) @ OPPONENT[0]
        albedo = (OPPONENT[0] @ target[:3]) / max(own.mean(), 1e-3)
        luma_gain = np.clip(albedo * own.std() / max(mapped[:, 0].std(), 1e-4), 1 / MAX_GAIN, MAX_GAIN)
        return light_carries_colour(mapped, target, float(luma_gain))
    target_var = np.diag(OPPONENT @ target[3:].reshape(3, 3).astype(np.float64) @ OPPONENT.T)
    gain = np.r_[1.0, np.sqrt((target_var[1:] + GLOBAL_RIDGE) / (mapped.var(0)[1:] + GLOBAL_RIDGE))]
    gain = np.clip(gain, 1 / MAX_GAIN, MAX_GAIN)
    gain[0] = light_above_black(mapped, OPPONENT @ target[:3], gain)
    m = np.linalg.inv(OPPONENT) @ np.diag(gain) @ OPPONENT
    mean = np.linalg.solve(OPPONENT, mapped.mean(0))  # back in RGB
    return m, target[:3] - m @ mean


def light_carries_colour(mapped: np.ndarray, target: np.ndarray, luma_gain: float) -> tuple[np.ndarray, np.ndarray]:
    """The anchor (m, t) of a shaded region's `mapped` colours (N, 3, luma and colour
    differences) to `target`'s mean: its light scaled by `luma_gain` (the albedo's, spread
    no wider than fits under white: `light_that_fits`) about the new mean, and its colour
    carried by its light. Each colour difference is the new tone's ratio to luma times the
    pixel's new luma, plus the pixel's own departure from its old tone's ratio. A shadow
    of the new tone is the new tone, darker; kept apart from the light, as colour
    differences of their own about the mean, a lightened face's shadows kept the mean's
    colour at a fraction of its light and turned maroon (docs/RESULTS.md)."""
    to_rgb = np.linalg.inv(OPPONENT)
    mu, t = mapped.mean(0), OPPONENT @ target[:3]
    r_in, r_t = mu[1:] / max(mu[0], 1e-3), t[1:] / max(t[0], 1e-3)  # colour per unit of light
    departure = mapped[:, 1:] - np.outer(mapped[:, 0], r_in)  # (n, 2), mean 0
    at_mean = np.concatenate([np.full((len(mapped), 1), t[0]), r_t * t[0] + departure], 1) @ to_rgb.T
    g = light_that_fits(at_mean, mapped[:, 0] - mu[0], luma_gain, to_rgb @ np.r_[1.0, r_t])
    # luma' = g l + (t_l - g mu_l); colour' = r_t luma' + (c - r_in l)
    a = np.zeros((3, 3))
    a[0, 0] = g
    a[1:, 0] = r_t * g - r_in
    a[1:, 1:] = np.eye(2)
    b = np.r_[1.0, r_t] * (t[0] - g * mu[0])
    return to_rgb @ a @ OPPONENT, to_rgb @ b


def light_that_fits(colour: np.ndarray, luma: np.ndarray, gain: float, direction: np.ndarray) -> float:
    """The largest luma gain up to `gain` that keeps a region's peak (`highlight_peak` of
    `colour` (N, 3) + gain * `luma` (N,) * `direction` (3,): its colours at the mean light,
    its light about the mean, and the RGB a unit of light adds) at most SHADED_PEAK. A
    skin tone made twice as light by its albedo alone would take its highlights far past
    white, where the shoulder must flatten them and the mean falls back towards the old
    tone (docs/RESULTS.md); the new tone's mean is kept and its light spread less
    instead, which a correlation of detail does not see and an eye barely does."""
    peak = lambda g: highlight_peak(colour + g * luma[:, None] * direction)
    if peak(gain) <= SHADED_PEAK:
        return gain
    low, high = 1 / MAX_GAIN, gain
    for _ in range(24):  # the peak grows with the gain: bisect
        middle = (low + high) / 2
        low, high = (middle, high) if peak(middle) <= SHADED_PEAK else (low, middle)
    return low


def light_above_black(mapped: np.ndarray, target: np.ndarray, gain: np.ndarray) -> float:
    """The largest luma gain up to `gain`[0] that keeps a region's darkest colours (the
    99.9th percentile from the bottom of each pixel's darkest channel) at or above black,
    when its `mapped` colours (N, 3, luma and colour differences) are scaled by `gain`
    about their mean and moved to `target`'s (3,). Hair made much darker by the model's
    map (a gain and a large negative offset) would clip its shadows to a flat black patch
    where the photo has them (the crown); the light is spread less instead, as a darker
    albedo spreads it (docs/RESULTS.md)."""
    to_rgb = np.linalg.inv(OPPONENT)
    centred = mapped - mapped.mean(0)
    lowest = lambda g: float(np.percentile(((target + centred * np.r_[g, gain[1:]]) @ to_rgb.T).min(-1), 0.1))
    if lowest(gain[0]) >= 0:
        return float(gain[0])
    low, high = 1 / MAX_GAIN, float(gain[0])
    for _ in range(24):  # the darkest colours rise as the gain falls: bisect
        middle = (low + high) / 2
        low, high = (middle, high) if lowest(middle) >= 0 else (low, middle)
    return low


def highlight_peak(mapped: np.ndarray) -> float:
    """The brightest channel of a region's mapped colours (N, 3), at its 99.9th
    percentile: what `bend_highlights` brings into range."""
    return float(np.percentile(mapped.max(-1), 99.9)) if len(mapped) else 0.0


def bend_highlights(mapped: np.ndarray, peak: float) -> np.ndarray:
    """Mapped colours (..., 3) whose region peaks at `peak` (`highlight_peak`) with their
    highlights bent under white instead of clipped: past a knee, each pixel's brightest
    channel follows a quadratic shoulder that lands `peak` at HIGHLIGHT_TOP with slope
    SHOULDER_SLOPE, and its three channels are scaled alike (hue kept). A lighter skin
    tone or blonde taken by a photo's own light would otherwise clip its highlights flat
    (docs/RESULTS.md: the detail lost on a donor 1.5-1.8 times lighter). Mid-tones below
    the knee are untouched. A peak so high that the knee would fall under KNEE_FLOOR keeps
    the knee there and lands the peak flatter (the end slope falls from SHOULDER_SLOPE to
    0); one higher still is first scaled down, alike everywhere, to the highest such a
    shoulder lands. Each step meets the last where it starts, so a slider never jumps, and
    the region's mean stays near its new tone (scaling it all by 1/peak darkened a beard
    lightened twofold by 24 Lab units)."""
    if peak <= HIGHLIGHT_TOP:
        return mapped
    knee, slope = peak - 2 * (peak - HIGHLIGHT_TOP) / (1 - SHOULDER_SLOPE), SHOULDER_SLOPE
    if knee < KNEE_FLOOR:
        flattest = 2 * HIGHLIGHT_TOP - KNEE_FLOOR  # the peak a shoulder of end slope 0 lands
        if peak > flattest:
            mapped, peak = mapped * np.float32(flattest / peak), flattest
        knee = KNEE_FLOOR
        slope = 1 - 2 * (peak - HIGHLIGHT_TOP) / (peak - knee)
    brightest = mapped.max(-1)
    curve = (peak - HIGHLIGHT_TOP) / (peak - knee) ** 2
    over = np.clip(brightest, knee, peak) - knee
    bent = knee + over - curve * over**2 + slope * np.maximum(brightest - peak, 0)
    ratio = np.where(brightest > knee, bent / np.maximum(brightest, 1e-6), 1.0)
    return mapped * ratio[..., None].astype(mapped.dtype)


def apply_coefficients(pixels: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """float (..., 3) pixels in [0, 1] through per-pixel maps (..., 12) -> float (..., 3)."""
    a = coefficients[..., :9].reshape(*coefficients.shape[:-1], 3, 3)
    return np.einsum("...ij,...j->...i", a, pixels) + coefficients[..., 9:]


def warp(
    image: np.ndarray,
    forward: np.ndarray,
    shape: tuple[int, int],
    interpolation: int,
    border: int = cv2.BORDER_CONSTANT,
) -> np.ndarray:
    """`image` resampled by the 2x3 affine map `forward` (its pixels -> the output's) onto
    an output of `shape`; any number of channels (OpenCV warps at most 4 at a time)."""
    h, w = shape
    flat = image.reshape(*image.shape[:2], -1) if image.ndim == 3 else image[..., None]
    parts = [
        cv2.warpAffine(
            np.ascontiguousarray(flat[..., i : i + 4]), forward, (w, h), flags=interpolation, borderMode=border
        ).reshape(h, w, -1)
        for i in range(0, flat.shape[-1], 4)
    ]
    out = np.concatenate(parts, -1)
    return out if image.ndim == 3 else out[..., 0]


def affine(scale_x: float, scale_y: float, dx: float, dy: float) -> np.ndarray:
    return np.array([[scale_x, 0, dx], [0, scale_y, dy]], np.float64)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 map `outer` after `inner`."""
    full = lambda m: np.vstack([m, [0, 0, 1]])
    return (full(outer) @ full(inner))[:2]
