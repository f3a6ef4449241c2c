"""synthesize pipeline: nodes, parameter validation, catalog round trip (small n)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from pydantic import ValidationError

from plate_ocr_pipeline.pipelines.synthesize import create_pipeline
from plate_ocr_pipeline.pipelines.synthesize.nodes import (
    build_synthetic_annotations,
    plan_synthetic_plates,
)
from plate_ocr_pipeline.pipelines.synthesize.params import PARAMETER_SCHEMAS, SynthesizeParams
from plate_ocr_pipeline.synthetic import REGION_FORMATS
from tests.conftest import REPO_ROOT

PLATE = {
    "max_plate_slots": 10,
    "alphabet": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_",
    "pad_char": "_",
    "img_height": 64,
    "img_width": 128,
}


def _params(**over):
    p = {
        "num_plates": 10,
        "seed": 3,
        "num_workers": 1,
        "fonts_dir": None,
        "image_width": [160, 200],
        "image_height": [60, 100],
        "images_subdir": "images",
        "gallery_per_region": 2,
        "region_weights": {"us": 4, "eu-fr": 1, "ar": 1},
        "repeat_odds": 0.3,  # exercise the repeated-run path
        "serial_glyphs": {"serif_i": 0.5, "bar_one": 0.5},  # exercise the variant path
        "us_layout": {"serial_span": [0.85, 0.98], "stacked_odds_short": 0.5},
    }
    p.update(over)
    return p


def _catalog(root: Path, params: dict) -> DataCatalog:
    images = {
        "type": "partitions.PartitionedDataset",
        "path": str(root / "images"),
        "filename_suffix": ".png",
        "save_lazily": True,
        "dataset": {"type": "pillow.ImageDataset", "save_args": {"compress_level": 1}},
    }
    cfg = {
        "synthesize.synthetic_plate_images": images,
        "synthesize.synthetic_plate_images_on_disk": {
            "type": "plate_ocr_pipeline.datasets.OptionalDataset",
            "dataset": images,
            "default": {},
        },
        "synthesize.synthetic_annotations_previous": {
            "type": "plate_ocr_pipeline.datasets.OptionalDataset",
            "dataset": {
                "type": "pandas.CSVDataset",
                "filepath": str(root / "annotations.csv"),
                "load_args": {"dtype": str, "keep_default_na": False},
            },
            "default": None,
        },
        "synthetic_annotations": {
            "type": "pandas.CSVDataset",
            "filepath": str(root / "annotations.csv"),
            "save_args": {"index": False},
        },
        "synthesize.synthetic_gallery": {
            "type": "matplotlib.MatplotlibDataset",
            "filepath": str(root / "gallery.png"),
        },
        "synthetic_manifest": {"type": "json.JSONDataset", "filepath": str(root / "manifest.json")},
        "synthesize.synthetic_manifest_previous": {
            "type": "plate_ocr_pipeline.datasets.OptionalDataset",
            "dataset": {"type": "json.JSONDataset", "filepath": str(root / "manifest.json")},
            "default": {},
        },
    }
    catalog = DataCatalog.from_config(cfg)
    catalog["params:plate"] = PLATE
    catalog["params:synthesize"] = params
    return catalog


def _run(root: Path, params: dict) -> dict[str, str]:
    SequentialRunner().run(create_pipeline(), _catalog(root, params))
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "images").glob("*.png"))
    } | {"annotations.csv": hashlib.sha256((root / "annotations.csv").read_bytes()).hexdigest()}


def test_pipeline_writes_images_csv_gallery_deterministically(tmp_path):
    a = _run(tmp_path / "a", _params())
    b = _run(tmp_path / "b", _params(num_workers=2))
    assert a == b and len(a) == 11
    df = pd.read_csv(tmp_path / "a" / "annotations.csv", dtype=str, keep_default_na=False)
    assert list(df.columns) == ["image_path", "plate_text", "region"]
    from PIL import Image

    for row in df.itertuples():
        path = tmp_path / "a" / row.image_path  # relative to the CSV
        w, h = Image.open(path).size
        assert 160 <= w <= 200 and 60 <= h <= 100
        assert REGION_FORMATS[row.region].label_regex().match(row.plate_text)
    assert (tmp_path / "a" / "gallery.png").stat().st_size > 0


def test_rerun_with_the_same_parameters_renders_nothing(tmp_path):
    first = _run(tmp_path, _params())
    times = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "images").glob("*.png")}
    assert _run(tmp_path, _params(num_workers=2)) == first  # workers change no pixel
    assert times == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "images").glob("*.png")}
    other = _run(tmp_path, _params(seed=4))  # other parameters: rendered again
    assert other.keys() == first.keys() and other != first
    again = _run(tmp_path, _params(seed=4, render="always"))
    assert again == other
    assert times != {p.name: p.stat().st_mtime_ns for p in (tmp_path / "images").glob("*.png")}


def test_render_never_leaves_the_set_on_disk_as_it_is(tmp_path):
    """``render: never`` (one's own data, the finetune environment) renders nothing and
    rewrites nothing: on an empty folder it writes no image and an empty manifest (the next
    ``auto`` run renders), after a render it keeps the images, annotations and manifest."""
    empty = tmp_path / "empty"
    SequentialRunner().run(create_pipeline(), _catalog(empty, _params(render="never")))
    assert not list(empty.glob("images/*.png"))
    assert (empty / "manifest.json").read_text().strip() == "{}"
    assert (empty / "annotations.csv").read_text().strip() == "image_path,plate_text,region"
    assert len(_run(empty, _params())) == 11  # auto renders what never left out

    kept = tmp_path / "kept"
    first = _run(kept, _params())
    manifest = (kept / "manifest.json").read_text()
    (kept / "annotations.csv").write_text("image_path,plate_text,region\nmine/0.png,0123,us\n")
    assert _run(kept, _params(seed=9, render="never")) == first | {
        "annotations.csv": hashlib.sha256(
            b"image_path,plate_text,region\nmine/0.png,0123,us\n"
        ).hexdigest()
    }
    assert (kept / "manifest.json").read_text() == manifest


def test_a_manifest_with_missing_plates_is_rendered_again(tmp_path):
    first = _run(tmp_path, _params())
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "missing": 3}))
    next((tmp_path / "images").glob("*.png")).unlink()
    assert _run(tmp_path, _params()) == first


def test_annotations_node():
    plan = plan_synthetic_plates(_params(num_plates=5, region_weights={"us": 1}), PLATE)
    ann = build_synthetic_annotations(plan, _params(), None)
    expected = plan[["image_path", "plate_text", "region"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(ann, expected)
    assert len(ann) == 5
    assert ann["image_path"].tolist() == [f"images/{i:06d}.png" for i in range(5)]
    assert (ann["region"].str.startswith("us")).all()


def test_schema_exposed_and_defaults_valid():
    assert {"synthesize": SynthesizeParams} == PARAMETER_SCHEMAS
    defaults = SynthesizeParams()  # every field has a default that validates
    assert SynthesizeParams.model_validate(defaults.model_dump()) == defaults


def test_the_renderers_defaults_are_the_conf_base_recipe():
    """``generate_plates`` and ``render_planned`` without options render the shipped recipe's
    plates: their defaults are conf/base's plate settings (the run's seed and sizes aside)."""
    import inspect
    from dataclasses import asdict

    from kedro.config import OmegaConfigLoader

    from plate_ocr_pipeline.settings import CONFIG_LOADER_ARGS
    from plate_ocr_pipeline.synthetic import DEFAULT_REGION_WEIGHTS
    from plate_ocr_pipeline.synthetic.generate import (
        GLYPH_FAMILIES,
        REPEAT_ODDS,
        SHARED_O_ZERO,
        plan_plates,
        render_planned,
    )
    from plate_ocr_pipeline.synthetic.options import ArOldLook, SerialGlyphs, SmallCrops, UsLayout
    from tests.conftest import REPO_ROOT

    base = OmegaConfigLoader(str(REPO_ROOT / "conf"), **CONFIG_LOADER_ARGS)["parameters"]
    recipe = SynthesizeParams.model_validate(base["synthesize"])
    assert recipe.us_layout.model_dump() == asdict(UsLayout())
    assert recipe.ar_old.model_dump() == asdict(ArOldLook())
    assert recipe.small_crops.model_dump() == asdict(SmallCrops())
    odds = inspect.signature(SerialGlyphs.draw).parameters
    glyphs = recipe.serial_glyphs.model_dump()
    families = glyphs.pop("families")
    assert glyphs.pop("shared_o_zero") == SHARED_O_ZERO
    assert glyphs == {name: odds[name].default for name in glyphs}
    assert families == (None if GLYPH_FAMILIES is None else list(GLYPH_FAMILIES))
    assert recipe.repeat_odds == REPEAT_ODDS
    assert recipe.region_weights == DEFAULT_REGION_WEIGHTS
    # The schema's defaults are the recipe's too.
    assert recipe.model_dump() == SynthesizeParams().model_dump()
    # The section's drawing options, as the nodes hand them over, draw the default plates.
    drawing = recipe.drawing()
    assert (drawing.us_layout, drawing.ar_old, drawing.small_crops) == (
        UsLayout(),
        ArOldLook(),
        SmallCrops(),
    )
    for plan in plan_plates(6, {"us": 1, "ar-old": 1, "br": 1}, seed=3):
        np.testing.assert_array_equal(
            render_planned(plan, 3, drawing=drawing), render_planned(plan, 3)
        )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"region_weights": {"us": 1, "mars": 1}}, "region_weights"),
        ({"num_plates": 0}, "num_plates"),
        ({"fonts_dir": "/no/such/fonts"}, "fonts_dir"),
        ({"image_width": [300, 100]}, "image_width"),
        ({"num_platez": 5}, "num_platez"),
        ({"serial_glyphs": {"serif_i": 1.5}}, "serif_i"),
        ({"serial_glyphs": {"serif_eye": 0.5}}, "serif_eye"),
        ({"us_layout": {"serial_span": [0.98, 0.9]}}, "us_layout.serial_span"),
        ({"us_layout": {"serial_height": [0.4, 1.2]}}, "us_layout.serial_height"),
        ({"us_layout": {"stacked_odds_short": -0.1}}, "stacked_odds_short"),
        ({"repeat_odds": 1.2}, "repeat_odds"),
        ({"ar_old": {"rim_odds": 2}}, "rim_odds"),
        ({"ar_old": {"wear_odds": -0.1}}, "wear_odds"),
        ({"ar_old": {"char_jitter": 0.5}}, "char_jitter"),
        ({"ar_old": {"stroke_face_odds": 1.2}}, "stroke_face_odds"),
        ({"ar_old": {"xscale": [0.9, 0.7]}}, "ar_old.xscale"),
        ({"ar_old": {"serial_height": [0.5, 1.1]}}, "ar_old.serial_height"),
        ({"ar_old": {"rim": 0.5}}, "ar_old.rim"),
        ({"small_crops": {"odds": 1.5}}, "small_crops.odds"),
        ({"small_crops": {"height": [30, 16]}}, "small_crops.height"),
        ({"small_crops": {"height": [10, 16]}}, "small_crops.height"),
        ({"small_crops": {"height": [50, 60]}}, "small_crops.height"),  # image_height: 60-100
        ({"small_crops": {"size": 20}}, "small_crops.size"),
        ({"region_weights": {"us": float("nan")}}, "region_weights: weights must be finite"),
        ({"region_weights": {"us": 1, "uk": float("inf")}}, "region_weights: weights must be"),
        ({"region_weights": {"us": 0}}, "region_weights: weights must be"),
    ],
)
def test_invalid_params_fail_naming_the_key(override, message):
    with pytest.raises(ValidationError, match=message):
        SynthesizeParams.model_validate(_params(**override))


def test_first_node_validates_without_hook():
    with pytest.raises(ValidationError, match="num_plates"):
        plan_synthetic_plates(_params(num_plates=0), PLATE)
    with pytest.raises(ValidationError, match="region_weights"):
        plan_synthetic_plates(_params(region_weights={"pluto": 1}), PLATE)


def test_annotations_round_trip_through_ingest_with_zero_rejects(tmp_path, plate_params):
    from plate_ocr_pipeline.datasets import PlateAnnotationsDataset
    from plate_ocr_pipeline.pipelines.ingest.nodes import (
        normalise_plate_texts,
        validate_annotations,
    )

    _run(tmp_path, _params(num_plates=24, region_weights={"us": 3, "eu-de": 1, "uk": 1, "br": 1}))
    raw = PlateAnnotationsDataset(filepaths=str(tmp_path / "annotations.csv")).load()
    ingest = yaml.safe_load((REPO_ROOT / "conf/base/parameters_ingest.yml").read_text())["ingest"]
    valid, rejects = validate_annotations(normalise_plate_texts(raw, ingest), plate_params)
    assert rejects.empty, rejects.to_dict("records")
    written = pd.read_csv(tmp_path / "annotations.csv", dtype=str, keep_default_na=False)
    # Labels pass through ingest unchanged: they are already normalised.
    assert valid["plate_text"].tolist() == written["plate_text"].tolist()
