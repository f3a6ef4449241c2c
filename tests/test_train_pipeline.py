"""Training: seeded runs repeat exactly, a cut-off run resumes, the cache skips decoding, and
the quick environment runs ingest -> augment -> fit -> evaluate end to end through Kedro."""

import json
import logging
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from plate_ocr_pipeline.datasets import NumpyArraysDataset
from plate_ocr_pipeline.pipelines.train.nodes import (
    plot_training_curves,
    prepare_model_input,
    train_model,
)
from tests.conftest import image_files, make_plates

REPO_ROOT = Path(__file__).resolve().parents[1]


def train_params_of(env: str) -> dict:
    """The ``train`` section of conf/base with conf/<env> soft-merged over it, as Kedro does."""
    from omegaconf import OmegaConf

    base, override = (
        yaml.safe_load((REPO_ROOT / f"conf/{name}/parameters_train.yml").read_text())["train"]
        for name in ("base", env)
    )
    return OmegaConf.to_container(OmegaConf.merge(base, override))


def quick_train_params(**overrides) -> dict:
    # conf/quick overrides sizes only; the rest comes from conf/base (soft merge).
    params = train_params_of("quick")
    # backend None: whatever Keras loaded in this process (KERAS_BACKEND of the test run).
    params.update({"verbose": 0, "backend": None}, **overrides)
    return params


def fit(model_input, transform, plate, /, checkpoints=None, starting_model=None, **train):
    """The train node as the pipeline calls it: one ``train`` section, catalog datasets."""
    from plate_ocr_pipeline.training.checkpoints import CheckpointStore

    store = None if checkpoints is None else CheckpointStore(checkpoints)
    train = {**train, "checkpoint": store is not None}
    return train_model(model_input, transform, store, starting_model, train, plate)


def pretend_cut_off(checkpoints: Path) -> dict:
    """Make a finished run's checkpoint look like one killed before it finished; returns the
    state it had."""
    state = json.loads((checkpoints / "state.json").read_text())
    unfinished = {key: value for key, value in state.items() if key != "finished"}
    (checkpoints / "state.json").write_text(json.dumps(unfinished))
    return state


def test_model_input_cache_reuses_unchanged_images(tmp_path, plate_params):
    plates = make_plates(tmp_path / "imgs", count=6)
    first = prepare_model_input(plates, image_files(plates), {}, plate_params)
    assert first["images"].shape == (6, 64, 128, 1) and first["images"].dtype == np.uint8
    store = NumpyArraysDataset(filepath=str(tmp_path / "mi.npz"))
    store.save(first)
    cache = NumpyArraysDataset(filepath=str(tmp_path / "mi.npz"), load_args={"missing_ok": True})
    reloaded = cache.load()
    # Poison the cached pixels: an unchanged file must come from the cache, not be decoded.
    reloaded["images"] = np.full_like(reloaded["images"], 7)
    second = prepare_model_input(plates, image_files(plates), reloaded, plate_params)
    assert (second["images"] == 7).all()
    # Another preprocessing (size) invalidates the cache.
    third = prepare_model_input(
        plates, image_files(plates), reloaded, {**plate_params, "img_width": 96}
    )
    assert third["images"].shape == (6, 64, 96, 1) and not (third["images"] == 7).all()
    missing = NumpyArraysDataset(
        filepath=str(tmp_path / "none.npz"), load_args={"missing_ok": True}
    )
    assert missing.load() == {}


