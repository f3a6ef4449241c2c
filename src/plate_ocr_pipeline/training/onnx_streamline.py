"""Exact rewrites of an exported ONNX graph that remove work onnxruntime does not remove.

At batch 1 the reader's convolutions take about a third of the time; the rest goes to small
operators, each with its own dispatch cost. Three patterns from the Keras -> ONNX conversion
are pure overhead:

- the input chain ``Cast(uint8 -> float) -> Mul(1/255) -> Reshape -> QuantizeLinear`` of the
  INT8 copy: when the first activation is quantised with scale 1/255 and zero point 0, the
  quantised tensor is the uint8 input itself;
- a Dense over (batch, columns, features) becomes ``Reshape(-1, K) -> MatMul -> Reshape``
  with the output shape computed at run time (``Shape``, ``Gather``, ``Concat``, ``Cast``);
  ONNX ``MatMul`` and ``QLinearMatMul`` take the 3-D tensor directly;
- a Keras LayerNormalization becomes thirteen elementwise operators (mean, variance, rsqrt,
  scale and shift spelled out); ONNX has ``LayerNormalization`` (opset 17).

Every rewrite is checked on its own: the graph after it must give the original's outputs on
random inputs, or the rewrite is left out (with a warning).
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import numpy_helper

logger = logging.getLogger(__name__)

_PIXEL_SCALE = np.float32(1 / 255)


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    found: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in dict.fromkeys(node.input):  # a node reading a tensor twice counts once
            found.setdefault(name, []).append(node)
    return found


def _rename_uses(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name == old:
                node.input[k] = new


def _initializers(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in graph.initializer}


def _inferred_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    """Each tensor's shape as ONNX shape inference gives it (0 for an unknown dimension)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    return {
        info.name: [d.dim_value for d in info.type.tensor_type.shape.dim]
        for info in (*inferred.graph.value_info, *inferred.graph.input)
        if info.type.tensor_type.HasField("shape")
    }


def _drop_value_info(graph: onnx.GraphProto, names: set[str]) -> None:
    for info in list(graph.value_info):
        if info.name in names:
            graph.value_info.remove(info)


def feed_quantized_input_directly(model: onnx.ModelProto) -> int:
    """Drop ``Cast -> Mul(1/255) -> [Reshape] -> QuantizeLinear(1/255, 0)`` after the uint8
    input (the Reshape, if any, then reads the input). Returns the nodes removed (0 or 3)."""
    graph = model.graph
    inputs = {i.name for i in graph.input}
    constants = _initializers(graph)
    producer = {out: node for node in graph.node for out in node.output}
    consumers = _consumers(graph)
    for quantize in [n for n in graph.node if n.op_type == "QuantizeLinear"]:
        if len(quantize.input) < 3:
            continue  # no zero point: not the uint8 pattern
        scale, zero = (constants.get(name) for name in quantize.input[1:3])
        if scale is None or zero is None or zero.dtype != np.uint8:
            continue
        if scale.size != 1 or scale.item() != _PIXEL_SCALE or zero.item() != 0:
            continue
        chain, reshape, name = [], None, quantize.input[0]
        while name in producer and name not in inputs:
            node = producer[name]
            if node.op_type == "Reshape" and reshape is None:
                reshape = node
            elif node.op_type not in ("Cast", "Mul"):
                break
            chain.append(node)
            name = node.input[0]
        kinds = sorted(n.op_type for n in chain if n is not reshape)
        if name not in inputs or kinds != ["Cast", "Mul"]:
            continue
        mul = next(n for n in chain if n.op_type == "Mul")
        factor = constants.get(mul.input[1])
        if factor is None or factor.size != 1 or np.float32(factor.item()) != _PIXEL_SCALE:
            continue
        if any(len(consumers.get(n.output[0], [])) != 1 for n in chain):
            continue  # the float input is used elsewhere too
        if reshape is not None:
            reshape.input[0] = name
            _rename_uses(graph, quantize.output[0], reshape.output[0])
            _drop_value_info(graph, {reshape.output[0]})  # now uint8
        else:
            _rename_uses(graph, quantize.output[0], name)
        for node in [n for n in chain if n is not reshape] + [quantize]:
            graph.node.remove(node)
        return 3
    return 0


