"""The project as a user drives it: `kedro run` end to end in the quick environment."""

import json
import sqlite3

import pandas as pd
import pytest

from plate_ocr_pipeline.hooks import ParameterError, validate_parameters
from tests.conftest import REPO_ROOT, write_text_image


def test_ingest_run_end_to_end_logs_to_temporary_mlflow(kedro_project, tmp_path):
    folder = tmp_path / "mine"
    # "NA" and "0123" are plates: pandas' defaults would read them as missing and as 123.
    texts = ["ABC123", "XYZ789", "K7", "NA", "0123"]
    for i, text in enumerate(texts):
        write_text_image(folder / f"{i}.png", text)
    rows = "".join(f"{i}.png,{text}\n" for i, text in enumerate(texts))
    (folder / "annotations.csv").write_text(f"image_path,plate_text\n{rows}nope.png,NOPE\n")
    kedro_project(
        "--pipeline=ingest",
        "--env=quick",
        f"--params=ingest.annotation_files=[{folder / 'annotations.csv'}],ingest.max_reject_fraction=0.5",
    )
    out = kedro_project.path / "data" / "quick"  # conf/quick/globals.yml
    clean = pd.read_csv(out / "03_primary" / "plates_clean.csv", dtype=str, keep_default_na=False)
    assert sorted(clean["plate_text"]) == sorted(texts)
    assert clean["source_row"].astype(int).tolist() == [2, 3, 4, 5, 6]  # 0.png .. 4.png
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