def test_a_save_cut_short_keeps_the_previous_arrays_and_a_broken_cache_is_rebuilt(tmp_path, caplog):
    """Binary saves are atomic: a save that fails midway (a run killed while writing) leaves
    the previous file whole and no temporary file. A cache file broken anyway is read as
    absent, with a warning naming it, so that the run rebuilds it."""
    path = tmp_path / "mi.npz"
    store = NumpyArraysDataset(filepath=str(path))
    store.save({"a": np.arange(3)})
    before = path.read_bytes()

    class Cut(Exception):
        pass

    def cut_short(handle):
        handle.write(b"PK\x03\x04 half a zip")
        raise Cut

    from plate_ocr_pipeline.datasets import atomic_write

    with pytest.raises(Cut):
        atomic_write.write_atomically(path, cut_short, text=False)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["mi.npz"]
    np.testing.assert_array_equal(store.load()["a"], np.arange(3))

    path.write_bytes(before[: len(before) // 2])  # broken by something else
    cache = NumpyArraysDataset(filepath=str(path), load_args={"missing_ok": True})
    with caplog.at_level("WARNING"):
        assert cache.load() == {}
    assert f"{path} cannot be read, taken as absent" in caplog.text
    from kedro.io.core import DatasetError

    with pytest.raises(DatasetError, match="not a zip file"):  # without missing_ok: an error
        store.load()


def test_two_seeded_runs_give_identical_metrics(model_input, augmentation, plate_params):
    params = quick_train_params()
    model_a, history_a = fit(model_input, augmentation, plate_params, **params)
    model_b, history_b = fit(model_input, augmentation, plate_params, **params)
    assert len(history_a) == 1
    assert {"loss", "val_loss", "val_plate_acc", "val_cat_acc", "learning_rate"} <= set(history_a)
    pd.testing.assert_frame_equal(history_a, history_b)
    images = model_input["images"][:4]
    np.testing.assert_array_equal(
        model_a.predict(images, verbose=0), model_b.predict(images, verbose=0)
    )
    figure = plot_training_curves(history_a)
    assert len(figure.axes) == 4


def test_cut_off_run_resumes_from_checkpoint(tmp_path, model_input, augmentation, plate_params):
    checkpoints = tmp_path / "ckpt"
    params = quick_train_params(checkpoints=checkpoints, lr_schedule="plateau",
                                warmup_epochs=0.5)  # fmt: skip
    _, first = fit(model_input, augmentation, plate_params, **params)
    assert (checkpoints / "last.keras").exists()
    state = pretend_cut_off(checkpoints)  # then ask for two epochs
    assert state["epochs_done"] == 1 and state["finished"]
    assert set(state["callbacks"]["plateau"]) == {"wait", "best", "cooldown_counter"}
    params.update(resume=True, epochs=2)
    _, resumed = fit(model_input, augmentation, plate_params, **params)
    assert list(resumed["epoch"]) == [1, 2]
    assert resumed.loc[0, "loss"] == pytest.approx(first.loc[0, "loss"])


def test_plateau_and_early_stopping_counts_come_back_after_train_begin():
    from plate_ocr_pipeline.training.callbacks import ResumableEarlyStopping, ResumablePlateau

    plateau = ResumablePlateau(monitor="val_loss", patience=4)
    plateau.restore_counts({"wait": 3, "best": 0.5, "cooldown_counter": 1})
    plateau.on_train_begin()  # Keras zeroes the counts here
    assert (plateau.wait, plateau.best, plateau.cooldown_counter) == (3, 0.5, 1)
    stopping = ResumableEarlyStopping(monitor="val_loss", patience=4, restore_best_weights=True)
    weights = [np.ones(2, np.float32)]
    saved = {"wait": 2, "best": 0.4, "best_epoch": 5, "stopped_epoch": 0}
    stopping.restore(saved, weights)
    stopping.on_train_begin()
    assert stopping.counts() == saved
    assert stopping.best_weights is weights
    fresh = ResumableEarlyStopping(monitor="val_loss", patience=4)
    fresh.on_train_begin()
    assert fresh.counts() == {"wait": 0, "best": None, "best_epoch": 0, "stopped_epoch": 0}


def test_run_extended_on_resume_stretches_the_cosine_decay(
    tmp_path, model_input, augmentation, plate_params
):
    from plate_ocr_pipeline.training.losses import WarmupCosine

    checkpoints = tmp_path / "ckpt"
    # A slot head, so that the returned model is the one the optimizer trained.
    params = quick_train_params(checkpoints=checkpoints, lr_schedule="cosine", warmup_epochs=0,
                                epochs=1, model={"width_multiplier": 0.25})  # fmt: skip
    net, _ = fit(model_input, augmentation, plate_params, **params)
    steps = int(net.optimizer.iterations.numpy())
    pretend_cut_off(checkpoints)
    params.update(resume=True, epochs=3)
    net, history = fit(model_input, augmentation, plate_params, **params)
    assert net.optimizer._learning_rate.total_steps == 3 * steps
    # Epoch 2 ends a third of the way before the end of a 3-epoch decay, not at the floor that
    # the 1-epoch schedule saved in the checkpoint would have given.
    expected = WarmupCosine(params["learning_rate"], 3 * steps, 0, params["min_lr_fraction"])
    epoch_2_rate = history.loc[1, "learning_rate"]
    assert epoch_2_rate == pytest.approx(float(expected(2 * steps)), rel=1e-5)
    assert epoch_2_rate > 10 * params["learning_rate"] * params["min_lr_fraction"]


def test_resume_refuses_a_checkpoint_of_another_recipe_or_data(
    tmp_path, model_input, augmentation, plate_params
):
    checkpoints = tmp_path / "ckpt"
    params = quick_train_params(checkpoints=checkpoints)
    fit(model_input, augmentation, plate_params, **params)
    pretend_cut_off(checkpoints)
    resumed = {**params, "resume": True, "epochs": 2}
    with pytest.raises(ValueError, match=r"other learning_rate, model\.row_context"):
        changed = {**resumed, "learning_rate": 0.01, "model": {**params["model"], "row_context": 3}}
        fit(model_input, augmentation, plate_params, **changed)
    other_pixels = {**model_input, "images": 255 - model_input["images"]}
    with pytest.raises(ValueError, match=r"other data\.images \(after epoch 1\)"):
        fit(other_pixels, augmentation, plate_params, **resumed)
    # The same recipe and data continue, and a checkpoint without a fingerprint (written
    # before there was one) is trusted.
    state = json.loads((checkpoints / "state.json").read_text())
    state.pop("fingerprint")
    (checkpoints / "state.json").write_text(json.dumps(state))
    _, history = fit(model_input, augmentation, plate_params, **resumed)
    assert list(history["epoch"]) == [1, 2]


def test_run_fingerprint_names_what_differs():
    from plate_ocr_pipeline.training.checkpoints import fingerprint_mismatch, run_fingerprint

    images = np.zeros((3, 4, 4, 1), np.uint8)
    texts = np.array(["AB1", "CD2", "EF3"], dtype=object)
    base = run_fingerprint({"seed": 1, "model": {"head": "dense"}}, {"images": images, "t": texts})
    assert base == run_fingerprint(
        {"model": {"head": "dense"}, "seed": 1}, {"t": texts.copy(), "images": images.copy()}
    )
    changed = run_fingerprint(
        {"seed": 1, "model": {"head": "ctc"}}, {"images": images + 1, "t": texts}
    )
    assert fingerprint_mismatch(base, changed) == ["data.images", "model.head"]
    relabelled = run_fingerprint(
        {"seed": 1, "model": {"head": "dense"}}, {"images": images, "t": texts[::-1]}
    )
    assert fingerprint_mismatch(base, relabelled) == ["data.t"]


def test_fine_tuning_checks_the_plate_config(model_input, augmentation, plate_params):
    from plate_ocr_pipeline.core.plate_config import PlateConfig
    from plate_ocr_pipeline.training.models import build_model

    other = build_model(
        PlateConfig.from_dict({**plate_params, "max_plate_slots": 8}), "cnn", width_multiplier=0.25
    )
    with pytest.raises(ValueError, match="plate config"):
        fit(model_input, augmentation, plate_params, starting_model=other,
            **quick_train_params(start="fine_tune"))  # fmt: skip
    with pytest.raises(ValueError, match="needs a starting model"):
        fit(model_input, augmentation, plate_params, **quick_train_params(start="transfer"))


def test_an_unfinished_checkpoint_of_another_run_is_not_resumed_by_default(
    tmp_path, model_input, augmentation, plate_params
):
    """resume: auto (the default) continues only its own run; another run's checkpoint is
    overwritten by a fresh run, which then reads as an uninterrupted one."""
    checkpoints = tmp_path / "ckpt"
    params = quick_train_params(checkpoints=checkpoints)
    fit(model_input, augmentation, plate_params, **{**params, "learning_rate": 0.01})
    pretend_cut_off(checkpoints)
    _, fresh = fit(model_input, augmentation, plate_params, **params)
    _, reference = fit(model_input, augmentation, plate_params, **quick_train_params())
    assert list(fresh["epoch"]) == [1]
    assert fresh.loc[0, "loss"] == pytest.approx(reference.loc[0, "loss"])


def test_quick_environment_runs_end_to_end_from_a_fresh_clone(kedro_project):
    """Nothing rendered yet: the train chain renders the synthetic set, then ingests, augments,
    trains, evaluates, exports and benchmarks; a second run finds the set on disk and does
    not render it again."""
    project = kedro_project.path
    data = project / "data" / "quick"  # conf/quick/globals.yml keeps quick data apart
    assert not data.exists()
    kedro_project("--env=quick", "--pipelines=train")
    for output in [
        "01_raw/synthetic/annotations.csv",
        "01_raw/synthetic/manifest.json",
        "05_model_input/model_input.npz",
        "06_models/plate_ocr.keras",
        "06_models/checkpoints/last.keras",
        "08_reporting/augment/augmentation_preview.png",
        "08_reporting/train/training_history.csv",
        "08_reporting/train/training_curves.png",
        "06_models/model.onnx",
        "08_reporting/export/onnx_parity.json",
        "08_reporting/benchmark/benchmark_results.json",
        "08_reporting/benchmark/benchmark_chart.png",
    ]:
        assert (data / output).exists(), output
    manifest = json.loads((data / "01_raw/synthetic/manifest.json").read_text())
    rendered = sorted((data / "01_raw/synthetic/images").glob("*.png"))
    assert manifest["num_plates"] == len(rendered) == 300 and manifest["missing"] == 0
    reports = sorted(p.relative_to(data).as_posix() for p in (data / "08_reporting").rglob("*"))
    assert any(r.startswith("08_reporting/evaluate/") for r in reports), reports
    with sqlite3.connect(kedro_project.tracking) as db:
        keys = {row[0] for row in db.execute("SELECT DISTINCT key FROM metrics")}
        versions = db.execute("SELECT name, run_id FROM model_versions").fetchall()
        train_runs = {row[0] for row in db.execute("SELECT run_uuid FROM runs")}
    assert {"loss", "val_plate_acc"} <= keys and any(
        "test" in k and "plate_acc" in k for k in keys
    ), keys
    # The catalog's export.registered_reader registered the reader from this run.
    assert [name for name, _ in versions] == ["plate_ocr"], versions
    assert versions[0][1] in train_runs

    stamps = [p.stat().st_mtime_ns for p in rendered]
    kedro_project("--env=quick", "--pipelines=synthesize")
    assert [p.stat().st_mtime_ns for p in rendered] == stamps  # nothing rendered again

    # The reader alone, again on the trained model on disk: the same seeds give the same
    # region head and temperature, and nothing is trained.
    trained = data / "06_models/plate_ocr.keras"
    trained_stamp, report = trained.stat().st_mtime_ns, (data / "08_reporting/train/reader.json")
    first = json.loads(report.read_text())
    exported = (data / "06_models/model.onnx").stat().st_mtime_ns
    kedro_project("--env=quick", "--pipelines=reader")
    assert trained.stat().st_mtime_ns == trained_stamp
    assert json.loads(report.read_text()) == first
    assert (data / "06_models/model.onnx").stat().st_mtime_ns != exported  # exported again


RECIPE_ENVIRONMENTS = sorted(
    p.name for p in (REPO_ROOT / "conf").iterdir() if p.is_dir() and p.name not in ("base", "local")
)


@pytest.mark.parametrize("env", RECIPE_ENVIRONMENTS)
def test_every_environment_gives_valid_parameters(env, tmp_path, monkeypatch):
    """An environment (conf/quick, conf/finetune) soft-merged over conf/base by the project's
    own config loader passes every section's schema, and its keys win: a typo in it fails
    here and not hours into a run."""
    from kedro.config import OmegaConfigLoader
    from omegaconf import OmegaConf

    from plate_ocr_pipeline.hooks import validate_parameters
    from plate_ocr_pipeline.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(
        str(REPO_ROOT / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": env}
    )
    merged = loader["parameters"]
    validate_parameters(merged)

    def leaves(tree, prefix=()):
        for key, value in tree.items():
            if isinstance(value, dict):
                yield from leaves(value, (*prefix, key))
            else:
                yield (*prefix, key), value

    overrides = {}
    for path in (REPO_ROOT / "conf" / env).glob("parameters*.yml"):
        overrides.update(dict(leaves(yaml.safe_load(path.read_text()) or {})))
    assert overrides, f"conf/{env} overrides no parameter"
    globals_ = loader["globals"]
    for keys, value in overrides.items():
        if isinstance(value, str):  # ${globals:data_root}/... as the loader resolves it
            value = re.sub(r"\$\{globals:(\w+)\}", lambda m: str(globals_[m[1]]), value)
        found = OmegaConf.select(OmegaConf.create(merged), ".".join(keys))
        assert found == value, (keys, found, value)


def test_step_progress_reports_steps_speed_and_time_left():
    from plate_ocr_pipeline.training.callbacks import StepProgress

    progress = StepProgress(every=2, steps_per_epoch=5, epochs=3, batch_size=8)
    progress.on_epoch_begin(1)
    for batch in range(5):
        progress.on_train_batch_end(batch, {"loss": 2.5 - batch / 10})
    # Steps 2 and 4, and the epoch's last step.
    assert [line.split(" (")[0] for line in progress.lines] == [
        "epoch 2/3 step 2/5", "epoch 2/3 step 4/5", "epoch 2/3 step 5/5",
    ]  # fmt: skip
    assert "loss 2.4000" in progress.lines[0] and "samples/s" in progress.lines[0]
    assert "epoch left 0m00s" in progress.lines[-1]


def test_training_logs_progress_within_the_epoch(model_input, plate_params, caplog):
    params = quick_train_params(epochs=1, augmentation=False, progress_every_steps=1)
    with caplog.at_level(logging.INFO, logger="plate_ocr_pipeline.training.callbacks"):
        fit(model_input, None, plate_params, **params)
    lines = [r.getMessage() for r in caplog.records if "step " in r.getMessage()]
    assert lines and lines[0].startswith("epoch 1/1 step 1/") and "run left" in lines[-1]


def test_augmenting_on_two_threads_trains_the_same_model(model_input, augmentation, plate_params):
    histories, weights = [], []
    for workers in (1, 2):
        params = quick_train_params(epochs=2, data_workers=workers, batch_size=2)
        model, history = fit(model_input, augmentation, plate_params, **params)
        histories.append(history["loss"].to_numpy())
        weights.append(model.get_weights())
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-6)
    for one_thread, two_threads in zip(*weights, strict=True):
        np.testing.assert_allclose(one_thread, two_threads, rtol=1e-6, atol=1e-7)


def test_weight_average_is_returned_and_kept_in_the_checkpoint(
    tmp_path, model_input, augmentation, plate_params
):
    """``ema_momentum``: the same training, but the model returned holds the weights' moving
    average; the average lives in the checkpoint's optimizer, so a cut-off run continues it;
    another momentum is another recipe; bad values fail at start."""
    from pydantic import ValidationError

    from plate_ocr_pipeline.training.checkpoints import CheckpointStore
    from plate_ocr_pipeline.training.params import TrainParams

    images = model_input["images"][:4]
    params = quick_train_params(
        epochs=2, lr_schedule="constant", warmup_epochs=0, data_workers=1,
        early_stopping_patience=None,
    )  # fmt: skip
    ema = {**params, "ema_momentum": 0.5}
    plain, plain_history = fit(model_input, augmentation, plate_params, **params)
    averaged, history = fit(model_input, augmentation, plate_params, **ema)
    # Same seed, same batches, same steps: only the returned weights differ.
    pd.testing.assert_series_equal(history["loss"], plain_history["loss"])
    assert not np.allclose(plain.predict(images, verbose=0), averaged.predict(images, verbose=0))

    checkpoints = tmp_path / "ckpt"
    fit(model_input, augmentation, plate_params, checkpoints=checkpoints, **{**ema, "epochs": 1})
    saved = CheckpointStore(checkpoints).load_model()
    assert saved.optimizer.use_ema and saved.optimizer.ema_momentum == 0.5
    averages = [np.asarray(v) for v in saved.optimizer._model_variables_moving_average]
    weights = [np.asarray(v) for v in saved.trainable_variables]
    # The checkpoint holds the raw weights (training goes on from them) and their average.
    assert len(averages) == len(weights)
    assert any(not np.allclose(a, w) for a, w in zip(averages, weights, strict=True))
    pretend_cut_off(checkpoints)
    resumed, resumed_history = fit(
        model_input, augmentation, plate_params, checkpoints=checkpoints, **{**ema, "resume": True}
    )
    assert list(resumed_history["epoch"]) == [1, 2]
    # The resumed run continued the saved average: it returns what the run never cut did.
    np.testing.assert_allclose(
        resumed.predict(images, verbose=0), averaged.predict(images, verbose=0), atol=1e-6
    )
    # Another momentum is another recipe: its checkpoint is not resumed.
    pretend_cut_off(checkpoints)
    with pytest.raises(ValueError, match="ema_momentum"):
        fit(model_input, augmentation, plate_params, checkpoints=checkpoints,
            **{**ema, "ema_momentum": 0.9, "resume": True})  # fmt: skip
    for bad in (0, 1, 1.5):
        with pytest.raises(ValidationError, match="ema_momentum"):
            TrainParams(ema_momentum=bad)


def test_a_run_cut_off_and_resumed_trains_what_an_uninterrupted_one_does(
    tmp_path, model_input, augmentation, plate_params, monkeypatch
):
    """Killed after its first epoch's checkpoint and run again, a run ends with the weights
    and history of one that was never stopped: the same batch orders, augmentation and
    dropout draws, and early stopping's best epoch from before the cut."""
    import keras

    from plate_ocr_pipeline.training import trainer
    from plate_ocr_pipeline.training.checkpoints import CheckpointStore

    class Killed(Exception):
        pass

    class KillAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise Killed

    class FirstEpochBest(keras.callbacks.Callback):
        """The monitored figure falls after epoch 1: early stopping must return epoch 1's
        weights, which only the checkpoint of the cut-off run has."""

        def on_epoch_end(self, epoch, logs=None):
            logs["val_plate_acc"] = [0.9, 0.1][epoch]

    callbacks = trainer._callbacks
    monkeypatch.setattr(trainer, "_callbacks", lambda *a: [FirstEpochBest(), *callbacks(*a)])
    # One batch per crop: enough steps for a wrong order to show. Two data workers: their
    # prefetch must not carry batches across the cut.
    params = quick_train_params(
        epochs=2, data_workers=2, batch_size=1, early_stopping_patience=5,
        monitor="val_plate_acc",
    )  # fmt: skip
    whole, whole_history = fit(model_input, augmentation, plate_params, **params)
    checkpoints = tmp_path / "ckpt"
    with monkeypatch.context() as patch:
        patched = trainer._callbacks  # the checkpoint callback runs before the kill
        patch.setattr(trainer, "_callbacks", lambda *a: [*patched(*a), KillAfterFirstEpoch()])
        with pytest.raises(Killed):
            fit(model_input, augmentation, plate_params, checkpoints=checkpoints, **params)
    state = json.loads((checkpoints / "state.json").read_text())
    assert state["epochs_done"] == 1 and state["random_states"]  # the dropout layers' draws
    assert state["callbacks"]["early_stopping"] == {
        "wait": 0, "best": 0.9, "best_epoch": 0, "stopped_epoch": 0
    }  # fmt: skip
    assert state["best_weights_epoch"] == 0 and (checkpoints / "best-0.npz").is_file()
    resumed, history = fit(model_input, augmentation, plate_params, checkpoints=checkpoints,
                           **{**params, "resume": True})  # fmt: skip
    np.testing.assert_allclose(history["loss"], whole_history["loss"], rtol=1e-6)
    returned = {v.path: np.asarray(v) for v in whole.weights}
    for variable in resumed.weights:
        np.testing.assert_allclose(np.asarray(variable), returned[variable.path], atol=1e-6)
    # What both returned is the best epoch's weights, not the last epoch's.
    last = {v.path: np.asarray(v) for v in CheckpointStore(checkpoints).load_model().weights}
    assert set(last) == set(returned)
    assert any(not np.allclose(last[path], returned[path]) for path in last)


def test_a_run_cut_off_after_early_stopping_fired_trains_no_more(
    tmp_path, model_input, augmentation, plate_params, monkeypatch
):
    """Its last checkpoint says early stopping fired; run again, it returns the best epoch's
    weights without training another epoch."""
    import keras

    from plate_ocr_pipeline.training import trainer

    class FallsAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_plate_acc"] = 0.9 if epoch == 0 else 0.1

    callbacks = trainer._callbacks
    monkeypatch.setattr(trainer, "_callbacks", lambda *a: [FallsAfterFirstEpoch(), *callbacks(*a)])
    checkpoints = tmp_path / "ckpt"
    params = quick_train_params(
        epochs=4, early_stopping_patience=1, monitor="val_plate_acc", batch_size=4
    )
    whole, history = fit(model_input, augmentation, plate_params, checkpoints=checkpoints, **params)
    assert list(history["epoch"]) == [1, 2]  # stopped after epoch 2
    state = pretend_cut_off(checkpoints)  # killed before the run was marked finished
    assert state["callbacks"]["early_stopping"]["stopped_epoch"] == 1
    resumed, again = fit(model_input, augmentation, plate_params, checkpoints=checkpoints,
                         **{**params, "resume": True})  # fmt: skip
    assert list(again["epoch"]) == [1, 2]
    returned = {v.path: np.asarray(v) for v in whole.weights}
    for variable in resumed.weights:
        np.testing.assert_allclose(np.asarray(variable), returned[variable.path], atol=1e-6)
