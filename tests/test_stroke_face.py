"""The stroke family of plate faces: every serial character drawn, the shape options visible,
and serials in such a face drawn by the serial code."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from plate_ocr_pipeline.synthetic.stroke_face import StrokeFace, draw_stroke_face, stroke_glyph

CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FACE = StrokeFace(
    width=0.52,
    stroke=0.13,
    roundness=0.6,
    flat_three=False,
    one_flag=True,
    zero_slit=False,
    wide_o=1.1,
)


def _ink(mask: np.ndarray) -> np.ndarray:
    return mask > 127


@pytest.mark.parametrize("ch", list(CHARS))
def test_every_serial_character_is_a_glyph_as_tall_as_the_raster(ch):
    g = stroke_glyph(FACE, ch)
    assert g is not None and g.dtype == np.uint8
    # The glyph box is 96 px high from the top of its strokes to the bottom of them.
    assert 94 <= g.shape[0] <= 98
    assert 0.02 < _ink(g).mean() < (1.0 if ch == "I" else 0.8)
    # Narrow glyphs are narrow and wide ones wide.
    if ch == "I":
        assert g.shape[1] <= 0.2 * g.shape[0]
    if ch in "MW":
        assert g.shape[1] > stroke_glyph(FACE, "H").shape[1]


def test_a_character_outside_the_family_has_no_glyph():
    assert stroke_glyph(FACE, "#") is None
    assert stroke_glyph(FACE, "a") is None


def test_the_shape_options_change_the_glyphs_they_name_only():
    slit = replace(FACE, zero_slit=True)
    # The slit cuts the 0's stroke at its upper right, and nowhere else.
    plain0, slit0 = _ink(stroke_glyph(FACE, "0")), _ink(stroke_glyph(slit, "0"))
    h, w = plain0.shape
    lost = plain0 & ~slit0
    assert lost.sum() > 20 and not (slit0 & ~plain0).any()
    ys, xs = np.nonzero(lost)
    assert ys.max() < h / 2 and xs.min() > w / 2
    np.testing.assert_array_equal(stroke_glyph(FACE, "O"), stroke_glyph(slit, "O"))
    # A flat-topped 3 has ink all along its top row; a round one does not reach the corners.
    flat = _ink(stroke_glyph(replace(FACE, flat_three=True), "3"))
    round_ = _ink(stroke_glyph(FACE, "3"))
    assert flat[:3, :3].any() and not round_[:3, :3].any()
    # A bare 1 is a bar; a flagged one reaches left of its stem at the top.
    bare = stroke_glyph(replace(FACE, one_flag=False), "1")
    assert bare.shape[1] < stroke_glyph(FACE, "1").shape[1]
    # The O is wider than the 0 by wide_o; square corners fill the box's corners.
    assert stroke_glyph(FACE, "O").shape[1] > stroke_glyph(FACE, "0").shape[1]
    square = _ink(stroke_glyph(replace(FACE, roundness=0.0), "0"))
    stadium = _ink(stroke_glyph(replace(FACE, roundness=1.0), "0"))
    corner = (slice(0, square.shape[0] // 6), slice(0, square.shape[1] // 4))
    assert square[corner].sum() > 1.5 * stadium[corner].sum()


def test_faces_are_drawn_from_the_generator_and_on_coarse_steps():
    a = [draw_stroke_face(np.random.default_rng(5)) for _ in range(2)]
    assert a[0] == a[1]
    faces = {draw_stroke_face(np.random.default_rng(s)) for s in range(200)}
    assert len(faces) > 20
    for face in faces:
        assert 0.42 <= face.width <= 0.6 and 0.1 <= face.stroke <= 0.17
        assert round(face.roundness, 1) == face.roundness and face.wide_o in (1.0, 1.1, 1.2)


def test_a_serial_in_a_stroke_face_is_drawn_by_the_serial_code():
    from plate_ocr_pipeline.synthetic.options import get_resources
    from plate_ocr_pipeline.synthetic.serial import draw_serial, glyph, serial_style

    res = get_resources()
    rng = np.random.default_rng(0)
    style = replace(serial_style(rng, res, 60.0, "mark", (255, 255, 255)), font=FACE, bold=0)
    # US glyph variants (a serif I) are the installed fonts'; a stroke face keeps its own I.
    style = replace(style, glyphs=replace(style.glyphs, serif_i=True))
    g = glyph(style, "I", 60.0)
    assert g.shape[0] == 60 and g.shape[1] < 20
    img = np.zeros((100, 400, 3), np.float32)
    x0, x1 = draw_serial(rng, img, ["ABC", "123"], style, (255, 255, 255), 200, 50, 380, False)
    assert 0 < x0 < x1 < 400
    assert (img > 200).any(axis=2).mean() > 0.05
