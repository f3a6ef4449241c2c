"""Synthetic regions: every country renders, two-row plates, tight and small crops, weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from plate_ocr_pipeline.synthetic import (
    DEFAULT_REGION_WEIGHTS,
    REGION_FORMATS,
    REGIONS,
    plan_plates,
    plates_south_america,
    render_plate,
    renderer,
    sample_text,
    scene,
)
from plate_ocr_pipeline.synthetic.formats import ROW_BREAK, groups_to_label, split_rows
from plate_ocr_pipeline.synthetic.generate import _normalise_weights
from plate_ocr_pipeline.synthetic.options import SmallCrops
from plate_ocr_pipeline.synthetic.serial import serial_style

TWO_ROW = [r for r in REGIONS if REGION_FORMATS[r].two_row]
CONF = Path(__file__).resolve().parents[1] / "conf" / "base" / "parameters_synthesize.yml"


def test_the_region_list_covers_many_countries_and_two_row_plates():
    eu_one_row = [r for r in REGIONS if REGION_FORMATS[r].family == "eu"]
    assert len(eu_one_row) >= 15
    assert {"ar-moto", "br-moto", "ar-old-moto", "br-old-moto"} <= set(TWO_ROW)
    assert {"eu-de-2row", "eu-fr-2row", "eu-it-2row", "eu-cz-2row", "eu-no-2row"} <= set(TWO_ROW)
    assert {"uy", "py"} <= set(REGIONS)


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("size", [(200, 80), (96, 40), (320, 160), (150, 120)])
def test_every_region_renders_at_several_sizes(region, size):
    width, height = size
    rng = np.random.default_rng([width, height, REGIONS.index(region)])
    image, label = render_plate(rng, region, width, height)
    assert image.shape == (height, width, 3) and image.dtype == np.uint8
    assert REGION_FORMATS[region].label_regex().match(label), (region, label)
    assert image.std() > 5  # something is drawn


@pytest.mark.parametrize("region", TWO_ROW)
def test_two_row_label_is_the_top_row_then_the_bottom_row(region):
    rng = np.random.default_rng(4)
    for _ in range(30):
        groups, label = sample_text(rng, region)
        assert groups.count(ROW_BREAK) == 1
        top, bottom = split_rows(groups)
        assert label == "".join(top) + "".join(bottom)
        assert REGION_FORMATS[region].label_regex().match(label)
        _, rendered = render_plate(np.random.default_rng(1), region, 120, 96, groups=groups)
        assert rendered == label


def test_row_break_is_no_character():
    assert groups_to_label(["L", "123", "/", "ABC"], "ar-moto") == "L123ABC"
    assert split_rows(["AB", "/", "12", "345"]) == [["AB"], ["12", "345"]]
    assert not REGION_FORMATS["us"].two_row and REGION_FORMATS["br-moto"].two_row


def _ink_share(img: np.ndarray, y0: float, y1: float) -> float:
    """Share of pixels in rows [y0, y1) (of the plate height), middle 60% of the width, far
    from the plate's background colour (the median)."""
    grey = img.mean(axis=2)
    h, w = grey.shape
    part = grey[int(y0 * h) : int(y1 * h), int(0.2 * w) : int(0.8 * w)]
    return float((np.abs(part - np.median(grey)) > 60).mean())


@pytest.mark.parametrize("region", TWO_ROW)
def test_two_row_plates_have_ink_in_the_upper_and_lower_half(region):
    res = renderer.get_resources()
    for seed in range(5):
        rng = np.random.default_rng(seed)
        groups, _ = sample_text(rng, region)
        plate = renderer.render_flat_plate(rng, region, groups, res)
        h, w = plate.shape[:2]
        assert 1.1 <= w / h <= 1.7, (region, w, h)
        assert _ink_share(plate, 0.22, 0.5) > 0.04, (region, seed)
        assert _ink_share(plate, 0.55, 0.92) > 0.04, (region, seed)


def _changed_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fractional heights of the rows where two flat plates differ."""
    rows = np.nonzero(np.abs(a - b).max(axis=(1, 2)) > 30)[0]
    return rows / a.shape[0]


@pytest.mark.parametrize("region", TWO_ROW)
def test_top_row_characters_are_drawn_above_the_bottom_row(region):
    """Same seed, other characters on one row: only that row's half of the plate changes."""
    res = renderer.get_resources()
    groups, _ = sample_text(np.random.default_rng(2), region)
    top, bottom = split_rows(groups)

    def other(row: list[str]) -> list[str]:
        return ["".join("8" if c.isdigit() else "H" for c in g) for g in row]

    def flat(g: list[str]) -> np.ndarray:
        return renderer.render_flat_plate(np.random.default_rng(9), region, g, res)

    base = flat(groups)
    top_changed = _changed_rows(base, flat([*other(top), ROW_BREAK, *bottom]))
    bottom_changed = _changed_rows(base, flat([*top, ROW_BREAK, *other(bottom)]))
    assert top_changed.size and bottom_changed.size
    assert top_changed.max() < 0.55 and bottom_changed.min() > 0.45
    assert np.median(top_changed) < np.median(bottom_changed)


@pytest.mark.parametrize("region", [*TWO_ROW, "eu-at", "eu-ch", "eu-pt", "uy", "py", "br-old"])
def test_same_seed_same_bytes(region):
    a, la = render_plate(np.random.default_rng(11), region, 160, 110)
    b, lb = render_plate(np.random.default_rng(11), region, 160, 110)
    assert la == lb and a.tobytes() == b.tobytes()
    c, _ = render_plate(np.random.default_rng(12), region, 160, 110)
    assert c.tobytes() != a.tobytes()


