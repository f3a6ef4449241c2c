"""Synthetic renderer: determinism, labels vs formats, sizes, errors."""

from __future__ import annotations

import itertools
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from plate_ocr_pipeline.synthetic import (
    REGION_FORMATS,
    REGIONS,
    generate_plates,
    plan_plates,
    render_plate,
    sample_text,
)
from plate_ocr_pipeline.synthetic.fonts import find_user_fonts, serial_font_specs

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"


def test_same_seed_same_pixels_regardless_of_workers():
    a = generate_plates(12, {"us": 3, "eu-de": 1, "br": 1}, seed=7, num_workers=1)
    b = generate_plates(12, {"us": 3, "eu-de": 1, "br": 1}, seed=7, num_workers=2)
    assert [x[1:] for x in a] == [y[1:] for y in b]
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b, strict=True))
    c = generate_plates(12, {"us": 3, "eu-de": 1, "br": 1}, seed=8, num_workers=1)
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(a, c, strict=True))


@pytest.mark.parametrize("region", REGIONS)
def test_labels_match_region_pattern_and_alphabet(region):
    rng = np.random.default_rng(0)
    pattern = REGION_FORMATS[region].label_regex()
    for _ in range(200):
        _, label = sample_text(rng, region, 10, ALPHABET.replace("_", ""))
        assert pattern.match(label), (region, label)
        assert 1 <= len(label) <= 10
        assert set(label) <= set(ALPHABET) - {"_"}
        if region == "us":
            assert "O" not in label  # US labels write the letter O as 0


@pytest.mark.parametrize("region", REGIONS)
def test_render_every_region(region):
    image, label = render_plate(np.random.default_rng(1), region, 200, 80)
    assert image.shape == (80, 200, 3) and image.dtype == np.uint8
    assert REGION_FORMATS[region].label_regex().match(label)


def test_slot_limit_and_alphabet_respected():
    rng = np.random.default_rng(3)
    for _ in range(100):
        _, label = sample_text(rng, "us", 5, "0123456789")
        assert len(label) <= 5 and label.isdigit()


def test_sizes_within_requested_ranges():
    plans = plan_plates(
        40, {"us": 1, "uk": 1}, seed=1, width_range=(100, 140), height_range=(40, 70)
    )
    for p in plans:
        assert 100 <= p.width <= 140 and 40 <= p.height <= 70
    out = generate_plates(
        4, {"us": 1}, seed=1, width_range=(128, 128), height_range=(64, 64), num_workers=1
    )
    assert all(img.shape == (64, 128, 3) for img, _, _ in out)


def _longest_run(text: str) -> int:
    return max(len(list(run)) for _, run in itertools.groupby(text))


def test_repeat_odds_writes_a_run_over_us_plates_only_and_leaves_the_rest_alone():
    weights = {"us": 1, "uk": 1}
    plain = plan_plates(300, weights, seed=3, repeat_odds=0.0)
    repeated = plan_plates(300, weights, seed=3, repeat_odds=1.0)
    for before, after in zip(plain, repeated, strict=True):
        assert (after.region, after.width, after.height) == (before.region, before.width,
                                                             before.height)  # fmt: skip
        if after.region != "us":
            assert after == before
            continue
        # Same group lengths and label length; a run of at least two (groups of one aside).
        assert [len(g) for g in after.groups] == [len(g) for g in before.groups]
        assert len(after.label) == len(before.label)
        if max(len(g) for g in before.groups) >= 2:
            assert max(_longest_run(g) for g in after.groups) >= 2
    us = [(b, a) for b, a in zip(plain, repeated, strict=True) if a.region == "us"]
    runs_before = sum(_longest_run(b.label) >= 3 for b, _ in us)
    runs_after = sum(_longest_run(a.label) >= 3 for _, a in us)
    assert runs_after > 3 * max(runs_before, 1)
    half = plan_plates(300, weights, seed=3, repeat_odds=0.5)
    changed = sum(h != b for h, b in zip(half, plain, strict=True))
    assert 0.25 * len(us) < changed < 0.75 * len(us)
    with pytest.raises(ValueError, match="repeat_odds"):
        plan_plates(3, weights, repeat_odds=1.5)


def test_unknown_region_fails_clearly():
    with pytest.raises(ValueError, match="unknown region"):
        render_plate(np.random.default_rng(0), "mars", 100, 50)
    with pytest.raises(ValueError, match="unknown region"):
        plan_plates(3, {"us": 1, "atlantis": 1})


def test_zero_plates_fails():
    with pytest.raises(ValueError, match="num_plates"):
        plan_plates(0, {"us": 1})


def test_fonts_dir_missing_and_user_fonts(tmp_path):
    with pytest.raises(FileNotFoundError, match="fonts_dir"):
        find_user_fonts(tmp_path / "nope")
    src = serial_font_specs()[0].path
    (tmp_path / "mine.ttf").write_bytes(Path(src).read_bytes())
    specs = serial_font_specs(tmp_path)
    assert any(s.path.endswith("mine.ttf") for s in specs)


