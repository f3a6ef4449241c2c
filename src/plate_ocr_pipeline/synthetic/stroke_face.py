"""Plate faces drawn from strokes: a family of monoline faces, not one font.

Many plates are stamped in faces built from straight strokes with rounded corners (DIN 1451,
the German FE face, older national faces), and no open font of them is installed here
(docs/plate-regions.md). Each face of this family is one draw of a few shape parameters:
width, stroke, how round its corners are (square to stadium-shaped O and 0), a flat-topped
or round-topped 3, a flagged or bare 1, a 0 with a slit at its upper right (as the FE face
marks it) and an O wider than the 0. The glyphs are centre-line skeletons in a unit box,
their corners filleted, stroked with OpenCV and shrunk, so they come out as anti-aliased
masks like the TTF glyphs of ``fonts.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .fonts import GLYPH_SIZE, tight_mask

_SCALE = 4  # drawn at 4x and shrunk: smooth edges


@dataclass(frozen=True)
class StrokeFace:
    """One face of the family (values on coarse steps, so that glyphs are cached)."""

    width: float  # glyph box width, of its height
    stroke: float  # stroke width, of the height
    roundness: float  # corner radius, of half the smaller side of the glyph's inner box
    flat_three: bool  # 3 with a flat top and a diagonal (FE) instead of a round top bowl
    one_flag: bool  # 1 with a flag (DIN, FE) instead of a bare bar
    zero_slit: bool  # a cut across the 0's upper right stroke (FE)
    wide_o: float  # the O's width, of the 0's
    squeeze: float = 1.0  # as ``FontSpec.squeeze``: the serial code reads it

    @property
    def name(self) -> str:
        return (
            f"stroke-w{self.width:.2f}-s{self.stroke:.2f}-r{self.roundness:.1f}"
            f"{'-flat3' if self.flat_three else ''}{'-flag1' if self.one_flag else ''}"
            f"{'-slit0' if self.zero_slit else ''}-o{self.wide_o:.2f}"
        )


def draw_stroke_face(rng: np.random.Generator) -> StrokeFace:
    """A face of the family, its parameters drawn from their ranges."""
    return StrokeFace(
        width=round(float(rng.uniform(0.42, 0.6)) / 0.02) * 0.02,
        stroke=round(float(rng.uniform(0.1, 0.17)), 2),
        roundness=round(float(rng.uniform(0.3, 1.0)), 1),
        flat_three=bool(rng.random() < 0.5),
        one_flag=bool(rng.random() < 0.8),
        zero_slit=bool(rng.random() < 0.3),
        wide_o=float(rng.choice([1.0, 1.1, 1.2])),
    )


# Skeletons in a unit box (u right, v down, both 0..1 over the stroke centre lines): strokes
# of points (u, v) whose corners are filleted, or (u, v, 0) kept sharp; a stroke starting
# with "closed" is a loop. Glyphs wider or narrower than the face's box say so in _WIDTH.
_Q = "closed"
_BOX = (_Q, (0, 0), (1, 0), (1, 1), (0, 1))
_SKELETONS: dict[str, tuple] = {
    "0": (_BOX,),
    "O": (_BOX,),
    "D": ((_Q, (0, 0, 0), (1, 0), (1, 1), (0, 1, 0)),),
    "Q": (_BOX, ((0.58, 0.7, 0), (1, 1, 0))),
    "1": (((0.5, 0, 0), (0.5, 1, 0)),),
    "2": (((0, 0.2), (0, 0), (1, 0), (1, 0.42), (0, 1, 0), (1, 1, 0)),),
    "4": (((0.72, 1, 0), (0.72, 0, 0), (0, 0.68, 0), (1, 0.68, 0)),),
    "5": (((1, 0, 0), (0.04, 0, 0), (0, 0.45, 0), (1, 0.45), (1, 1), (0, 1), (0, 0.8)),),
    "6": (((1, 0.18), (1, 0), (0, 0), (0, 1), (1, 1), (1, 0.45), (0, 0.45)),),
    "7": (((0, 0, 0), (1, 0, 0), (0.3, 1, 0)),),
    "8": (
        (_Q, (0.06, 0), (0.94, 0), (0.94, 0.46), (0.06, 0.46)),
        (_Q, (0, 0.46), (1, 0.46), (1, 1), (0, 1)),
    ),
    "A": (((0, 1, 0), (0.5, 0, 0), (1, 1, 0)), ((0.17, 0.66, 0), (0.83, 0.66, 0))),
    "B": (
        (
            (0, 0.46, 0),
            (0.9, 0.46),
            (0.9, 0),
            (0, 0, 0),
            (0, 1, 0),
            (1, 1),
            (1, 0.46),
            (0, 0.46, 0),
        ),
    ),
    "C": (((1, 0.22), (1, 0), (0, 0), (0, 1), (1, 1), (1, 0.78)),),
    "E": (((1, 0, 0), (0, 0, 0), (0, 1, 0), (1, 1, 0)), ((0, 0.48, 0), (0.85, 0.48, 0))),
    "F": (((1, 0, 0), (0, 0, 0), (0, 1, 0)), ((0, 0.52, 0), (0.85, 0.52, 0))),
    "G": (((1, 0.22), (1, 0), (0, 0), (0, 1), (1, 1), (1, 0.52, 0), (0.5, 0.52, 0)),),
    "H": (((0, 0, 0), (0, 1, 0)), ((1, 0, 0), (1, 1, 0)), ((0, 0.48, 0), (1, 0.48, 0))),
    "I": (((0.5, 0, 0), (0.5, 1, 0)),),
    "J": (((1, 0, 0), (1, 1), (0, 1), (0, 0.72)),),
    "K": (((0, 0, 0), (0, 1, 0)), ((1, 0, 0), (0, 0.62, 0)), ((0.3, 0.44, 0), (1, 1, 0))),
    "L": (((0, 0, 0), (0, 1, 0), (1, 1, 0)),),
    "M": (((0, 1, 0), (0, 0, 0), (0.5, 0.62, 0), (1, 0, 0), (1, 1, 0)),),
    "N": (((0, 1, 0), (0, 0, 0), (1, 1, 0), (1, 0, 0)),),
    "P": (((0, 1, 0), (0, 0, 0), (1, 0), (1, 0.52), (0, 0.52, 0)),),
    "R": (((0, 1, 0), (0, 0, 0), (1, 0), (1, 0.5), (0, 0.5, 0)), ((0.45, 0.5, 0), (1, 1, 0))),
    "S": (((1, 0.2), (1, 0), (0, 0), (0, 0.48), (1, 0.48), (1, 1), (0, 1), (0, 0.8)),),
    "T": (((0, 0, 0), (1, 0, 0)), ((0.5, 0, 0), (0.5, 1, 0))),
    "U": (((0, 0, 0), (0, 1), (1, 1), (1, 0, 0)),),
    "V": (((0, 0, 0), (0.5, 1, 0), (1, 0, 0)),),
    "W": (((0, 0, 0), (0.22, 1, 0), (0.5, 0.35, 0), (0.78, 1, 0), (1, 0, 0)),),
    "X": (((0, 0, 0), (1, 1, 0)), ((1, 0, 0), (0, 1, 0))),
    "Y": (((0, 0, 0), (0.5, 0.5, 0), (1, 0, 0)), ((0.5, 0.5, 0), (0.5, 1, 0))),
    "Z": (((0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)),),
}


def _turned(strokes: tuple) -> tuple:
    """The skeleton turned half round (a 6 into a 9)."""
    return tuple(
        tuple(p if p == _Q else (1 - p[0], 1 - p[1], *p[2:]) for p in stroke) for stroke in strokes
    )


_SKELETONS["9"] = _turned(_SKELETONS["6"])
_THREE_ROUND = (
    ((0, 0.2), (0, 0), (1, 0), (1, 0.45), (0.35, 0.45, 0)),
    ((0.35, 0.45, 0), (1, 0.45), (1, 1), (0, 1), (0, 0.8)),
)
_THREE_FLAT = (
    ((0, 0, 0), (1, 0, 0), (0.38, 0.42, 0)),
    ((0.38, 0.42, 0), (1, 0.42), (1, 1), (0, 1), (0, 0.8)),
)
_ONE_FLAG = (((0.1, 0.24, 0), (0.7, 0, 0), (0.7, 1, 0)),)
_SKELETONS["3"] = _THREE_ROUND
# Box width of a glyph, of the face's (I and 1 are as narrow as their strokes allow).
_WIDTH = {"M": 1.2, "W": 1.3, "1": 0.6, "I": 0.0}
_SLIT = ((0.62, 0.22), (1.15, -0.12))  # the FE 0's cut, in the unit box


def _fillet(points: list[tuple], closed: bool, radius: float) -> np.ndarray:
    """The polyline with each corner not marked sharp rounded off by an arc of ``radius``
    (less where a side is too short), approximated by a quadratic curve."""
    n = len(points)
    out: list[np.ndarray] = []
    for i, p in enumerate(points):
        here = np.array(p[:2], np.float64)
        sharp = len(p) > 2 or (not closed and i in (0, n - 1))
        if sharp or radius <= 0:
            out.append(here)
            continue
        prev = np.array(points[(i - 1) % n][:2], np.float64)
        nxt = np.array(points[(i + 1) % n][:2], np.float64)
        a, b = prev - here, nxt - here
        la, lb = np.linalg.norm(a), np.linalg.norm(b)
        if la < 1e-6 or lb < 1e-6:
            out.append(here)
            continue
        cos = float(np.clip(np.dot(a, b) / (la * lb), -1.0, 1.0))
        half = np.arccos(cos) / 2
        if half > np.radians(85):  # nearly straight: nothing to round
            out.append(here)
            continue
        reach = min(radius / np.tan(half), 0.5 * la, 0.5 * lb)
        start, end = here + a / la * reach, here + b / lb * reach
        for t in np.linspace(0.0, 1.0, 9):
            out.append((1 - t) ** 2 * start + 2 * (1 - t) * t * here + t**2 * end)
    return np.array(out)


def _skeleton(face: StrokeFace, ch: str) -> tuple:
    if ch == "3" and face.flat_three:
        return _THREE_FLAT
    if ch == "1" and face.one_flag:
        return _ONE_FLAG
    return _SKELETONS[ch]


@lru_cache(maxsize=8192)
def stroke_glyph(face: StrokeFace, ch: str) -> np.ndarray | None:
    """Tight ink mask (uint8) of one character at the raster size; None where the family has
    no glyph for it."""
    if ch not in _SKELETONS:
        return None
    height = float(GLYPH_SIZE)
    stroke = face.stroke * height
    box_w = face.width * height * _WIDTH.get(ch, face.wide_o if ch in "OQ" else 1.0)
    inner_w, inner_h = max(0.0, box_w - stroke), height - stroke
    radius = face.roundness * 0.5 * min(inner_w, inner_h / 2)
    pad = stroke
    size = (
        int(np.ceil((box_w + 2 * pad) * _SCALE)),
        int(np.ceil((height + 2 * pad) * _SCALE)),
    )
    canvas = np.zeros((size[1], size[0]), np.uint8)
    origin = np.array([pad + stroke / 2, pad + stroke / 2])
    scale = np.array([inner_w, inner_h])
    for stroke_points in _skeleton(face, ch):
        closed = stroke_points[0] == _Q
        pts = [p for p in stroke_points if p != _Q]
        px = [(*(origin + scale * np.array(p[:2], np.float64)), *p[2:]) for p in pts]
        line = _fillet(px, closed, radius) * _SCALE
        cv2.polylines(
            canvas,
            [np.round(line).astype(np.int32)],
            closed,
            255,
            max(1, int(round(stroke * _SCALE))),
            cv2.LINE_AA,
        )
    if ch == "0" and face.zero_slit:
        ends = [np.round((origin + scale * np.array(p)) * _SCALE).astype(int) for p in _SLIT]
        cv2.line(canvas, tuple(ends[0]), tuple(ends[1]), 0, max(1, int(0.3 * stroke * _SCALE)))
    small = cv2.resize(canvas, (size[0] // _SCALE, size[1] // _SCALE), interpolation=cv2.INTER_AREA)
    return tight_mask(small)