def matmuls_without_reshapes(model: onnx.ModelProto) -> int:
    """``Reshape(x, [-1, K]) -> MatMul(W) -> Reshape(back)`` on a 3-D ``x`` becomes
    ``MatMul(x, W)`` (also through the ``QuantizeLinear``/``DequantizeLinear`` around a
    ``QLinearMatMul``). Returns the reshapes removed."""
    ranks = {name: len(shape) for name, shape in _inferred_shapes(model).items()}
    graph = model.graph
    constants = _initializers(graph)
    producer = {out: node for node in graph.node for out in node.output}
    consumers = _consumers(graph)
    outputs = {o.name for o in graph.output}
    elementwise = ("QuantizeLinear", "DequantizeLinear")
    removed: set[str] = set()  # the removed reshapes' outputs (nodes may have no name)

    def flattens(node: onnx.NodeProto) -> bool:
        shape = constants.get(node.input[1]) if node.op_type == "Reshape" else None
        return (
            shape is not None
            and shape.tolist()[:1] == [-1]
            and len(shape) == 2
            and ranks.get(node.input[0]) == 3
        )

    matches: list[tuple[onnx.NodeProto, onnx.NodeProto, onnx.NodeProto]] = []
    for matmul in [n for n in graph.node if n.op_type in ("MatMul", "QLinearMatMul")]:
        weight = matmul.input[3] if matmul.op_type == "QLinearMatMul" else matmul.input[1]
        if weight not in constants or constants[weight].ndim != 2:
            continue
        before = producer.get(matmul.input[0])
        if before is not None and before.op_type in elementwise:
            if _per_axis(before, constants):
                continue
            before = producer.get(before.input[0])
        after = consumers.get(matmul.output[0], [])
        if len(after) == 1 and after[0].op_type in elementwise:
            if _per_axis(after[0], constants):
                continue
            after = consumers.get(after[0].output[0], [])
        if before is None or not flattens(before) or len(after) != 1:
            continue
        unflatten = after[0]
        if unflatten.op_type != "Reshape" or unflatten.output[0] in outputs:
            continue
        if ranks.get(unflatten.output[0], 3) != 3:
            continue  # back to (batch, columns, units), nothing else
        matches.append((before, matmul, unflatten))
    # Every user of a flattened tensor must be one of the matched matmuls (directly or through
    # its quantisation), or the 3-D tensor would reach an operator expecting 2-D.
    matched = {id(m) for _, m, _ in matches}

    def feeds_matched(node: onnx.NodeProto) -> bool:
        if id(node) in matched:
            return True
        users = consumers.get(node.output[0], []) if node.op_type == "QuantizeLinear" else []
        return bool(users) and all(id(u) in matched for u in users)

    matches = [
        (before, matmul, unflatten)
        for before, matmul, unflatten in matches
        if all(feeds_matched(u) for u in consumers.get(before.output[0], []))
    ]
    # Rewired only once all matches are known: two matmuls may share one flattening.
    for before, _, unflatten in matches:
        if before.output[0] not in removed:
            _rename_uses(graph, before.output[0], before.input[0])
            removed.add(before.output[0])
        _rename_uses(graph, unflatten.output[0], unflatten.input[0])
        removed.add(unflatten.output[0])
    for node in [n for n in graph.node if n.output[0] in removed]:
        graph.node.remove(node)
    if removed:
        # Shapes recorded for the 2-D intermediates no longer hold.
        del graph.value_info[:]
    return len(removed)


def _per_axis(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> bool:
    """A (de)quantisation with a scale per channel: tied to the 2-D layout."""
    scale = constants.get(node.input[1]) if len(node.input) > 1 else None
    return scale is None or scale.size != 1


def fused_layer_norms(model: onnx.ModelProto) -> int:
    """Replace the converter's spelled-out layer normalisation over the last axis of a 2-D
    tensor (``x*g + (beta - mean*g)`` with ``g = gamma / sqrt(var + eps)``) by one
    ``LayerNormalization``. Returns the normalisations replaced."""
    if not any(op.domain in ("", "ai.onnx") and op.version >= 17 for op in model.opset_import):
        return 0
    shapes = _inferred_shapes(model)
    replaced = 0
    while (match := _spelled_out_layer_norm(model.graph, shapes)) is not None:
        spelled_out, x, gamma, beta, eps = match
        graph, final = model.graph, spelled_out[-1]
        name = final.output[0] + "/fused_layer_norm"
        graph.initializer.extend(
            [
                numpy_helper.from_array(gamma.reshape(-1).astype(np.float32), name + "/gamma"),
                numpy_helper.from_array(beta.reshape(-1).astype(np.float32), name + "/beta"),
            ]
        )
        fused = onnx.helper.make_node(
            "LayerNormalization",
            [x, name + "/gamma", name + "/beta"],
            [final.output[0]],
            name=name,
            axis=-1,
            epsilon=eps,
        )
        graph.node.insert(list(graph.node).index(final), fused)
        for node in spelled_out:
            graph.node.remove(node)
        _drop_value_info(graph, {n.output[0] for n in spelled_out})
        replaced += 1
    return replaced


def _spelled_out_layer_norm(
    graph: onnx.GraphProto, shapes: dict[str, list[int]]
) -> tuple[list[onnx.NodeProto], str, np.ndarray, np.ndarray, float] | None:
    """The first spelled-out layer normalisation: its nodes (the final Add last), input,
    gamma, beta and epsilon; None when there is none."""
    consumers = _consumers(graph)
    constants = _initializers(graph)

    def only(name: str, op_type: str) -> onnx.NodeProto | None:
        users = consumers.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op_type else None

    def other(node: onnx.NodeProto, name: str) -> np.ndarray | None:
        rest = [i for i in node.input if i != name]
        return constants.get(rest[0]) if len(rest) == 1 else None

    def last_axis_mean(node: onnx.NodeProto | None) -> bool:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute} if node else {}
        return attrs.get("axes") in ([1], [-1]) and attrs.get("keepdims", 1) == 1

    for mean in [n for n in graph.node if n.op_type == "ReduceMean" and len(n.input) == 1]:
        x = mean.input[0]
        shape = shapes.get(x, [])
        if len(shape) != 2 or shape[1] <= 0 or not last_axis_mean(mean):
            continue
        users = consumers.get(mean.output[0], [])
        sub = next((u for u in users if u.op_type == "Sub" and list(u.input) == [x, mean.output[0]]), None)  # fmt: skip
        neg = next((u for u in users if u.op_type == "Neg"), None)
        square = only(sub.output[0], "Mul") if sub else None
        if len(users) != 2 or not (neg and square and list(square.input) == [sub.output[0]] * 2):
            continue
        variance = only(square.output[0], "ReduceMean")
        add_eps = only(variance.output[0], "Add") if last_axis_mean(variance) else None
        sqrt = only(add_eps.output[0], "Sqrt") if add_eps else None
        recip = only(sqrt.output[0], "Reciprocal") if sqrt else None
        scale = only(recip.output[0], "Mul") if recip else None
        scaled = consumers.get(scale.output[0], []) if scale else []
        shift = next((u for u in scaled if u.op_type == "Mul" and neg.output[0] in u.input), None)
        times_x = next((u for u in scaled if u.op_type == "Mul" and x in u.input), None)
        if len(scaled) != 2 or not (shift and times_x) or consumers.get(neg.output[0]) != [shift]:
            continue
        add_beta = only(shift.output[0], "Add")
        final = only(times_x.output[0], "Add")
        if add_beta is None or final is None or consumers.get(add_beta.output[0]) != [final]:
            continue
        eps = other(add_eps, variance.output[0])
        gamma = other(scale, recip.output[0])
        beta = other(add_beta, shift.output[0])
        width = shape[1]
        if eps is None or eps.size != 1 or gamma is None or beta is None:
            continue
        if gamma.shape not in ((width,), (1, width)) or beta.shape not in ((width,), (1, width)):
            continue
        nodes = [mean, sub, neg, square, variance, add_eps, sqrt, recip, scale, shift, times_x,
                 add_beta, final]  # fmt: skip
        return nodes, x, gamma, beta, float(eps.item())
    return None