def test_catalog_parameter_set_in_a_parameters_file_fails_at_start(kedro_project, tmp_path):
    """The catalog reads infer.input_dir from the command line only: set in a parameters file
    it would be validated, logged and ignored, so the run stops before reading anything."""
    crops = tmp_path / "crops"
    crops.mkdir()
    (kedro_project.path / "conf" / "local" / "parameters_infer.yml").write_text(
        f"infer:\n  input_dir: {crops}\n"
    )
    result = kedro_project("--pipeline=infer", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "infer.input_dir" in output and "--params=infer.input_dir=" in output
    predictions = kedro_project.path / "data" / "07_model_output" / "predictions.csv"
    assert not predictions.exists()
    # The same folder given on the command line is read (it is empty: a header only).
    kedro_project("--pipeline=infer", f"--params=infer.input_dir={crops}")
    assert predictions.read_text().count("\n") == 1


def test_catalog_parameters_agree_with_the_catalog_or_fail_naming_the_key():
    from plate_ocr_pipeline.hooks import check_catalog_parameters

    conf_catalog = {
        "score_model": {"filepath": "models/m.onnx"},
        "score_labelled_sets": {"filepaths": {"mine": "a/annotations.csv"}},
        "raw_annotations": {"filepaths": ["x.csv"]},
    }
    check_catalog_parameters(
        conf_catalog,
        {
            "score": {
                "model_path": "models/./m.onnx",
                "annotations": {"mine": "a/annotations.csv"},
            },
            "ingest": {"annotation_files": None},
        },
    )
    with pytest.raises(ParameterError) as error:
        check_catalog_parameters(
            conf_catalog,
            {"score": {"model_path": "other.onnx"}, "ingest": {"annotation_files": ["y.csv"]}},
        )
    assert "score.model_path" in str(error.value) and "ingest.annotation_files" in str(error.value)
    assert "other.onnx" in str(error.value)


def test_misspelt_split_and_provider_fail_validation_naming_the_key(plate_params):
    with pytest.raises(ParameterError, match=r"evaluate.splits.0"):
        validate_parameters({"plate": plate_params, "evaluate": {"splits": ["tset"]}, "infer": {}})
    with pytest.raises(ParameterError, match=r"infer.providers.0") as error:
        validate_parameters(
            {
                "plate": plate_params,
                "infer": {
                    "input_dir": "a",
                    "output_path": "b.csv",
                    "model_path": "m.onnx",
                    "providers": ["CUDAExecutionProvidor"],
                },
            }
        )
    assert "CUDAExecutionProvider" in str(error.value)


def test_missing_model_to_fine_tune_fails_before_any_node(tmp_path):
    """train.start=fine_tune with no starting model on disk fails before rendering, naming
    the file; a run from scratch does not look for one."""
    from kedro.io import DataCatalog, MemoryDataset

    from plate_ocr_pipeline.datasets import StartingModelDataset
    from plate_ocr_pipeline.hooks import check_starting_model
    from plate_ocr_pipeline.pipelines.chain import train_chain

    gone = tmp_path / "gone.keras"
    catalog = DataCatalog(
        {
            "starting_model": StartingModelDataset(filepath=str(gone)),
            "params:train": MemoryDataset({"start": "fine_tune"}),
        }
    )
    with pytest.raises(ParameterError, match=r"train.start=fine_tune .*gone\.keras"):
        check_starting_model(train_chain(), catalog)
    catalog["params:train"] = MemoryDataset({"start": "scratch"})
    check_starting_model(train_chain(), catalog)


SHIPPED_KERAS = "src/plate_ocr_pipeline/assets/models/default.keras"


def _environment(env: str):
    from kedro.config import OmegaConfigLoader

    from plate_ocr_pipeline.settings import CONFIG_LOADER_ARGS

    conf = str(REPO_ROOT / "conf")
    return OmegaConfigLoader(conf, **{**CONFIG_LOADER_ARGS, "default_run_env": env})


@pytest.mark.parametrize("env", ["local", "quick", "finetune"])
def test_the_environments_are_the_recipe_quick_local_and_finetune(env):
    """conf/base is the shipped recipe; the only other environments are quick (sizes), local
    (one's own overrides) and finetune. Experiments live in git history, not in conf/."""
    assert sorted(p.name for p in (REPO_ROOT / "conf").iterdir() if p.is_dir()) == [
        "base", "finetune", "local", "quick",
    ]  # fmt: skip
    loader = _environment(env)
    validate_parameters(loader["parameters"])
    assert loader["catalog"]["plates_clean"]["filepath"].startswith(loader["globals"]["data_root"])


def test_finetune_environment_fine_tunes_the_shipped_model_apart_from_the_base_run():
    from plate_ocr_pipeline.datasets import StartingModelDataset

    base, finetune = _environment("local"), _environment("finetune")
    train, base_train = finetune["parameters"]["train"], base["parameters"]["train"]
    assert train["start"] == "fine_tune"
    assert finetune["catalog"]["starting_model"]["filepath"] == SHIPPED_KERAS
    assert train["learning_rate"] < base_train["learning_rate"]
    assert train["epochs"] < base_train["epochs"] and train["warmup_epochs"] == 0
    assert finetune["globals"]["data_root"] != base["globals"]["data_root"]
    assert finetune["catalog"]["training_checkpoint"]["path"].startswith("data/finetune/")
    assert StartingModelDataset(filepath=str(REPO_ROOT / SHIPPED_KERAS)).exists()


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
    for name in ("ingest", "train", "reader", "__default__"):
        assert f"- {name}" in listed


def test_every_node_has_type_hints_that_resolve_without_matplotlib():
    # Kedro's parameter check reads each node's type hints at the start of a run: one that
    # does not resolve is a warning on every run, and resolving must not import matplotlib.
    import subprocess
    import sys

    script = """
import sys, typing
from kedro.framework.project import configure_project
configure_project("plate_ocr_pipeline")
from plate_ocr_pipeline.pipeline_registry import register_pipelines
functions = {n.func for p in register_pipelines().values() for n in p.nodes}
for function in functions:
    typing.get_type_hints(function)
print(len(functions), "matplotlib" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    count, matplotlib_loaded = result.stdout.split()[-2:]
    assert int(count) > 30 and matplotlib_loaded == "False"


def test_every_dataset_of_every_pipeline_has_a_kedro_viz_layer():
    """Each dataset a registered pipeline reads or writes resolves to a catalog entry or
    factory with a kedro-viz layer, in-memory hand-overs included: one left to Kedro's
    default dataset would float outside the layers in `kedro viz`."""
    import subprocess
    import sys

    script = """
import json
from kedro.config import OmegaConfigLoader
from kedro.framework.project import configure_project
from kedro.io import DataCatalog
configure_project("plate_ocr_pipeline")
from plate_ocr_pipeline.pipeline_registry import register_pipelines
from plate_ocr_pipeline.settings import CONFIG_LOADER_ARGS
config = OmegaConfigLoader("conf", **CONFIG_LOADER_ARGS)["catalog"]
config = {k: v for k, v in config.items() if not k.startswith("_")}
resolver = DataCatalog.from_config(config).config_resolver
names = {d for p in register_pipelines().values() for d in p.datasets()}
names = {d for d in names if d != "parameters" and not d.startswith("params:")}
layers = {}
for name in sorted(names):
    entry = config.get(name) or resolver.resolve_pattern(name) or {}
    layers[name] = (entry.get("metadata") or {}).get("kedro-viz", {}).get("layer")
print(json.dumps(layers))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    layers = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(layers) > 80 and "plates_clean" in layers
    assert [name for name, layer in layers.items() if not layer] == []


@pytest.mark.parametrize("name", ["plates_clean", "evaluate.predictions", "score.predictions"])
def test_plate_texts_load_back_from_the_catalog_as_text(name, tmp_path):
    """Tables of plate texts that later nodes load again keep "NA", "NULL" and "0123" as
    text (pandas' defaults read them as missing and as a number), and an empty prediction
    as an empty string; only an empty region is missing."""
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    from plate_ocr_pipeline.settings import CONFIG_LOADER_ARGS

    catalog_config = OmegaConfigLoader(str(REPO_ROOT / "conf"), **CONFIG_LOADER_ARGS)["catalog"]
    catalog_config = {k: v for k, v in catalog_config.items() if not k.startswith("_")}
    dataset = DataCatalog.from_config(catalog_config).get(name)  # factories resolved
    dataset = getattr(dataset, "_dataset", dataset)  # without the MLflow artifact wrapper
    entry = {"type": "pandas.CSVDataset", "load_args": dataset._load_args}
    catalog = DataCatalog.from_config({name: {**entry, "filepath": str(tmp_path / "t.csv")}})
    texts = ["NA", "NULL", "0123", "NAN"]
    if name == "plates_clean":
        table = pd.DataFrame({"image_path": ["a.png", "b.png", "c.png", "d.png"],
                              "plate_text": texts, "region": ["us", None, "us", "eu-de"],
                              "split": ["train", "val", "test", "train"],
                              "image_height": [64] * 4, "image_width": [128] * 4})  # fmt: skip
        text_columns = ["plate_text"]
    else:
        table = pd.DataFrame({"set": ["real"] * 4, "image_path": ["a.png", "b.png", "c.png", "d.png"],
                              "region": ["us", None, "us", "us"], "truth": texts,
                              "prediction": ["NA", "", "0123", "NAM"]})  # fmt: skip
        text_columns = ["truth", "prediction"]
    catalog.save(name, table)
    loaded = catalog.load(name)
    for column in text_columns:
        assert loaded[column].tolist() == table[column].tolist()
    assert loaded["region"].isna().tolist() == [False, True, False, False]


def test_a_labelled_set_name_the_catalog_does_not_define_fails_before_any_node(tmp_path):
    """score.labelled_sets and evaluate.labelled_sets pick sets by name: a misspelt one fails
    at start, naming the names the catalog entry has; a defined set whose CSV is missing
    (skipped by evaluate) and no choice at all pass."""
    from kedro.io import DataCatalog, MemoryDataset

    from plate_ocr_pipeline.datasets import LabelledSetsDataset
    from plate_ocr_pipeline.hooks import check_labelled_set_names
    from plate_ocr_pipeline.pipelines import score as score_pipeline
    from plate_ocr_pipeline.pipelines.chain import train_chain

    sets = {"real_us": str(tmp_path / "us.csv"), "real_ar": str(tmp_path / "ar.csv")}
    catalog = DataCatalog(
        {
            "score_labelled_sets": LabelledSetsDataset(filepaths=sets),
            "evaluate_labelled_sets": LabelledSetsDataset(filepaths=sets, skip_missing=True),
            "params:score": MemoryDataset({"labelled_sets": ["real_us", "real_arr"]}),
            "params:evaluate": MemoryDataset({"labelled_sets": ["real_ar"]}),
        }
    )
    score = score_pipeline.create_pipeline()
    with pytest.raises(ParameterError, match=r"score.labelled_sets names \['real_arr'\].*"
                       r"it has: real_us, real_ar"):  # fmt: skip
        check_labelled_set_names(score, catalog)
    check_labelled_set_names(train_chain(), catalog)  # evaluate's name is defined
    catalog["params:evaluate"] = MemoryDataset({"labelled_sets": ["us"]})
    with pytest.raises(ParameterError, match=r"evaluate.labelled_sets names \['us'\]"):
        check_labelled_set_names(train_chain(), catalog)
    catalog["params:score"] = MemoryDataset({"labelled_sets": None})
    check_labelled_set_names(score, catalog)
    # region_labels: a set spelt close to a defined one fails; another set name (sets that
    # score.annotations names otherwise) is left alone.
    labels = {"real_arr": {"ar": ["ar-old"]}, "mine": {"x": ["us"]}}
    catalog["params:score"] = MemoryDataset({"region_labels": labels})
    with pytest.raises(ParameterError, match=r"score.region_labels names sets \['real_arr'\]"):
        check_labelled_set_names(score, catalog)
    catalog["params:score"] = MemoryDataset({"region_labels": {"mine": {"x": ["us"]}}})
    check_labelled_set_names(score, catalog)


def test_score_with_a_misspelt_labelled_set_stops_before_reading(kedro_project):
    result = kedro_project(
        "--pipeline=score", "--params=score.labelled_sets=[real_usa]", check=False
    )
    assert result.returncode != 0
    output = "".join((result.stdout + result.stderr).split())  # rich wraps long lines
    assert "score.labelled_setsnames['real_usa']" in output and "real_us" in output
    assert "Running node" not in output and "Loading data from score_model" not in output


@pytest.mark.parametrize(
    ("env", "extra", "root"),
    [("quick", ",synthesize.render=never", "data/quick"), ("finetune", "", "data/finetune")],
)
def test_the_own_data_train_commands_ingest_on_a_fresh_checkout(kedro_project, env, extra, root):
    """README's own-data and fine-tune commands on a checkout with nothing rendered: the
    synthesize stage renders nothing and writes no image, and ingest reads the user's CSV."""
    folder = kedro_project.path.parent / "mine"
    for i, text in enumerate(["ABC123", "XY0123"]):
        write_text_image(folder / f"{i}.png", text)
    (folder / "annotations.csv").write_text("image_path,plate_text\n0.png,ABC123\n1.png,XY0123\n")
    kedro_project(
        "--pipelines=train",
        f"--env={env}",
        f"--params=ingest.annotation_files=[{folder / 'annotations.csv'}]{extra}",
        "--to-outputs=plates_clean",
    )
    data = kedro_project.path / root
    clean = pd.read_csv(data / "03_primary" / "plates_clean.csv", dtype=str)
    assert sorted(clean["plate_text"]) == ["ABC123", "XY0123"]
    assert not list((data / "01_raw").rglob("*.png"))


def test_a_globals_key_spelt_close_to_a_known_one_fails_and_others_pass():
    import re

    from plate_ocr_pipeline.hooks import KNOWN_GLOBALS, check_globals

    with pytest.raises(
        ParameterError, match=r"'annotation_file' \(did you mean 'annotation_files'"
    ):
        check_globals({"data_root": "data", "annotation_file": ["/data/a.csv"]})
    check_globals({"data_root": "data", "my_bucket": "s3://plates"})  # one's own key
    # Every globals key the project's catalogs read is known.
    read = set()
    for path in (REPO_ROOT / "conf").rglob("*.yml"):
        read |= set(re.findall(r"\$\{globals:([A-Za-z_]+)", path.read_text("utf-8")))
    assert read <= set(KNOWN_GLOBALS), read - set(KNOWN_GLOBALS)


def test_a_missing_annotations_file_fails_before_rendering(tmp_path):
    """The train chain renders for an hour before ingest reads the CSVs: a CSV that is not
    there stops it at start, naming it; the synthetic CSV that the run itself writes does not."""
    from kedro.io import DataCatalog

    from plate_ocr_pipeline.datasets import PlateAnnotationsDataset
    from plate_ocr_pipeline.hooks import check_annotation_files
    from plate_ocr_pipeline.pipelines.chain import train_chain

    there = tmp_path / "there.csv"
    there.write_text("image_path,plate_text\n")
    synthetic = str(tmp_path / "synthetic" / "annotations.csv")
    gone = str(tmp_path / "gone.csv")
    catalog = DataCatalog(
        {"raw_annotations": PlateAnnotationsDataset(filepaths=[str(there), gone, synthetic])}
    )
    with pytest.raises(ParameterError, match=f"annotations files not found: {gone} \\("):
        check_annotation_files(train_chain(), catalog, written_by_run=synthetic)
    with pytest.raises(ParameterError, match="gone.csv, .*synthetic/annotations.csv"):
        check_annotation_files(train_chain(), catalog)


def test_a_misspelt_globals_key_stops_the_run(kedro_project):
    (kedro_project.path / "conf" / "local" / "globals.yml").write_text(
        "annotation_file: [/data/a.csv]\n"
    )
    result = kedro_project("--pipeline=ingest", check=False)
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())  # rich wraps long lines
    assert "unknown keys 'annotation_file' (did you mean 'annotation_files'?)" in output


