"""Tiny plate models for the export/recognizer/infer tests: rendered crops and models whose
weights are solved (least squares) so that they read a few known texts exactly.

Pooling the 64x128 crop to 8x16 and one linear layer gives 128 features; with fewer texts
than features the least-squares solution reproduces the target logits exactly, so the model
"memorises" the rendered texts in milliseconds and deterministically.
"""

from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from plate_ocr_pipeline.core.onnx_metadata import embed_metadata
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.text_codec import encode_texts

PLATE = {
    "max_plate_slots": 10,
    "alphabet": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_",
    "pad_char": "_",
    "img_height": 64,
    "img_width": 128,
    "color_mode": "grayscale",
}
TEXTS = ("AB123", "XY9876Z", "K4M")
POOL = 8
LOGIT_SCALE = 30.0


def render_plate(text: str, height: int = 64, width: int = 128) -> np.ndarray:
    """A grayscale uint8 crop with dark text on a light plate."""
    image = np.full((height, width), 220, dtype=np.uint8)
    scale = height / 64
    cv2.putText(
        image,
        text,
        (int(4 * scale), int(44 * scale)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.9 * scale * 7 / max(len(text), 5),
        20,
        max(1, int(2 * scale)),
        cv2.LINE_AA,
    )
    return image


def pooled_features(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 1) uint8 -> (N, H/POOL * W/POOL) float: what both model builders compute."""
    n, h, w, _ = images.shape
    x = images.astype(np.float32)[..., 0] / 255.0
    return x.reshape(n, h // POOL, POOL, w // POOL, POOL).mean(axis=(2, 4)).reshape(n, -1)


def solve_weights(config: PlateConfig, texts=TEXTS) -> tuple[np.ndarray, np.ndarray]:
    images = np.stack([render_plate(t)[..., None] for t in texts])
    features = pooled_features(images)
    # A constant feature makes the bias part of the solve.
    design = np.hstack([features, np.ones((len(texts), 1), dtype=np.float32)])
    targets = np.eye(config.vocabulary_size, dtype=np.float32)[encode_texts(texts, config)]
    targets = (targets * LOGIT_SCALE).reshape(len(texts), -1)
    solution, *_ = np.linalg.lstsq(design, targets, rcond=None)
    return solution[:-1].astype(np.float32), solution[-1].astype(np.float32)


def build_memorising_onnx(config: PlateConfig | None = None, texts=TEXTS) -> onnx.ModelProto:
    """uint8 NHWC ``input`` -> (N, slots, vocab) softmax, built with onnx.helper (no TF)."""
    config = config or PlateConfig.from_dict(PLATE)
    kernel, bias = solve_weights(config, texts)
    h, w = config.img_height, config.img_width
    slots, vocab = config.max_plate_slots, config.vocabulary_size
    nodes = [
        helper.make_node("Cast", ["input"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["xf", "scale"], ["xs"]),
        helper.make_node("Transpose", ["xs"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node(
            "AveragePool", ["nchw"], ["pooled"], kernel_shape=[POOL, POOL], strides=[POOL, POOL]
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "kernel", "bias"], ["logits"]),
        helper.make_node("Reshape", ["logits", "shape"], ["slots"]),
        helper.make_node("Softmax", ["slots"], ["probabilities"], axis=-1),
    ]
    initializers = [
        numpy_helper.from_array(np.array(1 / 255, dtype=np.float32), "scale"),
        numpy_helper.from_array(kernel, "kernel"),
        numpy_helper.from_array(bias, "bias"),
        numpy_helper.from_array(np.array([-1, slots, vocab], dtype=np.int64), "shape"),
    ]
    graph = helper.make_graph(
        nodes,
        "memorising_plate_model",
        [helper.make_tensor_value_info("input", TensorProto.UINT8, [None, h, w, 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, slots, vocab])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def build_memorising_reader_onnx(
    text_families: dict[str, str], families: list[str], config: PlateConfig | None = None
) -> onnx.ModelProto:
    """``build_memorising_onnx`` for the texts of ``text_families`` plus a ``region`` output
    (softmax over ``families``) that gives each text its family, the families in the
    metadata: a model with a region head, as the export stage writes them."""
    from plate_ocr_pipeline.core.onnx_metadata import REGION_FAMILIES_KEY

    config = config or PlateConfig.from_dict(PLATE)
    texts = tuple(text_families)
    model = build_memorising_onnx(config, texts)
    images = np.stack([render_plate(t)[..., None] for t in texts])
    design = np.hstack([pooled_features(images), np.ones((len(texts), 1), dtype=np.float32)])
    targets = np.eye(len(families), dtype=np.float32)[[families.index(text_families[t])
                                                       for t in texts]] * LOGIT_SCALE  # fmt: skip
    solution, *_ = np.linalg.lstsq(design, targets, rcond=None)
    graph = model.graph
    graph.initializer.extend([
        numpy_helper.from_array(solution[:-1].astype(np.float32), "region_kernel"),
        numpy_helper.from_array(solution[-1].astype(np.float32), "region_bias"),
    ])  # fmt: skip
    graph.node.extend([
        helper.make_node("Gemm", ["flat", "region_kernel", "region_bias"], ["region_logits"]),
        helper.make_node("Softmax", ["region_logits"], ["region"], axis=-1),
    ])  # fmt: skip
    graph.output.append(
        helper.make_tensor_value_info("region", TensorProto.FLOAT, [None, len(families)])
    )
    onnx.checker.check_model(model)
    return embed_metadata(model, config, extra={REGION_FAMILIES_KEY: families})


def save_memorising_onnx(folder) -> Path:
    """``build_memorising_onnx()`` with the plate config in its metadata, saved as
    ``folder/model.onnx``: a model file the recognizer opens as it is."""
    path = Path(folder) / "model.onnx"
    onnx.save(embed_metadata(build_memorising_onnx(), PlateConfig.from_dict(PLATE)), path)
    return path


def build_memorising_keras(config: PlateConfig | None = None, texts=TEXTS):
    """The same model in Keras 3 (uint8 input named ``input``, Rescaling inside)."""
    import keras

    config = config or PlateConfig.from_dict(PLATE)
    kernel, bias = solve_weights(config, texts)
    slots, vocab = config.max_plate_slots, config.vocabulary_size
    inputs = keras.Input((config.img_height, config.img_width, 1), dtype="uint8", name="input")
    x = keras.layers.Rescaling(1 / 255)(keras.ops.cast(inputs, "float32"))
    x = keras.layers.AveragePooling2D(POOL)(x)
    x = keras.layers.Flatten()(x)
    dense = keras.layers.Dense(slots * vocab)
    x = dense(x)
    x = keras.layers.Reshape((slots, vocab), name="slots")(x)  # the logits, as in models.py
    outputs = keras.layers.Softmax()(x)
    model = keras.Model(inputs, outputs, name="memorising_plate_model")
    dense.set_weights([kernel, bias])
    return model


def column_logits(model: onnx.ModelProto, images: np.ndarray) -> np.ndarray:
    """The model's column logits (the float tensor the CTC decoding reads), as an output."""
    name = next(n.output[0] for n in model.graph.node if "column_logits" in n.name)
    model = copy.deepcopy(model)
    model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run([name], {session.get_inputs()[0].name: images})[0]


def column_probs(spec: list, columns: int = 32, alphabet: str = PLATE["alphabet"]) -> np.ndarray:
    """``(columns, len(alphabet))`` CTC column probabilities: each entry of ``spec`` a character
    (0.99) or ``{character: probability}``; columns past ``spec`` are blank (``_``)."""
    probs = np.full((columns, len(alphabet)), 1e-4)
    for t in range(columns):
        entry = spec[t] if t < len(spec) else "_"
        for character, p in ({entry: 0.99} if isinstance(entry, str) else entry).items():
            probs[t, alphabet.index(character)] = p
    return probs / probs.sum(-1, keepdims=True)