def test_default_weights_cover_every_region_no_family_dominating():
    assert set(DEFAULT_REGION_WEIGHTS) == set(REGIONS)
    assert all(w > 0 for w in DEFAULT_REGION_WEIGHTS.values())
    total = sum(DEFAULT_REGION_WEIGHTS.values())  # shares: the weights are normalised
    assert DEFAULT_REGION_WEIGHTS["us"] / total < 0.5  # many countries, not mainly the US
    two_row = sum(DEFAULT_REGION_WEIGHTS[r] for r in TWO_ROW) / total
    assert 0.08 < two_row < 0.15
    regions, p = _normalise_weights({"us": 2, "ar-moto": 1, "eu-cz-2row": 1})
    assert regions == ["ar-moto", "eu-cz-2row", "us"] and np.allclose(p, [0.25, 0.25, 0.5])
    conf = yaml.safe_load(CONF.read_text())["synthesize"]["region_weights"]
    assert conf == DEFAULT_REGION_WEIGHTS


def test_two_row_crops_are_planned_near_square_within_the_ranges():
    weights = {r: 1.0 for r in TWO_ROW}
    plans = plan_plates(60, weights, seed=3, width_range=(200, 320), height_range=(60, 160))
    for p in plans:
        assert 200 <= p.width <= 320 and 60 <= p.height <= 160
        assert p.width / p.height < 2.1, p


def test_tight_windows_cut_at_most_a_sliver_of_the_characters():
    pw, ph = 470, 100
    box = (60.0, 15.0, 430.0, 85.0, 70.0)  # x0, y0, x1, y1, row height
    sliver = 0.04 * box[4]
    cut_in = 0
    for seed in range(400):
        u0, v0, u1, v1 = scene._tight_window(np.random.default_rng(seed), pw, ph, box)
        assert 0 <= u0 <= box[0] + sliver and pw >= u1 >= box[2] - sliver
        assert 0 <= v0 <= box[1] and ph >= v1 >= box[3]
        cut_in += u0 > box[0] or u1 < box[2]
    assert 0.2 * 400 < cut_in < 0.8 * 400  # some cut a sliver, most only the border


def test_text_box_is_inside_the_plate():
    res = renderer.get_resources()
    for region in REGIONS:
        rng = np.random.default_rng(5)
        groups, _ = sample_text(rng, region)
        plate, (x0, y0, x1, y1, row_h) = renderer._flat_plate(rng, region, groups, res)
        h, w = plate.shape[:2]
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and 0 < row_h <= y1 - y0 + 1e-3, region


def test_tight_and_small_crops_can_be_forced(monkeypatch):
    """Small crops come out at the requested size, with the detail of a 16-30 px crop."""

    def detail(img: np.ndarray) -> float:
        return float(np.abs(np.diff(img.astype(np.float32), axis=0)).mean())

    never, always = SmallCrops(odds=0.0), SmallCrops(odds=1.0)

    def draw(seed: int, small: SmallCrops) -> np.ndarray:
        return render_plate(np.random.default_rng(seed), "eu-de", 320, 80, small_crops=small)[0]

    normal = [draw(s, never) for s in range(6)]
    small = [draw(s, always) for s in range(6)]
    assert all(img.shape == (80, 320, 3) for img in small)
    assert np.mean([detail(i) for i in small]) < 0.7 * np.mean([detail(i) for i in normal])
    # Smaller still: less detail again.
    tiny = [draw(s, SmallCrops(odds=1.0, height=(12, 13))) for s in range(6)]
    assert np.mean([detail(i) for i in tiny]) < 0.85 * np.mean([detail(i) for i in small])
    monkeypatch.setattr(scene, "TIGHT_ODDS", 0.85)
    for s in range(6):
        image, label = render_plate(
            np.random.default_rng(s), "br-moto", 140, 120, small_crops=never
        )
        assert image.shape == (120, 140, 3)
        assert REGION_FORMATS["br-moto"].label_regex().match(label)


def test_br_old_draws_the_one_as_a_bare_bar():
    res = renderer.get_resources()
    style = serial_style(np.random.default_rng(0), res, 60.0, "dash", (0, 0, 0))
    assert plates_south_america._br_style(style).glyphs.bar_one


def test_ar_old_is_a_black_field_in_a_wide_light_frame():
    # Argentina 1995-2016: white characters on black, framed by a wide white band.
    res = renderer.get_resources()
    for seed in range(5):
        img = renderer.render_flat_plate(np.random.default_rng(seed), "ar-old", ["ABC", "123"], res)
        grey = img.mean(axis=2)
        H, W = grey.shape
        top_band, bottom_band = grey[: int(0.1 * H)], grey[int(0.92 * H) :]
        field = grey[int(0.3 * H) : int(0.75 * H), int(0.1 * W) : int(0.9 * W)]
        assert np.median(top_band) > 150 and np.median(bottom_band) > 150
        assert np.median(field) < 60  # mostly black field
        assert (field > 180).mean() > 0.1  # white characters on it


def test_the_renderer_version_is_part_of_the_set_fingerprint(monkeypatch):
    from plate_ocr_pipeline.synthetic import params as synth_params

    p = synth_params.SynthesizeParams()
    before = p.fingerprint()
    monkeypatch.setattr(synth_params, "RENDERER_VERSION", renderer.RENDERER_VERSION + 1)
    assert p.fingerprint() != before
