"""Exact ONNX rewrites: hand-made graphs in the converter's shapes, streamlined and run."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from plate_ocr_pipeline.training.onnx_streamline import (
    feed_quantized_input_directly,
    matmuls_without_reshapes,
    streamline,
)

PIXEL = np.float32(1 / 255)


def _model(nodes, inits, out_shape, in_shape=("N", 4, 6)) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", TensorProto.UINT8, list(in_shape))],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, list(out_shape))],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _input_chain(scale: np.float32) -> onnx.ModelProto:
    """uint8 -> Cast -> Mul(1/255) -> Reshape -> QuantizeLinear(scale, 0) -> Dequantize."""
    nodes = [
        helper.make_node("Cast", ["input"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["f", "k"], ["n"]),
        helper.make_node("Reshape", ["n", "shape"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "s", "z"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["out"]),
    ]
    inits = {"k": PIXEL, "shape": np.array([-1, 24], np.int64), "s": scale, "z": np.uint8(0)}
    return _model(nodes, inits, ["N", 24])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(model.SerializeToString())
    return session.run(None, {"input": x})[0]


def test_the_uint8_input_feeds_a_quantisation_to_its_own_scale_directly():
    model = _input_chain(PIXEL)
    x = np.arange(48, dtype=np.uint8).reshape(2, 4, 6) * 5
    expected = _run(model, x)
    streamlined = streamline(model)
    assert [n.op_type for n in streamlined.graph.node] == ["Reshape", "DequantizeLinear"]
    assert streamlined.graph.node[0].input[0] == "input"
    np.testing.assert_array_equal(_run(streamlined, x), expected)
    np.testing.assert_allclose(expected, x.reshape(2, 24) / 255, rtol=1e-6)


def test_a_quantisation_to_another_scale_keeps_its_chain():
    model = _input_chain(np.float32(2 / 255))
    assert feed_quantized_input_directly(model) == 0
    assert streamline(model) is model


def _tensordot(hidden: int = 5) -> onnx.ModelProto:
    """A Dense over (batch, 4 columns, 6 features) as tf2onnx writes it: flatten, MatMul,
    then a reshape to a shape computed at run time."""
    nodes = [
        helper.make_node("Cast", ["input"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["x", "flat"], ["x2"]),
        helper.make_node("MatMul", ["x2", "w"], ["y2"]),
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "free"], ["lead"]),
        helper.make_node("Concat", ["lead", "units"], ["back"], axis=0),
        helper.make_node("Reshape", ["y2", "back"], ["y"]),
        helper.make_node("Add", ["y", "b"], ["out"]),
    ]
    rng = np.random.default_rng(3)
    inits = {
        "flat": np.array([-1, 6], np.int64),
        "w": rng.normal(size=(6, hidden)).astype(np.float32),
        "free": np.array([0, 1], np.int64),
        "units": np.array([hidden], np.int64),
        "b": rng.normal(size=hidden).astype(np.float32),
    }
    return _model(nodes, inits, ["N", 4, hidden])


def test_a_dense_over_columns_loses_its_reshapes_and_their_shape_arithmetic():
    model = _tensordot()
    x = np.random.default_rng(0).integers(0, 256, (3, 4, 6), dtype=np.uint8)
    expected = _run(model, x)
    streamlined = streamline(model)
    assert [n.op_type for n in streamlined.graph.node] == ["Cast", "MatMul", "Add"]
    for batch in (x, x[:1]):
        np.testing.assert_allclose(_run(streamlined, batch), _run(model, batch), rtol=1e-6)
    assert expected.shape == (3, 4, 5)


def test_a_flattening_that_is_not_from_three_dimensions_stays():
    model = _tensordot()
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 3
    model.graph.input[0].type.tensor_type.shape.dim.add().dim_value = 2  # (N, 4, 3, 2)
    assert matmuls_without_reshapes(model) == 0


def test_export_streamlines_the_float_and_int8_reader(tmp_path):
    import keras

    from plate_ocr_pipeline.core.plate_config import PlateConfig
    from plate_ocr_pipeline.training.export import export_onnx, quantize_static_int8
    from plate_ocr_pipeline.training.models import build_model
    from tests.plate_model_helpers import PLATE, column_logits

    config = PlateConfig.from_dict(PLATE)
    keras.utils.set_random_seed(5)
    model = build_model(config, "cnn", width_multiplier=0.25, head="ctc", head_units=16,
                        pool_sizes=[[2, 2], [2, 2], [2, 1]], text_lines=2)  # fmt: skip
    fp32 = export_onnx(model, config, model_name="tiny", model_version="1")
    assert not [n.name for n in fp32.graph.node if "Tensordot" in n.name and n.op_type == "Reshape"]
    images = np.random.default_rng(5).integers(0, 256, (24, 64, 128, 1), dtype=np.uint8)
    int8 = quantize_static_int8(fp32, images[:16], batch_size=8)
    for graph in (fp32.graph, int8.graph):  # the two lines' matmuls share one flattening
        matmul_inputs = {n.input[0] for n in graph.node if "MatMul" in n.op_type}
        assert matmul_inputs  # the dense layers are there to check
        producers = {o: n for n in graph.node for o in n.output}
        quantised = {producers[i].input[0] for i in matmul_inputs if i in producers
                     and producers[i].op_type == "QuantizeLinear"}  # fmt: skip
        fed_by = [producers.get(i) for i in matmul_inputs | quantised]
        assert not [n for n in fed_by if n is not None and n.op_type == "Reshape"
                    and "Tensordot" in n.name]  # fmt: skip
    first = next(n for n in int8.graph.node if "input" in n.input)
    assert first.op_type == "Reshape"  # no Cast, Mul and QuantizeLinear before the first conv
    assert "Conv" not in [n.op_type for n in int8.graph.node]
    eight_bits = quantize_static_int8(fp32, images[:16], batch_size=8, reduce_range=False)
    keras_out = model.predict(images, verbose=0)  # one output: no region head
    fp32_out = _run(fp32, images)
    np.testing.assert_allclose(fp32_out, keras_out, atol=1e-5)
    # The INT8 copies' column logits stay close to float32's. (Not the slots after the greedy
    # decoding: an untrained model's logits are nearly even, and a small change moves a path.)
    logits = column_logits(fp32, images)
    for quantised in (int8, eight_bits):
        assert np.abs(column_logits(quantised, images) - logits).max() < 0.15 * np.abs(logits).max()


def _spelled_out_layer_norm(width: int = 6) -> onnx.ModelProto:
    """The thirteen operators tf2onnx writes for a Keras LayerNormalization of (N, width)."""
    make = helper.make_node
    nodes = [
        make("Cast", ["input"], ["x"], to=TensorProto.FLOAT),
        make("ReduceMean", ["x"], ["mean"], axes=[1], keepdims=1),
        make("Sub", ["x", "mean"], ["d"]),
        make("Neg", ["mean"], ["neg"]),
        make("Mul", ["d", "d"], ["sq"]),
        make("ReduceMean", ["sq"], ["var"], axes=[1], keepdims=1),
        make("Add", ["var", "eps"], ["ve"]),
        make("Sqrt", ["ve"], ["root"]),
        make("Reciprocal", ["root"], ["inv"]),
        make("Mul", ["inv", "gamma"], ["g"]),
        make("Mul", ["neg", "g"], ["shift"]),
        make("Mul", ["x", "g"], ["xg"]),
        make("Add", ["shift", "beta"], ["b"]),
        make("Add", ["xg", "b"], ["out"]),
    ]
    rng = np.random.default_rng(9)
    inits = {
        "eps": np.float32(1e-3),
        "gamma": rng.normal(size=(1, width)).astype(np.float32),
        "beta": rng.normal(size=(1, width)).astype(np.float32),
    }
    return _model(nodes, inits, ["N", width], in_shape=("N", width))


def test_a_spelled_out_layer_normalisation_becomes_one_operator():
    model = _spelled_out_layer_norm()
    x = np.random.default_rng(2).integers(0, 256, (5, 6), dtype=np.uint8)
    streamlined = streamline(model)
    assert [n.op_type for n in streamlined.graph.node] == ["Cast", "LayerNormalization"]
    np.testing.assert_allclose(_run(streamlined, x), _run(model, x), rtol=1e-5, atol=1e-5)
    xf = x.astype(np.float32)
    gamma, beta = (numpy_helper.to_array(i) for i in model.graph.initializer[1:])
    by_hand = (xf - xf.mean(1, keepdims=True)) / np.sqrt(xf.var(1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(_run(streamlined, x), by_hand * gamma + beta, rtol=1e-4, atol=1e-4)


def test_two_layer_normalisations_fuse_under_their_own_names():
    single = _spelled_out_layer_norm()
    nodes = list(single.graph.node)
    second = onnx.ModelProto()
    second.CopyFrom(single)
    for node in second.graph.node:  # the same thirteen operators on the first one's output
        node.input[:] = [f"{i}2" if i not in ("eps", "gamma", "beta") else i for i in node.input]
        node.output[:] = [f"{o}2" for o in node.output]
    chained = nodes + [n for n in second.graph.node if n.op_type != "Cast"]
    for node in chained[len(nodes) :]:
        node.input[:] = ["out" if i == "x2" else i for i in node.input]
    model = _model(chained, {"eps": np.float32(1e-3), "gamma": np.ones((1, 6), np.float32),
                             "beta": np.zeros((1, 6), np.float32)}, ["N", 6], ("N", 6))  # fmt: skip
    model.graph.output[0].name = "out2"
    x = np.random.default_rng(4).integers(0, 256, (3, 6), dtype=np.uint8)
    streamlined = streamline(model)
    fused = [n for n in streamlined.graph.node if n.op_type == "LayerNormalization"]
    assert len(fused) == 2 and len({n.name for n in fused}) == 2
    np.testing.assert_allclose(_run(streamlined, x), _run(model, x), rtol=1e-5, atol=1e-5)


def test_a_rewrite_that_breaks_the_graph_is_left_out_and_the_others_kept(monkeypatch, caplog):
    from plate_ocr_pipeline.training import onnx_streamline

    def breaks(model: onnx.ModelProto) -> int:
        model.graph.node[-1].input[0] = "nowhere"
        return 1

    monkeypatch.setattr(onnx_streamline, "fused_layer_norms", breaks)
    model = _tensordot()
    streamlined = streamline(model)
    assert [n.op_type for n in streamlined.graph.node] == ["Cast", "MatMul", "Add"]
    assert "breaks skipped" in caplog.text
    x = np.random.default_rng(0).integers(0, 256, (2, 4, 6), dtype=np.uint8)
    np.testing.assert_allclose(_run(streamlined, x), _run(model, x), rtol=1e-6)


def test_two_quantised_matmuls_sharing_one_flattening_take_the_3d_tensor():
    """The INT8 reader's two text lines: one flattening, one quantisation, two QLinearMatMul."""
    make = helper.make_node
    nodes = [
        make("Cast", ["input"], ["x"], to=TensorProto.FLOAT),
        make("Reshape", ["x", "flat"], ["x2"]),
        make("QuantizeLinear", ["x2", "xs", "xz"], ["xq"]),
        make("Shape", ["x"], ["shape"]),
        make("Gather", ["shape", "free"], ["lead"]),
        make("Concat", ["lead", "units"], ["back"], axis=0),
    ]
    outputs = []
    rng = np.random.default_rng(8)
    inits = {
        "flat": np.array([-1, 6], np.int64),
        "xs": np.float32(1.0),
        "xz": np.uint8(0),
        "free": np.array([0, 1], np.int64),
        "units": np.array([5], np.int64),
        "ys": np.float32(8.0),
        "yz": np.uint8(0),
        "bias": np.arange(5, dtype=np.float32),
    }
    for line in ("a", "b"):
        inits[f"w{line}"] = rng.integers(-3, 4, (6, 5)).astype(np.int8)
        inits[f"ws{line}"] = np.float32(1.0)
        inits[f"wz{line}"] = np.int8(0)
        nodes += [
            make(
                "QLinearMatMul",
                ["xq", "xs", "xz", f"w{line}", f"ws{line}", f"wz{line}", "ys", "yz"],
                [f"q{line}"],
            ),  # fmt: skip
            make("DequantizeLinear", [f"q{line}", "ys", "yz"], [f"d{line}"]),
            make("Reshape", [f"d{line}", "back"], [f"r{line}"]),
            make("Add", [f"r{line}", "bias"], [f"out_{line}"]),
        ]
        outputs.append(helper.make_tensor_value_info(f"out_{line}", TensorProto.FLOAT, ["N", 4, 5]))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", TensorProto.UINT8, ["N", 4, 6])],
        outputs,
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = np.random.default_rng(1).integers(0, 40, (3, 4, 6), dtype=np.uint8)
    session = onnxruntime.InferenceSession(model.SerializeToString())
    expected = session.run(None, {"input": x})
    streamlined = streamline(model)
    ops = [n.op_type for n in streamlined.graph.node]
    assert "Reshape" not in ops and "Shape" not in ops and ops.count("QLinearMatMul") == 2
    assert ops.count("QuantizeLinear") == 1
    got = onnxruntime.InferenceSession(streamlined.SerializeToString()).run(None, {"input": x})
    for a, b in zip(expected, got, strict=True):
        assert a.shape == b.shape == (3, 4, 5)
        np.testing.assert_array_equal(a, b)


def test_the_shipped_reader_is_streamlined():
    from plate_ocr_pipeline.inference.recognizer import DEFAULT_MODEL_PATH

    model = onnx.load(str(DEFAULT_MODEL_PATH))
    ops = [n.op_type for n in model.graph.node]
    first = next(n for n in model.graph.node if "input" in n.input)
    assert first.op_type == "Reshape" and "LayerNormalization" in ops
    assert streamline(model) is model  # nothing left to rewrite
