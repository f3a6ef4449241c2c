"""A trainable Keras model from an exported ``cnn`` ONNX file, so a shipped model can be
fine-tuned or given a new head without the ``.keras`` file of the run that made it.

The export folds each BatchNormalization into the conv before it (``W' = W * g / s``,
``b' = beta - mean * g / s``), so the original statistics are gone. They are not needed to
give the same function: with the folded kernel in the conv and a BatchNormalization whose
moving mean and variance are the conv outputs' own statistics on some calibration crops
(``gamma = sqrt(var + eps)``, ``beta = b' + mean``), inference is exactly the ONNX model,
and training mode, which normalises with batch statistics close to those, starts close to it.
Dense layers are copied as they are. Layers are matched in graph order and checked by shape.
"""

from __future__ import annotations

import numpy as np


def _onnx_weights(onnx_path: str) -> tuple[list[tuple], list[tuple]]:
    """The (kernel, bias) of every Conv, and of every MatMul by a constant matrix with the
    constant Add after it (a Dense), in graph order. A bias that was all zeros may have been
    optimised away: it is ``None`` then."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(onnx_path).graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    convs, denses = [], []
    for node in graph.node:
        weights = [constants[name] for name in node.input if name in constants]
        if node.op_type == "Conv":
            convs.append((weights[0], weights[1] if len(weights) > 1 else None))
        elif node.op_type == "MatMul" and len(weights) == 1 and weights[0].ndim == 2:
            denses.append((weights[0], _bias_after(node, consumers, constants)))
    return convs, denses


def _bias_after(matmul, consumers: dict, constants: dict):
    """The constant of the Add that follows ``matmul``, through the reshapes of a Keras
    Tensordot (MatMul -> Reshape -> Add), or ``None``."""
    node = matmul
    while True:
        after = consumers.get(node.output[0], [])
        if len(after) != 1:
            return None
        node = after[0]
        if node.op_type == "Add":
            biases = [constants[name] for name in node.input if name in constants]
            return biases[0] if biases else None
        if node.op_type not in ("Reshape", "Squeeze", "Unsqueeze", "Identity"):
            return None


def keras_from_onnx(model, onnx_path: str, calibration_images: np.ndarray, tolerance: float = 1e-3):
    """Fill ``model``, a freshly built ``cnn`` of the architecture ``onnx_path`` was exported
    from, with that file's weights, and return it. ``calibration_images`` (preprocessed
    ``uint8`` crops, a few hundred) give the batch-norm statistics. Raises ``ValueError`` when
    the layers do not match or the result differs from the ONNX model by more than
    ``tolerance`` on the calibration crops."""
    import keras
    import onnxruntime as ort

    convs, denses = _onnx_weights(onnx_path)
    conv_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    dense_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if len(conv_layers) != len(convs) or len(dense_layers) != len(denses):
        raise ValueError(
            f"{onnx_path} has {len(convs)} convolutions and {len(denses)} dense layers; the "
            f"model given has {len(conv_layers)} and {len(dense_layers)}: not its architecture"
        )
    folded_biases = []
    for layer, (kernel, bias) in zip(conv_layers, convs, strict=True):
        keras_kernel = kernel.transpose(2, 3, 1, 0)  # ONNX OIHW -> Keras HWIO
        if layer.kernel.shape != keras_kernel.shape:
            raise ValueError(
                f"{onnx_path}: layer {layer.name} needs a {tuple(layer.kernel.shape)} kernel,"
                f" the ONNX file has {keras_kernel.shape}"
            )
        layer.kernel.assign(keras_kernel)
        folded_biases.append(np.zeros(kernel.shape[0], "float32") if bias is None else bias)
    for layer, (kernel, bias) in zip(dense_layers, denses, strict=True):
        if layer.kernel.shape != kernel.shape:
            raise ValueError(
                f"{onnx_path}: layer {layer.name} needs a {tuple(layer.kernel.shape)} kernel,"
                f" the ONNX file has {kernel.shape}"
            )
        layer.set_weights([kernel, np.zeros(kernel.shape[1], "float32") if bias is None else bias])

    norms = [_norm_after(model, layer) for layer in conv_layers]
    # First the identity plus the folded bias (exact in inference), then real statistics.
    for norm, bias in zip(norms, folded_biases, strict=True):
        _set_norm(norm, np.zeros_like(bias), np.ones_like(bias), bias)
    probe = keras.Model(model.input, [layer.output for layer in conv_layers])
    outputs = probe.predict(calibration_images, batch_size=64, verbose=0)
    for norm, bias, output in zip(norms, folded_biases, outputs, strict=True):
        flat = output.reshape(-1, output.shape[-1])
        _set_norm(norm, flat.mean(0), flat.var(0), bias)

    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: calibration_images})[0]
    got = model.predict(calibration_images, batch_size=64, verbose=0)
    difference = float(np.abs(expected - got).max())
    if difference > tolerance:
        raise ValueError(
            f"the Keras model built from {onnx_path} differs from it by {difference:.2g} "
            f"(more than {tolerance}) on the calibration crops: not its architecture"
        )
    return model


def _norm_after(model, conv_layer):
    """The BatchNormalization named like ``conv_layer`` (``<block>_conv`` -> ``<block>_bn``)."""
    name = conv_layer.name.removesuffix("_conv") + "_bn"
    try:
        return model.get_layer(name)
    except ValueError as error:
        raise ValueError(f"no batch norm {name!r} after {conv_layer.name!r}") from error


def _set_norm(norm, mean: np.ndarray, variance: np.ndarray, folded_bias: np.ndarray) -> None:
    scale = np.sqrt(variance + norm.epsilon)
    norm.set_weights([scale, folded_bias + mean, mean, variance])