def test_a_region_hint_no_formats_file_or_model_knows_fails_before_any_node(tmp_path):
    from kedro.io import DataCatalog, MemoryDataset

    from plate_ocr_pipeline.datasets.onnx_model_dataset import ONNXModelDataset
    from plate_ocr_pipeline.hooks import check_region_hint
    from plate_ocr_pipeline.pipelines import infer as infer_pipeline

    shipped = REPO_ROOT / "src/plate_ocr_pipeline/assets/models/default.onnx"
    catalog = DataCatalog(
        {
            "infer_model": ONNXModelDataset(filepath=str(shipped)),
            "params:infer": MemoryDataset({"region_hint": ["ar-old", "ar-0ld"]}),
        }
    )
    infer = infer_pipeline.create_pipeline()
    with pytest.raises(ParameterError, match=r"infer.region_hint: unknown region families "
                       r"\['ar-0ld'\]; known: ar-old, br-old"):  # fmt: skip
        check_region_hint(infer, catalog)
    catalog["params:infer"] = MemoryDataset({"region_hint": ["ar-old", "mercosur"]})
    check_region_hint(infer, catalog)
    catalog["params:infer"] = MemoryDataset({"region_hint": None})
    check_region_hint(infer, catalog)


def test_a_chain_cut_before_training_still_writes_the_annotations_ingest_reads():
    """`kedro run --pipelines=train --to-nodes=train.train_model`: ingest reads the CSV that
    synthesize writes, so the cut chain must keep the node that writes it."""
    from plate_ocr_pipeline.pipelines.chain import train_chain

    cut = train_chain().to_nodes("train.train_model")
    assert "synthetic_annotations" in cut.all_outputs()
    assert "synthesize.build_synthetic_annotations" in {node.name for node in cut.nodes}
