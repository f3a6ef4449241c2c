"""The project as a user drives it: `kedro run` end to end in the quick environment."""

import json
import sqlite3

import pandas as pd
import pytest

from plate_ocr_pipeline.hooks import ParameterError, validate_parameters
from tests.conftest import write_text_image


def test_ingest_run_end_to_end_logs_to_temporary_mlflow(kedro_project, tmp_path):
    folder = tmp_path / "mine"
    for i, text in enumerate(["ABC123", "XYZ789", "K7"]):
        write_text_image(folder / f"{i}.png", text)
    (folder / "annotations.csv").write_text(
        "image_path,plate_text\n0.png,ABC123\n1.png,XYZ789\n2.png,K7\nnope.png,NOPE\n"
    )
    kedro_project(
        "--pipeline=ingest",
        "--env=quick",
        f"--params=ingest.annotation_files=[{folder / 'annotations.csv'}],ingest.max_reject_fraction=0.5",
    )
    out = kedro_project.path / "data" / "quick"  # conf/quick/globals.yml
    clean = pd.read_csv(out / "03_primary" / "plates_clean.csv")
    assert sorted(clean["plate_text"]) == ["ABC123", "K7", "XYZ789"]
    rejects = pd.read_csv(out / "08_reporting" / "ingest" / "plates_rejects.csv")
    assert rejects["reason"].tolist() == ["missing file"]
    summary = json.loads((out / "08_reporting" / "ingest" / "ingest_summary.json").read_text())
    assert summary["rejected"] == 1
    assert (out / "08_reporting" / "ingest" / "dataset_statistics.png").stat().st_size > 1000

    with sqlite3.connect(kedro_project.tracking) as db:
        runs = db.execute("select status from runs").fetchall()
        params = dict(db.execute("select key, value from params").fetchall())
    assert runs == [("FINISHED",)]
    # Flattened parameters: each key is its own MLflow param.
    assert params["plate.img_height"] == "64"
    assert params["ingest.seed"] == "42"


def test_too_many_rejects_fail_the_run(kedro_project, tmp_path):
    csv = tmp_path / "annotations.csv"
    csv.write_text("image_path,plate_text\nmissing.png,AB1\n")
    result = kedro_project(
        "--pipeline=ingest", f"--params=ingest.annotation_files=[{csv}]", check=False
    )
    assert result.returncode != 0
    assert "max_reject_fraction" in result.stdout + result.stderr


def test_config_typo_fails_at_start_naming_the_key(kedro_project):
    result = kedro_project("--pipeline=ingest", "--params=plate.img_heigth=64", check=False)
    assert result.returncode != 0
    assert "img_heigth" in result.stdout + result.stderr


def test_stage_parameter_typo_is_named(plate_params):
    with pytest.raises(ParameterError, match="ingest.sead"):
        validate_parameters(
            {
                "plate": plate_params,
                "ingest": {
                    "split_fractions": {"train": 0.8, "val": 0.1, "test": 0.1},
                    "seed": 1,
                    "sead": 2,
                    "max_reject_fraction": 0.1,
                },
            }
        )
    with pytest.raises(ParameterError, match="unknown parameter section"):
        validate_parameters({"plate": plate_params, "ingset": {}})


def test_missing_model_to_fine_tune_fails_at_start(plate_params, tmp_path):
    with pytest.raises(ParameterError, match="train.init_from: .*gone.keras is not a file"):
        validate_parameters(
            {"plate": plate_params, "train": {"init_from": str(tmp_path / "gone.keras")}}
        )


def test_registry_lists_the_stages(kedro_project):
    import subprocess
    import sys
    from pathlib import Path

    kedro = Path(sys.executable).with_name("kedro")
    listed = subprocess.run(
        [str(kedro), "registry", "list"],
        cwd=kedro_project.path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    for name in ("ingest", "train", "__default__"):
        assert f"- {name}" in listed
