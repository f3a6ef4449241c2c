"""The benchmark and maintenance scripts import: a library name they use that was renamed or
moved fails here, not the next time someone runs the script."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py")])


def test_there_are_scripts_to_check():
    assert {path.parent.name for path in SCRIPTS} == {"benchmarks", "scripts"}


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_script_imports(path, monkeypatch):
    module = _load_script(path, monkeypatch)  # runs the imports and definitions, not main()
    assert callable(getattr(module, "main", None)), f"{path.name} has no main()"


def _load_script(path: Path, monkeypatch):
    # As `python benchmarks/x.py` runs it: its folder first on the path (scripts import their
    # neighbours), and registered as a module (dataclasses look their module up).
    monkeypatch.syspath_prepend(str(path.parent))
    spec = importlib.util.spec_from_file_location(f"_script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_counts_a_quantised_models_weights_not_its_scales(monkeypatch):
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    benchmark = _load_script(ROOT / "benchmarks/bench_vs_fast_plate_ocr.py", monkeypatch)
    count = benchmark.onnx_param_count
    scalar = {"x_scale": np.float32(0.1), "y_scale": np.float32(0.2), "w_scale": np.float32(0.3)}
    zero = {"x_zp": np.int8(0), "y_zp": np.int8(0), "w_zp": np.int8(0)}
    weights = {
        "w": np.ones((4, 1, 3, 3), np.int8) * 3,  # 36 quantised weights
        "b": np.arange(4, dtype=np.int32),  # 4 quantised biases
        "gemm_w": np.full((4, 5), 0.5, np.float32),  # 20 float weights
        "selector": np.eye(3, dtype=np.float32),  # a 0/1 selector: no trained weight
    }
    conv = helper.make_node(
        "QLinearConv",
        ["x", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp", "b"],
        ["y"],
    )
    initializers = [
        numpy_helper.from_array(np.asarray(value), name)
        for name, value in {**scalar, **zero, **weights}.items()
    ]
    graph = helper.make_graph([conv], "g", [], [], initializer=initializers)
    assert count(helper.make_model(graph)) == 36 + 4 + 20
    # The shipped INT8 model holds the float32 model's weights, one for one.
    models = ROOT / "src/plate_ocr_pipeline/assets/models"
    int8 = count(onnx.load(models / "default.onnx"))
    fp32 = count(onnx.load(models / "default_fp32.onnx"))
    assert fp32 > 500_000 and abs(int8 - fp32) <= 10


def test_an_architecture_variant_may_change_the_input_or_the_model(monkeypatch):
    from plate_ocr_pipeline.core.plate_config import PlateConfig, PlateConfigError

    bench = _load_script(ROOT / "benchmarks/bench_architectures.py", monkeypatch)
    config = PlateConfig.from_dict(
        {
            "max_plate_slots": 10,
            "alphabet": "0123456789ABC_",
            "pad_char": "_",
            "img_height": 64,
            "img_width": 128,
        }
    )
    recipe = {"type": "cnn", "head": "ctc", "width_multiplier": 1.0}
    params, wider = bench.variant("plate.img_width=160", recipe, config)
    assert (wider.img_height, wider.img_width) == (64, 160)
    assert params.width_multiplier == 1.0 and config.img_width == 128
    params, same = bench.variant("width_multiplier=1.5", recipe, config)
    assert params.width_multiplier == 1.5 and same is config
    with pytest.raises(PlateConfigError, match="img_widht"):
        bench.variant("plate.img_widht=160", recipe, config)
