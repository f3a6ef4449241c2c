"""Keras backends: a tiny two-line CTC model trains, evaluates and exports
under each backend, and the ONNX file computes what that backend's Keras model computes.

Keras fixes its backend per process, so each backend runs in a child Python
(``python -m tests.test_backends FOLDER``) with ``KERAS_BACKEND`` set; the child writes a
JSON summary that the test reads. TensorFlow's own export is also covered in-process by
test_ctc_head.py and test_export.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PARITY_TOLERANCE = 1e-4
TEXT_LINES = (2,)  # the shipped head; one line is the same code with one branch


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run_backend(backend: str, folder: Path) -> dict:
    """Train, evaluate and export under ``backend`` in a child process; its summary."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.test_backends", str(folder)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = folder / "summary.json"
    if result.returncode != 0 or not summary.exists():
        raise AssertionError(
            f"KERAS_BACKEND={backend} child failed (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return json.loads(summary.read_text())


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_ctc_model_trains_evaluates_and_exports_under_the_backend(backend, tmp_path):
    if not _installed(backend):
        pytest.skip(f"{backend} is not installed (the {backend} extra)")
    for needed in ("tensorflow", "tf2onnx", "onnxruntime"):
        if not _installed(needed):
            pytest.skip(f"{needed} is not installed: the ONNX export needs it")
    summary = run_backend(backend, tmp_path)
    assert summary["backend"] == backend
    assert sorted(summary["runs"]) == [str(lines) for lines in TEXT_LINES]
    # Seeded runs repeat exactly (JAX on CPU: XLA's CPU kernels are deterministic and
    # keras.utils.set_random_seed seeds the backend's random keys).
    assert summary["repeats"] == {"history": True, "predictions": True}
    for lines, run in summary["runs"].items():
        assert run["finite_loss"], f"text_lines={lines}: loss {run['loss']}"
        assert run["output_shape"] == [None, 10, 37]
        parity = run["parity"]
        assert parity["passed"] and parity["argmax_mismatched_slots"] == 0, parity
        assert parity["max_abs_diff"] < PARITY_TOLERANCE, parity
        assert parity["images"] >= 8
        assert run["onnx_input"] == {"name": "input", "uint8": True, "dynamic_batch": True}
        # The evaluate/report path (Keras predict under the backend) gives metrics.
        assert 0.0 <= run["report"]["test"]["plate_acc"] <= 1.0
        assert run["report_rows"] == run["test_plates"] > 0


def test_the_tensorflow_subprocess_conversion_matches_keras(plate_params):
    """The path a JAX or PyTorch model takes (save, convert under TensorFlow in a child),
    exercised from this process's backend, so that it is tested without JAX too."""
    pytest.importorskip("tf2onnx")
    keras = pytest.importorskip("keras")
    import numpy as np

    from plate_ocr_pipeline.core.plate_config import PlateConfig
    from plate_ocr_pipeline.training.export import convert_in_tensorflow, onnx_predict, onnx_session
    from plate_ocr_pipeline.training.models import build_model
    from tests.test_ctc_head import CTC_KNOBS

    config = PlateConfig.from_dict(plate_params)
    keras.utils.set_random_seed(6)
    model = build_model(config, "cnn", **{**CTC_KNOBS, "text_lines": 2})
    proto = convert_in_tensorflow(model, config, opset=17)
    assert proto.graph.input[0].name == "input"
    images = np.random.default_rng(6).integers(0, 256, (5, 64, 128, 1), dtype=np.uint8)
    keras_out = model.predict(images, verbose=0)
    onnx_out = onnx_predict(onnx_session(proto), images)
    np.testing.assert_allclose(onnx_out, keras_out, atol=PARITY_TOLERANCE)
    assert (onnx_out.argmax(-1) == keras_out.argmax(-1)).all()


def child(folder: Path) -> None:
    """Under this process's ``KERAS_BACKEND``: for each of ``TEXT_LINES``, one short epoch
    of a tiny CTC model on a few rendered crops (the first run twice, to compare),
    evaluate's report metrics with Keras, the ONNX export and its parity check; writes
    ``folder/summary.json``."""
    import keras
    import numpy as np
    import onnx

    from plate_ocr_pipeline.core.plate_config import PlateConfig
    from plate_ocr_pipeline.pipelines.evaluate.nodes import select_held_out_splits
    from plate_ocr_pipeline.pipelines.report.nodes import compute_report_metrics, predict_sets
    from plate_ocr_pipeline.pipelines.train.nodes import prepare_model_input
    from plate_ocr_pipeline.training.export import check_onnx_parity, export_onnx
    from tests.conftest import DEFAULT_PLATE, image_files, make_plates
    from tests.test_ctc_head import CTC_KNOBS
    from tests.test_train_pipeline import fit, quick_train_params

    config = PlateConfig.from_dict(DEFAULT_PLATE)
    plates = make_plates(folder / "plates", count=12)
    model_input = prepare_model_input(plates, image_files(plates), {}, DEFAULT_PLATE)
    random_crops = np.random.default_rng(0).integers(0, 256, (6, 64, 128, 1), dtype=np.uint8)
    parity_images = np.concatenate([model_input["images"], random_crops])
    runs = {}
    for lines in TEXT_LINES:
        params = quick_train_params(model={**CTC_KNOBS, "text_lines": lines}, augmentation=False,
                                    seed=lines, backend=os.environ["KERAS_BACKEND"])  # fmt: skip
        model, history = fit(model_input, None, DEFAULT_PLATE, **params)
        if (
            lines == TEXT_LINES[0]
        ):  # the same seed and data again: the same numbers (train.deterministic)
            again, history_again = fit(model_input, None, DEFAULT_PLATE, **params)
            repeats = {
                "history": history.equals(history_again),
                "predictions": bool(np.array_equal(
                    model.predict(parity_images, verbose=0),
                    again.predict(parity_images, verbose=0),
                )),
            }  # fmt: skip
        sets = select_held_out_splits(model_input, {"splits": ["test"]})
        probabilities = predict_sets(model, sets, {"batch_size": 4})
        report, rows, _ = compute_report_metrics(sets, probabilities, DEFAULT_PLATE, {})
        proto = export_onnx(model, config, opset=17, model_name=f"ctc{lines}")
        onnx.checker.check_model(proto)
        graph_input = proto.graph.input[0]
        parity = check_onnx_parity(
            model, proto, parity_images, len(parity_images), PARITY_TOLERANCE
        )
        runs[str(lines)] = {
            "loss": history["loss"].tolist(),
            "finite_loss": bool(np.isfinite(history["loss"]).all()),
            "output_shape": list(model.output_shape),
            "parity": parity,
            "onnx_input": {
                "name": graph_input.name,
                "uint8": graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8,
                "dynamic_batch": not graph_input.type.tensor_type.shape.dim[0].HasField(
                    "dim_value"
                ),
            },
            "report": report,
            "report_rows": len(rows),
            "test_plates": len(sets["test"]["images"]),
        }
    summary = {"backend": keras.backend.backend(), "runs": runs, "repeats": repeats}
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    child(Path(sys.argv[1]))
