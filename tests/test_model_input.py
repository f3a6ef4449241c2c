"""The model input: every clean row becomes one preprocessed crop, or the build stops naming
the rows it could not read (none is dropped in silence)."""

import cv2
import numpy as np
import pandas as pd
import pytest

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.datasets.image_files_dataset import ImageFile
from plate_ocr_pipeline.training.model_input import build_model_input


def _table(tmp_path, names):
    rows = []
    for line, name in enumerate(names, start=2):
        image = np.full((30, 90, 3), 40 * line, np.uint8)
        cv2.imwrite(str(tmp_path / name), image)
        rows.append(
            {
                "source_file": str(tmp_path / "annotations.csv"),
                "source_row": line,
                "image_path": str(tmp_path / name),
                "plate_text": f"AB{line}",
                "split": "train",
                "region": "us",
            }
        )
    return pd.DataFrame(rows)


def test_every_clean_row_becomes_one_crop_with_its_labels(tmp_path, plate_params):
    config = PlateConfig.from_dict(plate_params)
    table = _table(tmp_path, ["a.png", "b.png"])
    files = {path: ImageFile.at(path) for path in table["image_path"]}
    built = build_model_input(table, files, None, config)
    assert built["images"].shape == (2, config.img_height, config.img_width, config.num_channels)
    assert built["plate_text"].tolist() == ["AB2", "AB3"]
    assert (built["images"][0] == 80).all() and (built["images"][1] == 120).all()
    assert built["split"].tolist() == ["train", "train"]


def test_an_image_that_changed_after_ingest_stops_the_build_naming_its_row(tmp_path, plate_params):
    config = PlateConfig.from_dict(plate_params)
    table = _table(tmp_path, ["a.png", "b.png", "c.png"])
    (tmp_path / "b.png").write_bytes(b"not an image any more")
    files = {path: ImageFile.at(path) for path in table["image_path"]}
    with pytest.raises(ValueError) as error:
        build_model_input(table, files, None, config)
    message = str(error.value)
    assert message.startswith("1 image(s) of the clean table cannot be read now")
    assert "b.png (" in message and "annotations.csv, line 3)" in message
    assert "a.png" not in message and "c.png" not in message
    assert "run the ingest pipeline again" in message