def test_a_user_font_that_is_no_font_or_a_fifo_is_named_at_start(tmp_path):
    """Checked when the parameters are validated, before rendering: a FIFO named like a font
    would block the rendering workers, a broken font fail in one of them."""
    import os

    from pydantic import ValidationError

    from plate_ocr_pipeline.synthetic.params import SynthesizeParams

    (tmp_path / "good.ttf").write_bytes(Path(serial_font_specs()[0].path).read_bytes())
    (tmp_path / "broken.otf").write_bytes(b"not a font")
    with pytest.raises(ValueError, match=r"broken\.otf: not a font"):
        find_user_fonts(tmp_path)
    with pytest.raises(ValidationError, match=r"broken\.otf: not a font"):
        SynthesizeParams.model_validate({"fonts_dir": str(tmp_path)})
    (tmp_path / "broken.otf").unlink()
    os.mkfifo(tmp_path / "pipe.ttf")
    with pytest.raises(ValueError, match=r"pipe\.ttf: not a regular file"):
        find_user_fonts(tmp_path)
    (tmp_path / "pipe.ttf").unlink()
    (tmp_path / "folder.ttf").mkdir()  # a folder so named is not a font file: left out
    assert find_user_fonts(tmp_path) == [tmp_path / "good.ttf"]
    with pytest.raises(ValidationError, match="no .ttf or .otf files"):
        SynthesizeParams.model_validate({"fonts_dir": str(tmp_path / "folder.ttf")})


def test_user_fonts_are_opened_once_until_the_file_changes(tmp_path, monkeypatch):
    """Each synthesize node validates the parameters again; an unchanged font is not reopened,
    and a font overwritten by something that is not a font is caught on the next check."""
    from plate_ocr_pipeline.synthetic import fonts

    source = Path(serial_font_specs()[0].path).read_bytes()
    (tmp_path / "mine.ttf").write_bytes(source)
    opened = []
    real_truetype = fonts.ImageFont.truetype

    def counting_truetype(path, size):
        opened.append(path)
        return real_truetype(path, size)

    monkeypatch.setattr(fonts.ImageFont, "truetype", counting_truetype)
    for _ in range(3):
        assert find_user_fonts(tmp_path) == [tmp_path / "mine.ttf"]
    assert opened == [str(tmp_path / "mine.ttf")]
    (tmp_path / "mine.ttf").write_bytes(b"no longer a font")
    with pytest.raises(ValueError, match=r"mine\.ttf: not a font"):
        find_user_fonts(tmp_path)
    assert len(opened) == 2


def test_plate_pictograms_render_from_the_bundled_font():
    """Every pictogram used as a logo or separator has a real glyph (not an empty mask)."""
    from plate_ocr_pipeline.synthetic.drawing import SYMBOLS
    from plate_ocr_pipeline.synthetic.fonts import glyph_mask, symbol_font_spec

    masks = {}
    for symbol in SYMBOLS:
        mask = glyph_mask(symbol_font_spec(), symbol)
        assert mask is not None, symbol
        assert min(mask.shape) >= 8, symbol
        assert 0.05 < (mask > 127).mean() < 0.95, symbol  # ink, and not a filled box
        masks[symbol] = (mask.shape, mask.tobytes())
    # A font lacking a glyph draws the same placeholder box for each: they would coincide.
    assert len(set(masks.values())) == len(masks)