def remove_dead_nodes(model: onnx.ModelProto) -> int:
    """Nodes none of whose outputs reach a graph output, and initializers nobody reads."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    keep: list[onnx.NodeProto] = []
    for node in reversed(graph.node):
        if any(out in needed for out in node.output):
            keep.append(node)
            needed.update(node.input)
    dead = len(graph.node) - len(keep)
    if dead:
        kept = list(reversed(keep))
        del graph.node[:]
        graph.node.extend(kept)
    unused = [i for i in graph.initializer if i.name not in needed]
    for init in unused:
        graph.initializer.remove(init)
    return dead


def _outputs(model: onnx.ModelProto, batch: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: batch})


def _differences(expected: list[np.ndarray], actual: list[np.ndarray]) -> str | None:
    for a, b in zip(expected, actual, strict=True):
        if a.shape != b.shape:
            return f"an output of shape {b.shape} instead of {a.shape}"
        if not np.allclose(a, b, rtol=1e-5, atol=1e-5):
            return f"outputs differ by up to {np.abs(a - b).max():.3g}"
    return None


def streamline(model: onnx.ModelProto, check_images: int = 8, seed: int = 0) -> onnx.ModelProto:
    """``model`` with the rewrites above, each kept only if the graph then gives the
    original's outputs on ``check_images`` random inputs and on a batch of one; ``model``
    itself when none applies (or its input has dimensions unknown beyond the batch)."""
    input_type = model.graph.input[0].type.tensor_type
    dims = [d.dim_value for d in input_type.shape.dim[1:]]
    if not dims or min(dims) <= 0:
        logger.warning("ONNX streamlining skipped: input dimensions %s are not all known", dims)
        return model
    rng = np.random.default_rng(seed)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(input_type.elem_type)
    if np.issubdtype(dtype, np.integer):
        batch = rng.integers(0, 256, (check_images, *dims)).astype(dtype)
    else:
        batch = rng.random((check_images, *dims)).astype(dtype)
    expected = [_outputs(model, images) for images in (batch, batch[:1])]
    current = model
    for rewrite in (feed_quantized_input_directly, matmuls_without_reshapes, fused_layer_norms):
        candidate = onnx.ModelProto()
        candidate.CopyFrom(current)
        try:
            if not rewrite(candidate):
                continue
            remove_dead_nodes(candidate)
            onnx.checker.check_model(candidate)
            for images, outputs in zip((batch, batch[:1]), expected, strict=True):
                problem = _differences(outputs, _outputs(candidate, images))
                if problem:
                    raise ValueError(problem)
        except Exception as error:  # noqa: BLE001 - any failure: keep the graph without it
            logger.warning("ONNX streamlining: %s skipped: %s", rewrite.__name__, error)
            continue
        current = candidate
    if current is not model:
        logger.info(
            "ONNX streamlined: %d -> %d nodes", len(model.graph.node), len(current.graph.node)
        )
    return current