def test_bar_glyphs_are_the_font_stem_with_or_without_serifs():
    from plate_ocr_pipeline.synthetic.fonts import bar_glyph

    font = serial_font_specs()[0]
    bare, serif = bar_glyph(font, serifs=False), bar_glyph(font, serifs=True)
    assert bare.shape[0] == serif.shape[0]
    assert (bare == 255).all()  # a solid bar: how US plates draw 1
    assert serif.shape[1] > 2 * bare.shape[1]  # cross-bars wider than the stem
    assert (serif[0] == 255).all() and (serif[-1] == 255).all()
    middle = serif[serif.shape[0] // 2]
    assert (middle == 255).sum() == bare.shape[1]  # only the stem between the serifs


def test_plate_w_has_a_full_height_middle_apex_and_upright_outer_strokes():
    from plate_ocr_pipeline.synthetic.fonts import bar_glyph, plate_w_glyph

    for font in serial_font_specs()[:6]:
        w, bar = plate_w_glyph(font), bar_glyph(font, serifs=False)
        height, width = w.shape
        assert height == bar.shape[0]  # as tall as the font's I
        top, bottom = w[0] > 127, w[-1] > 127
        middle = slice(int(0.4 * width), int(0.6 * width) + 1)
        assert top[middle].any()  # the apex reaches the top row
        assert not bottom[middle].any()  # and the middle of the bottom row is open
        assert top[: width // 6].any() and top[-(width // 6) :].any()  # outer strokes start there


def test_flipped_m_w_is_the_fonts_m_upside_down_with_upright_stems():
    from plate_ocr_pipeline.synthetic.fonts import flipped_m_glyph, glyph_mask

    for font in serial_font_specs():
        w, m = flipped_m_glyph(font), glyph_mask(font, "M")
        np.testing.assert_array_equal(w, m[::-1])
        ink = w > 127
        edge = max(1, int(0.15 * w.shape[1]))
        # Upright stems: ink near both edges on (nearly) every row, as on real plates and
        # unlike the font's own W, whose outer strokes splay away from the edges.
        assert ink[:, :edge].any(axis=1).mean() > 0.95
        assert ink[:, -edge:].any(axis=1).mean() > 0.95


def test_plate_q_is_the_fonts_zero_with_a_tail_in_its_lower_right():
    from plate_ocr_pipeline.synthetic.fonts import glyph_mask, plate_q_glyph

    for font in serial_font_specs()[:6]:
        zero, q = glyph_mask(font, "0"), plate_q_glyph(font)
        assert q.shape == zero.shape  # the tail stays inside the 0's box
        added = (q > 127) & ~(zero > 127)
        rows, cols = np.nonzero(added)
        assert len(rows) > 0.02 * zero.size  # a visible tail
        height, width = zero.shape
        assert rows.min() >= 0.5 * height and cols.min() >= 0.35 * width  # only lower right
        assert (q >= zero).all()  # the 0 itself is untouched


def test_glyph_variants_change_only_the_chosen_characters():
    from plate_ocr_pipeline.synthetic.options import SerialGlyphs

    def draw(groups, glyphs):
        return render_plate(np.random.default_rng(5), "us", groups=groups, glyphs=glyphs)[0]

    plain = draw(["II1", "234"], None)
    np.testing.assert_array_equal(plain, draw(["II1", "234"], SerialGlyphs()))
    assert not np.array_equal(plain, draw(["II1", "234"], SerialGlyphs(serif_i=True)))
    np.testing.assert_array_equal(plain, draw(["II1", "234"], SerialGlyphs(plate_w=True)))
    assert not np.array_equal(draw(["WW1"], None), draw(["WW1"], SerialGlyphs(plate_w=True)))
    np.testing.assert_array_equal(plain, draw(["II1", "234"], SerialGlyphs(plate_q=True)))
    np.testing.assert_array_equal(plain, draw(["II1", "234"], SerialGlyphs(flipped_m_w=True)))
    flipped = draw(["WW1"], SerialGlyphs(flipped_m_w=True))
    assert not np.array_equal(draw(["WW1"], None), flipped)
    # The flipped M wins over the other plate W when both are drawn.
    np.testing.assert_array_equal(
        flipped, draw(["WW1"], SerialGlyphs(plate_w=True, flipped_m_w=True))
    )
    assert not np.array_equal(draw(["QQ1"], None), draw(["QQ1"], SerialGlyphs(plate_q=True)))
    # A serial with neither I nor 1 looks the same whatever the variants.
    np.testing.assert_array_equal(
        draw(["ABC", "234"], None), draw(["ABC", "234"], SerialGlyphs(True, True))
    )


def test_us_plates_draw_their_o_as_the_0_they_are_labelled():
    """US labels write O as 0 and US fonts draw the two alike: with ``zero_for_o`` a US plate
    draws its O as its 0, so a round O is never labelled 0. Other regions keep their O."""
    from plate_ocr_pipeline.synthetic.options import SerialGlyphs

    def draw(region, groups, glyphs):
        return render_plate(np.random.default_rng(5), region, groups=groups, glyphs=glyphs)

    zero = SerialGlyphs(zero_for_o=True)
    with_o, label = draw("us", ["ABO", "120"], zero)
    with_zero, zero_label = draw("us", ["AB0", "120"], zero)
    assert label == zero_label == "AB0120"
    np.testing.assert_array_equal(with_o, with_zero)
    assert not np.array_equal(draw("us", ["ABO", "120"], SerialGlyphs())[0], with_zero)
    letter, letter_label = draw("ar-old", ["ABO", "120"], zero)
    assert letter_label == "ABO120"
    assert not np.array_equal(letter, draw("ar-old", ["AB0", "120"], zero)[0])


def test_regions_with_one_glyph_for_o_and_0_draw_both_alike_and_label_each_by_its_slot():
    """Old Argentine plates draw O as their 0, old Brazilian ones 0 as their O, and their
    formats fix letter and digit slots: with ``shared_o_zero`` naming the region and the glyph,
    both are drawn alike and the label keeps what the slot holds; plates without an O or a 0,
    and regions not named, stay as they were."""
    from plate_ocr_pipeline.synthetic.generate import PlateDrawing, PlatePlan, render_planned
    from plate_ocr_pipeline.synthetic.options import SerialGlyphs
    from plate_ocr_pipeline.synthetic.params import SynthesizeParams

    def draw(region, groups, glyphs):
        return render_plate(np.random.default_rng(5), region, groups=groups, glyphs=glyphs)

    as_zero, as_o = SerialGlyphs(o_zero_glyph="0"), SerialGlyphs(o_zero_glyph="O")
    o_plate, label = draw("ar-old", ["OOH", "058"], as_zero)
    assert label == "OOH058"
    # The same pixels as a plate printing 0 in those slots: only the label tells them apart.
    np.testing.assert_array_equal(o_plate, draw("ar-old", ["00H", "058"], SerialGlyphs())[0])
    assert not np.array_equal(o_plate, draw("ar-old", ["OOH", "058"], SerialGlyphs())[0])
    np.testing.assert_array_equal(
        draw("ar-old", ["ABH", "158"], as_zero)[0], draw("ar-old", ["ABH", "158"], None)[0]
    )
    zero_plate, label = draw("br-old", ["ABO", "1020"], as_o)
    assert label == "ABO1020"
    np.testing.assert_array_equal(zero_plate, draw("br-old", ["ABO", "1O2O"], SerialGlyphs())[0])
    assert not np.array_equal(zero_plate, draw("br-old", ["ABO", "1020"], SerialGlyphs())[0])

    section = {"shared_o_zero": {"uk": "0", "br-old": "O", "ar-old": "0"}}
    drawing = SynthesizeParams(serial_glyphs=section).drawing()
    assert drawing.shared_o_zero == (("ar-old", "0"), ("br-old", "O"), ("uk", "0"))
    assert hash(drawing) == hash(PlateDrawing.of(section))
    for region, groups, changed in (
        ("ar-old", ("OOH", "158"), True),
        ("ar-old", ("ABH", "158"), False),
        ("br-old", ("ABC", "1020"), True),
        ("eu-de", ("B", "OX", "103"), False),
    ):
        plan = PlatePlan(0, region, groups, "".join(groups), 240, 80)
        plain = render_planned(plan, 4, drawing=PlateDrawing.of({}))
        assert changed != np.array_equal(plain, render_planned(plan, 4, drawing=drawing))
    assert SynthesizeParams(serial_glyphs=section).fingerprint() != SynthesizeParams().fingerprint()
    with pytest.raises(ValueError, match="shared_o_zero: unknown region.*ar_old"):
        SynthesizeParams(serial_glyphs={"shared_o_zero": {"ar_old": "0"}})
    with pytest.raises(ValueError, match=r"\['us'\] label O as 0"):
        SynthesizeParams(serial_glyphs={"shared_o_zero": {"us": "0"}})
    with pytest.raises(ValueError, match="shared_o_zero"):
        SynthesizeParams(serial_glyphs={"shared_o_zero": {"ar-old": "o"}})


def test_glyph_variants_may_be_kept_to_the_families_whose_fonts_draw_them():
    """``serial_glyphs.families: [us]`` keeps the US plate-font variants (serif I, bare 1,
    flipped-M W, ...) off other plates, which then draw their font's own glyphs; US plates
    render as before. A family that does not exist fails when the parameters are read."""
    import hashlib
    import json

    from plate_ocr_pipeline.synthetic.generate import PlateDrawing, render_planned
    from plate_ocr_pipeline.synthetic.params import SynthesizeParams
    from plate_ocr_pipeline.synthetic.renderer import RENDERER_VERSION

    always = dict.fromkeys(
        ["serif_i", "bar_one", "plate_w", "plate_q", "serif_font", "flipped_m_w"], 1.0
    )
    never = dict.fromkeys(always, 0.0)
    # Equal drawings are equal and hash alike: one can key a cache.
    assert PlateDrawing.of(always) == PlateDrawing.of(dict(always))
    assert hash(PlateDrawing.of(always)) == hash(PlateDrawing.of(dict(always)))
    assert PlateDrawing.of(always) != PlateDrawing.of(never)
    plans = plan_plates(12, {"us": 1, "ar-old": 1, "eu-de": 1}, seed=4)
    assert {plan.region for plan in plans} == {"us", "ar-old", "eu-de"}
    for plan in plans:
        us_only = render_planned(
            plan, 4, drawing=PlateDrawing.of(glyph_odds={**always, "families": ["us"]})
        )
        expected = always if plan.region == "us" else never
        np.testing.assert_array_equal(
            us_only, render_planned(plan, 4, drawing=PlateDrawing.of(glyph_odds=expected))
        )
    # Plates that show a changed character differ from their every-family rendering.
    shown = [p for p in plans if p.region != "us" and set("".join(p.groups)) & set("I1WQ")]
    assert shown and all(
        not np.array_equal(
            render_planned(
                p, 4, drawing=PlateDrawing.of(glyph_odds={**always, "families": ["us"]})
            ),
            render_planned(p, 4, drawing=PlateDrawing.of(glyph_odds=always)),
        )
        for p in shown
    )
    # The US labelling rule is no glyph variant: a US plate left out still draws O as its 0.
    us_plan = next(plan for plan in plans if plan.region == "us")
    np.testing.assert_array_equal(
        render_planned(
            us_plan,
            4,
            drawing=PlateDrawing.of(glyph_odds={**never, "zero_for_o": 1.0, "families": []}),
        ),
        render_planned(
            us_plan, 4, drawing=PlateDrawing.of(glyph_odds={**never, "zero_for_o": 1.0})
        ),
    )
    everywhere = SynthesizeParams()
    assert everywhere.serial_glyphs.families is None
    # null leaves the fingerprint of the sets rendered before the option was there.
    dumped = everywhere.model_dump(
        mode="json", exclude={"num_workers", "gallery_per_region", "render"}
    )
    del dumped["serial_glyphs"]["families"]
    del dumped["serial_glyphs"]["shared_o_zero"]  # the same for an empty shared_o_zero
    del dumped["ar_old"]  # the same for synthesize.ar_old's defaults
    del dumped["small_crops"]  # and synthesize.small_crops'
    before = json.dumps(
        {"synthesize": dumped, "plate": {}, "renderer": RENDERER_VERSION}, sort_keys=True
    )
    assert everywhere.fingerprint() == hashlib.sha256(before.encode()).hexdigest()
    us_only_params = SynthesizeParams(serial_glyphs={"families": ["us"]})
    assert us_only_params.fingerprint() != everywhere.fingerprint()
    assert (
        SynthesizeParams(serial_glyphs={"families": ["us", "eu", "us"]}).fingerprint()
        == SynthesizeParams(serial_glyphs={"families": ["eu", "us"]}).fingerprint()
    )
    with pytest.raises(ValueError, match="usa.*not regions"):
        SynthesizeParams(serial_glyphs={"families": ["usa"]})


def test_glyph_odds_use_their_own_stream_and_a_bare_one_needs_a_serif_i():
    from plate_ocr_pipeline.synthetic.generate import PlateDrawing, render_planned
    from plate_ocr_pipeline.synthetic.options import SerialGlyphs

    # Every glyph variant but the serif face always or never: only plates that show one of
    # the characters they change look different (no stacked letters, which may show them too).
    never = dict.fromkeys(
        ["serif_i", "bar_one", "plate_w", "plate_q", "flipped_m_w", "zero_for_o"], 0.0
    )
    always = dict.fromkeys(never, 1.0)
    unstacked = {"stacked_odds": 0.0, "stacked_odds_short": 0.0}
    plans = plan_plates(30, {"us": 1}, seed=3)
    changed = {
        "".join(plan.groups)
        for plan in plans
        if not np.array_equal(
            render_planned(
                plan,
                3,
                drawing=PlateDrawing.of(
                    glyph_odds={**never, "serif_font": 0.0}, us_layout=unstacked
                ),
            ),
            render_planned(
                plan,
                3,
                drawing=PlateDrawing.of(
                    glyph_odds={**always, "serif_font": 0.0}, us_layout=unstacked
                ),
            ),
        )
    }
    assert changed and all(set(printed) & set("I1WQO") for printed in changed)
    assert len(changed) < len(plans)
    draws = [SerialGlyphs.draw(np.random.default_rng(i), 0.5, 0.5, 0.5, 0.5) for i in range(200)]
    assert all(g.serif_i for g in draws if g.bar_one)
    assert 60 < sum(g.serif_i for g in draws) < 140
    assert 20 < sum(g.bar_one for g in draws) < 80
    assert 60 < sum(g.plate_w for g in draws) < 140
    assert 60 < sum(g.plate_q for g in draws) < 140
    # Changing the odds of one variant leaves the draws of the others as they were.
    half = dict.fromkeys(
        ["serif_i", "bar_one", "plate_w", "plate_q", "serif_font", "flipped_m_w"], 0.5
    )
    halves = [SerialGlyphs.draw(np.random.default_rng(i), **half) for i in range(200)]
    assert 60 < sum(g.serif_font for g in halves) < 140
    assert 60 < sum(g.flipped_m_w for g in halves) < 140
    for variant in ("serif_i", "plate_w", "plate_q", "serif_font", "flipped_m_w", "zero_for_o"):
        for odds in (0.0, 1.0):
            changed = [
                SerialGlyphs.draw(np.random.default_rng(i), **{**half, variant: odds})
                for i in range(200)
            ]
            assert all(getattr(g, variant) == bool(odds) for g in changed)
            others = set(half) - {variant, "bar_one"}  # a bare 1 needs a serif I
            for other in others:
                assert [getattr(g, other) for g in changed] == [
                    getattr(g, other) for g in halves
                ], (variant, odds, other)


def test_serif_font_variant_draws_the_serial_in_a_serif_face_and_nothing_else_changes():
    from dataclasses import replace

    from plate_ocr_pipeline.synthetic.generate import PlateDrawing, render_planned
    from plate_ocr_pipeline.synthetic.options import SerialGlyphs, get_resources
    from plate_ocr_pipeline.synthetic.params import SerialGlyphOdds
    from plate_ocr_pipeline.synthetic.serial import serial_style

    resources = get_resources()
    serif_paths = {spec.path for spec in resources.serif_serial_fonts}
    assert len(serif_paths) >= 2  # matplotlib's DejaVu Serif and STIX faces
    assert not serif_paths & {spec.path for spec in resources.serial_fonts}
    with_variant = replace(resources, glyphs=SerialGlyphs(serif_font=True))
    for seed in range(5):
        plain = serial_style(np.random.default_rng(seed), resources, 30.0, "space", (0, 0, 0))
        serif = serial_style(np.random.default_rng(seed), with_variant, 30.0, "space", (0, 0, 0))
        assert plain.font.path not in serif_paths
        assert serif.font.path in serif_paths
    plans = plan_plates(4, {"us": 1}, seed=6)
    off, on = SerialGlyphOdds(serif_font=0).model_dump(), SerialGlyphOdds(serif_font=1).model_dump()
    for plan in plans:
        plain = render_planned(plan, 6, drawing=PlateDrawing.of(glyph_odds=off))
        assert not np.array_equal(
            plain, render_planned(plan, 6, drawing=PlateDrawing.of(glyph_odds=on))
        )


def test_default_us_layout_draws_the_same_plates_and_wider_ranges_change_them():
    from plate_ocr_pipeline.synthetic.generate import PlateDrawing, render_planned
    from plate_ocr_pipeline.synthetic.params import UsLayoutRanges

    defaults = UsLayoutRanges().model_dump()
    wide = {**defaults, "serial_height": [0.6, 0.62], "serial_span": [0.97, 0.98]}
    plans = plan_plates(6, {"us": 1}, seed=4)
    for plan in plans:
        plain = render_planned(plan, 4)
        np.testing.assert_array_equal(
            plain, render_planned(plan, 4, drawing=PlateDrawing.of(us_layout=defaults))
        )
        assert not np.array_equal(
            plain, render_planned(plan, 4, drawing=PlateDrawing.of(us_layout=wide))
        )


def test_ar_old_options_change_only_old_argentine_plates_and_only_when_asked():
    from plate_ocr_pipeline.synthetic.generate import PlateDrawing, render_planned
    from plate_ocr_pipeline.synthetic.options import ArOldLook
    from plate_ocr_pipeline.synthetic.params import ArOldDrawing, SynthesizeParams

    # The defaults are the ranges the renderer drew these plates with before the section, with
    # rim and bloom off: then it takes no extra random draws and every plate keeps its pixels.
    assert ArOldLook() == ArOldLook((0.74, 0.9), (0.7, 0.95), 0.0, 0.0)
    defaults = ArOldDrawing().model_dump()
    rim = {**defaults, "rim_odds": 1.0}
    bloom = {**defaults, "bloom_odds": 1.0}
    short = {**defaults, "serial_height": [0.5, 0.55]}
    worn = {**defaults, "wear_odds": 1.0}
    strayed = {**defaults, "char_jitter": 0.05}
    stroked = {**defaults, "stroke_face_odds": 1.0}
    for plan in plan_plates(4, {"ar-old": 1}, seed=9):
        plain = render_planned(plan, 9)
        for changed in (rim, bloom, short, worn, strayed, stroked):
            assert not np.array_equal(
                plain, render_planned(plan, 9, drawing=PlateDrawing.of(ar_old=changed))
            )
    for plan in plan_plates(6, {"ar": 1, "us": 1, "ar-old-moto": 1}, seed=9):
        np.testing.assert_array_equal(
            render_planned(plan, 9),
            render_planned(
                plan,
                9,
                drawing=PlateDrawing.of(
                    ar_old={
                        **rim,
                        "bloom_odds": 1.0,
                        "wear_odds": 1.0,
                        "char_jitter": 0.05,
                        "stroke_face_odds": 1.0,
                    }
                ),
            ),
        )
    # Bloom on a black field with one white bar: the field next to the bar turns grey, the far
    # field stays black, and no pixel gets darker.
    from plate_ocr_pipeline.synthetic.plates_south_america import _bloom

    field = np.zeros((100, 200, 3), np.float32)
    field[40:60, 90:110] = 240.0
    glowing = field.copy()
    _bloom(np.random.default_rng(0), glowing)
    assert (glowing >= field).all()
    assert glowing[50, 111, 0] > 5 and glowing[50, 5, 0] < 1
    # A set drawn with rim or bloom never passes for one drawn without (and the reverse).
    base = SynthesizeParams(num_plates=10)
    for changed in (rim, worn, strayed, stroked):
        assert base.fingerprint() != SynthesizeParams(num_plates=10, ar_old=changed).fingerprint()


def test_worn_old_argentine_colours_fade_and_keep_their_contrast():
    from plate_ocr_pipeline.synthetic.plates_south_america import _chipped, _faded

    rng = np.random.default_rng(3)
    black, white = np.full(3, 22.0, np.float32), np.full(3, 235.0, np.float32)
    for _ in range(200):
        field, ink = _faded(rng, black, white)
        assert field.mean() > 22 + 10 and (ink <= white).all()
        assert (ink - field >= 60 - 1e-3).all()
    # Chipped paint bares light metal in blotches inside the field's mask: some of a black
    # field turns light grey, most of it stays dark, and nothing outside the mask changes.
    img = np.full((60, 200, 3), 22.0, np.float32)
    field = np.zeros((60, 200), np.float32)
    field[10:50, 10:190] = 1.0
    _chipped(np.random.default_rng(4), img, field)
    inside = img[10:50, 10:190, 0]
    assert 0.003 < (inside > 100).mean() < 0.15 and (inside < 40).mean() > 0.7
    outside = np.ones((60, 200), bool)
    outside[10:50, 10:190] = False
    assert (img[outside] == 22.0).all()


def test_worn_old_argentine_plates_have_a_lighter_field():
    from plate_ocr_pipeline.synthetic.options import ArOldLook, get_resources
    from plate_ocr_pipeline.synthetic.plates_south_america import old_plate

    res = get_resources()
    worn_res = replace(res, ar_old=ArOldLook(wear_odds=1.0))

    def darkest(resources, seed: int) -> float:
        # the black field is the plate's darkest third
        img = old_plate(np.random.default_rng(seed), ["ABC", "123"], "ar-old", resources)
        return float(np.quantile(img.mean(axis=2), 0.3))

    clean = [darkest(res, seed) for seed in range(6)]
    worn = [darkest(worn_res, seed) for seed in range(6)]
    assert max(clean) < 45 and min(worn) > max(clean)


def test_strayed_characters_leave_the_line_and_stay_in_the_text_box():
    from plate_ocr_pipeline.synthetic.options import get_resources
    from plate_ocr_pipeline.synthetic.serial import TEXT_BOXES, draw_serial, serial_style

    res = get_resources()

    def drawn(stray: float) -> np.ndarray:
        rng = np.random.default_rng(5)
        style = serial_style(rng, res, 40.0, "space", (255, 255, 255))
        style = replace(style, bold=0, char_jitter=stray)
        img = np.zeros((100, 400, 3), np.float32)
        draw_serial(rng, img, ["HHH", "111"], style, (255, 255, 255), 200, 50, 380, False)
        return img[..., 0]

    def tops(img: np.ndarray) -> list[int]:
        # the first inked row of each character, left to right
        cols = np.flatnonzero((img > 128).any(axis=0))
        runs = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)
        return [int(np.flatnonzero((img[:, r] > 128).any(axis=1))[0]) for r in runs]

    line = drawn(0.0)
    strayed = drawn(0.08)
    assert len(set(tops(line))) == 1  # one baseline, one height: H and 1 start on one row
    assert len(set(tops(strayed))) > 2
    # The box holds every strayed character, wide ones at both ends included.
    for seed in range(8):
        rng = np.random.default_rng(seed)
        style = replace(serial_style(rng, res, 40.0, "space", (255, 255, 255)), char_jitter=0.1)
        img = np.zeros((100, 500, 3), np.float32)
        TEXT_BOXES.clear()
        draw_serial(rng, img, ["MWM", "WMW"], style, (255, 255, 255), 250, 50, 480, False)
        x0, y0, x1, y1 = TEXT_BOXES[-1]
        rows, cols = np.nonzero(img[..., 0] > 0.5)
        assert y0 - 1 <= rows.min() and rows.max() <= y1 + 1
        assert x0 - 1 <= cols.min() and cols.max() <= x1 + 1


def test_ar_old_options_reach_the_worker_processes():
    from plate_ocr_pipeline.synthetic.generate import PlateDrawing, iter_rendered, render_planned

    look = {"rim_odds": 1.0, "bloom_odds": 1.0}
    plans = plan_plates(32, {"ar-old": 1}, seed=12, width_range=(96, 96), height_range=(48, 48))
    rendered = iter_rendered(
        plans, 12, num_workers=2, progress=False, drawing=PlateDrawing.of(ar_old=look)
    )
    pooled = {plan.index: image for plan, image in rendered}
    assert len(pooled) == 32
    for plan in plans[:6]:
        np.testing.assert_array_equal(
            pooled[plan.index], render_planned(plan, 12, drawing=PlateDrawing.of(ar_old=look))
        )
        assert not np.array_equal(pooled[plan.index], render_planned(plan, 12))


def test_stacked_letters_odds_for_short_serials_apply_to_short_serials_only():
    from plate_ocr_pipeline.synthetic.options import UsLayout

    def draw(groups, layout):
        return render_plate(np.random.default_rng(11), "us", groups=groups, us_layout=layout)[0]

    never = UsLayout(stacked_odds=0.0, stacked_odds_short=0.0)
    short_always = UsLayout(stacked_odds=0.0, stacked_odds_short=1.0)
    assert not np.array_equal(draw(["2368"], never), draw(["2368"], short_always))
    np.testing.assert_array_equal(draw(["ABC", "1234"], never), draw(["ABC", "1234"], short_always))


def test_larger_symbol_separators_change_only_plates_that_have_one():
    from pydantic import ValidationError

    from plate_ocr_pipeline.synthetic.generate import PlateDrawing, render_planned
    from plate_ocr_pipeline.synthetic.params import UsLayoutRanges

    tall = {**UsLayoutRanges().model_dump(), "symbol_scale": [1.4, 1.5]}
    plans = plan_plates(60, {"us": 1}, seed=11)
    changed = sum(
        not np.array_equal(
            render_planned(plan, 11),
            render_planned(plan, 11, drawing=PlateDrawing.of(us_layout=tall)),
        )
        for plan in plans
    )
    assert 0 < changed < 0.25 * len(plans)  # a pictogram separator is on about 1 plate in 10
    with pytest.raises(ValidationError, match="symbol_scale"):
        UsLayoutRanges(symbol_scale=(0.2, 3.0))


def _plans_drawn_differently(layout_change: dict, seed: int, count: int) -> list:
    """The US plates that a ``us_layout`` change renders differently from the defaults."""
    from plate_ocr_pipeline.synthetic.generate import PlateDrawing, render_planned
    from plate_ocr_pipeline.synthetic.params import UsLayoutRanges

    defaults = UsLayoutRanges().model_dump()
    changed = {**defaults, **layout_change}
    return [
        plan
        for plan in plan_plates(count, {"us": 1}, seed=seed)
        if not np.array_equal(
            render_planned(plan, seed, drawing=PlateDrawing.of(us_layout=defaults)),
            render_planned(plan, seed, drawing=PlateDrawing.of(us_layout=changed)),
        )
    ]


def _lengths_drawn_differently(layout_change: dict, seed: int, count: int = 80) -> set[int]:
    """Label lengths of the US plates that a ``us_layout`` change renders differently."""
    return {
        len("".join(plan.groups)) for plan in _plans_drawn_differently(layout_change, seed, count)
    }


@pytest.mark.parametrize(
    "layout_change",
    [{"short_spacing": [0.3, 0.45]}, {"short_height": [0.6, 0.7]}, {"short_xscale": [1.5, 1.8]}],
)
def test_short_serial_layouts_change_only_plates_of_at_most_five_characters(layout_change):
    changed = _lengths_drawn_differently(layout_change, seed=13)
    assert changed and max(changed) <= 5


def test_wide_long_serials_change_only_plates_of_six_characters_or_more():
    changed = _lengths_drawn_differently({"serial_xscale": [1.3, 1.6]}, seed=14, count=60)
    assert changed and min(changed) >= 6


def test_stacked_gap_moves_only_plates_with_stacked_letters():
    changed = _plans_drawn_differently({"stacked_gap": [0.005, 0.01]}, seed=15, count=40)
    assert 0 < len(changed) < 40 / 2  # stacked letters stand beside about 1 serial in 5


def test_serial_layout_ranges_are_checked():
    from pydantic import ValidationError

    from plate_ocr_pipeline.synthetic.options import UsLayout
    from plate_ocr_pipeline.synthetic.params import UsLayoutRanges

    assert UsLayoutRanges().model_dump() == asdict(UsLayout())  # the renderer's defaults
    for bad in ({"short_xscale": (1.0, 2.5)}, {"short_height": (0.5, 1.5)},
                {"serial_xscale": (0.3, 1.0)}, {"stacked_gap": (0.0, 0.02)},
                {"side_picture_width": (0.2, 1.5)}, {"side_picture_odds": 2.0}):  # fmt: skip
        with pytest.raises(ValidationError, match=next(iter(bad))):
            UsLayoutRanges(**bad)


def test_side_picture_stays_between_the_serial_and_the_plate_side():
    from plate_ocr_pipeline.synthetic.plates_us import draw_side_picture

    for seed in range(6):
        for on_left in (True, False):
            img = np.full((160, 320, 3), 240, np.float32)  # the renderer draws in float
            draw_side_picture(np.random.default_rng(seed), img, 100.0, on_left, (20, 20, 20))
            drawn = (img != 240).any(axis=(0, 2))
            serial_side = drawn[100:] if on_left else drawn[:101]
            picture_side = drawn[:100] if on_left else drawn[101:]
            assert not serial_side.any()
            assert picture_side.sum() > 20  # a big picture, not a speck


def test_side_picture_odds_give_a_picture_only_where_the_side_is_free():
    from plate_ocr_pipeline.synthetic.generate import PlateDrawing, render_planned
    from plate_ocr_pipeline.synthetic.params import UsLayoutRanges

    never = {**UsLayoutRanges().model_dump(), "side_picture_odds": 0.0}
    always = {**never, "side_picture_odds": 1.0}
    plans = plan_plates(20, {"us": 1}, seed=21)
    changed = sum(
        not np.array_equal(
            render_planned(plan, 21, drawing=PlateDrawing.of(us_layout=never)),
            render_planned(plan, 21, drawing=PlateDrawing.of(us_layout=always)),
        )
        for plan in plans
    )
    # Plates with stacked letters or a side logo keep their layout: about 4 in 10.
    assert len(plans) / 3 <= changed < len(plans)


def test_small_crops_options_change_only_the_far_plates_and_reach_the_workers():
    from plate_ocr_pipeline.synthetic.generate import PlateDrawing, iter_rendered, render_planned
    from plate_ocr_pipeline.synthetic.options import SmallCrops, draw_small_crop
    from plate_ocr_pipeline.synthetic.params import SynthesizeParams

    # The draws are those of the renderer before the option: integers(16, 31), then the odds.
    for seed in range(50):
        legacy = np.random.default_rng(seed)
        expected = (int(legacy.integers(16, 31)), bool(legacy.random() < 0.08))
        assert draw_small_crop(np.random.default_rng(seed), SmallCrops()) == expected
    # One height still takes two draws: no other plate's stream moves.
    one, two = np.random.default_rng(1), np.random.default_rng(1)
    draw_small_crop(one, SmallCrops(height=(20, 20)))
    draw_small_crop(two, SmallCrops())
    assert one.random() == two.random()

    plans = plan_plates(48, {"eu-de": 1, "us": 1}, seed=5, width_range=(160, 160),
                        height_range=(80, 80))  # fmt: skip

    def rendered(small: dict | None) -> list[np.ndarray]:
        drawing = PlateDrawing.of(small_crops=small)
        return [render_planned(plan, 5, drawing=drawing) for plan in plans]

    def same(a: list[np.ndarray], b: list[np.ndarray]) -> int:
        return sum(np.array_equal(x, y) for x, y in zip(a, b, strict=True))

    default = rendered(None)
    # More far plates: the plates far under neither odds keep their pixels.
    assert 30 <= same(rendered({"odds": 0.2}), default) < 48
    # Another height: only the default's own far plates change.
    assert 40 <= same(rendered({"height": [20, 20]}), default) < 48
    far = PlateDrawing.of(small_crops={"odds": 1.0, "height": [12, 12]})
    pooled = dict(
        iter_rendered(plans, 5, num_workers=2, progress=False, chunksize=4, drawing=far)
    )  # 12 chunks over two processes
    for plan, image in zip(plans, rendered({"odds": 1.0, "height": [12, 12]}), strict=True):
        np.testing.assert_array_equal(pooled[plan], image)
    assert same([pooled[plan] for plan in plans], default) == 0
    base = SynthesizeParams(num_plates=10)
    assert (
        base.fingerprint()
        == SynthesizeParams(
            num_plates=10, small_crops={"odds": 0.08, "height": [16, 30]}
        ).fingerprint()
    )
    assert (
        base.fingerprint()
        != SynthesizeParams(num_plates=10, small_crops={"odds": 0.2}).fingerprint()
    )


def test_rendering_workers_default_to_the_cores_this_process_may_use(monkeypatch):
    from plate_ocr_pipeline.core import cpu
    from plate_ocr_pipeline.synthetic.generate import resolve_workers

    monkeypatch.setattr(cpu.os, "sched_getaffinity", lambda pid: {1, 3}, raising=False)
    monkeypatch.setattr(cpu, "cgroup_cpu_quota", lambda: None)
    assert resolve_workers(None) == 2 and resolve_workers(0) == 2
    assert resolve_workers(5) == 5
