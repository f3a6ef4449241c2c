"""Merge CTC reader ONNX files into one that reads each crop with all of them and averages.

    .venv/bin/python scripts/merge_readers.py OUT.onnx MEMBER.onnx MEMBER.onnx [...]

Each member must be an exported reader with the outputs ``plate``, ``region`` and ``columns``
(the column softmax at the member's temperature) and the same input, alphabet and region
families. The merged file has the same input and outputs, so the recognizer, ``compare`` and
the benchmarks read it as one model:

- ``columns``: the softmax of the mean of the members' column log-probabilities (a geometric
  mean of their column probabilities, renormalised);
- ``plate``: those columns decoded by greedy CTC into slots, as ``CTCGreedySlots`` does in a
  single model's graph;
- ``region``: the mean of the members' family probabilities.

The members' nodes are copied unchanged (an INT8 member stays INT8); the averaging runs in
float32 after them. The metadata is the first member's, with the members' names and
temperatures recorded. A probe of averaging (docs/experiments.md, row 44), not a shipped path.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

from plate_ocr_pipeline.core.onnx_metadata import (
    MODEL_NAME_KEY,
    PLATE_CONFIG_KEY,
    REGION_FAMILIES_KEY,
    TEMPERATURE_KEY,
    plate_config_from_metadata,
    read_metadata,
)

OUTPUTS = ("plate", "region", "columns")
# Floor under a column probability before its log: a softmax in float32 can underflow to 0.
_PROB_FLOOR = 1e-12
MEMBERS_KEY = "plate_ocr.members"
# The tail's ops take their axes as attributes or inputs as opsets 13-17 define them.
_OPSETS = range(13, 18)


def _default_opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _shape(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_value or d.dim_param for d in value.type.tensor_type.shape.dim]


def _same_shape(a: onnx.ValueInfoProto, b: onnx.ValueInfoProto) -> bool:
    """Equal rank, and equal sizes past the batch axis where both files state them."""
    sa, sb = _shape(a), _shape(b)
    if len(sa) != len(sb):
        return False
    pairs = zip(sa[1:], sb[1:], strict=True)
    return all(x == y for x, y in pairs if isinstance(x, int) and isinstance(y, int))


def _check_members(members: Sequence[onnx.ModelProto], names: Sequence[str]) -> None:
    """Members must read one input the same way and give outputs of one shape."""
    first = members[0]
    meta0, opset0 = read_metadata(first), _default_opset(first)
    input0, outputs0 = first.graph.input[0], {o.name: o for o in first.graph.output}
    for model, name in zip(members, names, strict=True):
        outputs = {o.name: o for o in model.graph.output}
        if sorted(outputs) != sorted(OUTPUTS):
            raise ValueError(f"{name}: outputs {sorted(outputs)}, expected {list(OUTPUTS)}")
        if len(model.graph.input) != 1:
            raise ValueError(f"{name}: {len(model.graph.input)} inputs, expected 1")
        if any(a.type == onnx.AttributeProto.GRAPH for n in model.graph.node for a in n.attribute):
            raise ValueError(f"{name}: has control-flow subgraphs, which merging does not rewire")
        opset = _default_opset(model)
        if opset != opset0 or opset not in _OPSETS:
            raise ValueError(f"{name}: opset {opset}; members must share one of 13-17")
        meta = read_metadata(model)
        for key in (PLATE_CONFIG_KEY, REGION_FAMILIES_KEY):
            if meta.get(key) != meta0.get(key):
                raise ValueError(f"{name}: {key} differs from the first member's")
        mine = model.graph.input[0]
        if mine.type.tensor_type.elem_type != input0.type.tensor_type.elem_type or not _same_shape(
            mine, input0
        ):
            raise ValueError(f"{name}: input {_shape(mine)} differs from the first member's")
        for output in OUTPUTS:
            if not _same_shape(outputs[output], outputs0[output]):
                raise ValueError(f"{name}: output {output} differs in shape from the first's")


def averaging_nodes(count: int, slots: int, blank_index: int, vocab: int) -> list[onnx.NodeProto]:
    """Nodes from ``m{i}_columns`` / ``m{i}_region`` to the merged ``plate``, ``columns``,
    ``region``; constants are made by Constant nodes so the tail needs no initializers."""

    def const(name: str, value: np.ndarray) -> onnx.NodeProto:
        return helper.make_node(
            "Constant", [], [name], value=numpy_helper.from_array(value, name=name)
        )

    nodes = [
        const("avg_floor", np.array(_PROB_FLOOR, np.float32)),
        const("avg_share", np.array(1.0 / count, np.float32)),
        const("avg_one", np.array(1.0, np.float32)),
        const("avg_last_axis", np.array(-1, np.int64)),
        const("avg_column_axis", np.array(1, np.int64)),
        const("avg_axes_last", np.array([-1], np.int64)),
        const("avg_axes_columns", np.array([1], np.int64)),
        const("avg_blank", np.array([blank_index], np.int64)),
        const("avg_slot_ids", np.arange(slots, dtype=np.float32)),
        const("avg_pad_onehot", np.eye(vocab, dtype=np.float32)[blank_index]),
        const("avg_pad_front", np.array([0, 1, 0, 0, 0, 0], np.int64)),
        const("avg_slice_start", np.array([0], np.int64)),
        const("avg_slice_end", np.array([-1], np.int64)),
    ]
    for i in range(count):
        nodes += [
            helper.make_node("Max", [f"m{i}_columns", "avg_floor"], [f"avg_floored{i}"]),
            helper.make_node("Log", [f"avg_floored{i}"], [f"avg_log{i}"]),
        ]
    nodes += [
        helper.make_node("Sum", [f"avg_log{i}" for i in range(count)], ["avg_log_sum"]),
        helper.make_node("Mul", ["avg_log_sum", "avg_share"], ["avg_logits"]),
        helper.make_node("Softmax", ["avg_logits"], ["columns"], axis=-1),
        helper.make_node("Sum", [f"m{i}_region" for i in range(count)], ["avg_region_sum"]),
        helper.make_node("Mul", ["avg_region_sum", "avg_share"], ["region"]),
        # Greedy CTC into slots (training.models.ctc_greedy_slots, op for op).
        helper.make_node("ReduceMax", ["avg_logits"], ["avg_max"], axes=[-1], keepdims=1),
        helper.make_node("Equal", ["avg_logits", "avg_max"], ["avg_is_max"]),
        helper.make_node("Cast", ["avg_is_max"], ["avg_ties"], to=TensorProto.FLOAT),
        helper.make_node("CumSum", ["avg_ties", "avg_last_axis"], ["avg_ties_cum"]),
        helper.make_node("Equal", ["avg_ties_cum", "avg_one"], ["avg_first_tie"]),
        helper.make_node("Cast", ["avg_first_tie"], ["avg_first"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["avg_ties", "avg_first"], ["avg_best"]),
        helper.make_node("Pad", ["avg_best", "avg_pad_front"], ["avg_best_padded"]),
        helper.make_node(
            "Slice",
            ["avg_best_padded", "avg_slice_start", "avg_slice_end", "avg_axes_columns"],
            ["avg_previous"],
        ),
        helper.make_node("Mul", ["avg_best", "avg_previous"], ["avg_same"]),
        helper.make_node("ReduceSum", ["avg_same", "avg_axes_last"], ["avg_repeats"], keepdims=0),
        helper.make_node("Gather", ["avg_best", "avg_blank"], ["avg_blank_best3"], axis=2),
        helper.make_node(
            "ReduceSum", ["avg_blank_best3", "avg_axes_last"], ["avg_blank_best"], keepdims=0
        ),
        helper.make_node("Sub", ["avg_one", "avg_blank_best"], ["avg_not_blank"]),
        helper.make_node("Sub", ["avg_one", "avg_repeats"], ["avg_not_repeat"]),
        helper.make_node("Mul", ["avg_not_blank", "avg_not_repeat"], ["avg_emits"]),
        helper.make_node("CumSum", ["avg_emits", "avg_column_axis"], ["avg_emits_cum"]),
        helper.make_node("Sub", ["avg_emits_cum", "avg_one"], ["avg_position"]),
        helper.make_node("Unsqueeze", ["avg_position", "avg_axes_last"], ["avg_position3"]),
        helper.make_node("Equal", ["avg_position3", "avg_slot_ids"], ["avg_at_slot"]),
        helper.make_node("Cast", ["avg_at_slot"], ["avg_at_slot_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["avg_emits", "avg_axes_last"], ["avg_emits3"]),
        helper.make_node("Mul", ["avg_at_slot_f", "avg_emits3"], ["avg_assignment"]),
        helper.make_node("Transpose", ["avg_assignment"], ["avg_assignment_t"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["avg_assignment_t", "columns"], ["avg_filled"]),
        helper.make_node(
            "ReduceSum", ["avg_assignment", "avg_axes_columns"], ["avg_used"], keepdims=0
        ),
        helper.make_node("Sub", ["avg_one", "avg_used"], ["avg_empty"]),
        helper.make_node("Unsqueeze", ["avg_empty", "avg_axes_last"], ["avg_empty3"]),
        helper.make_node("Mul", ["avg_empty3", "avg_pad_onehot"], ["avg_pad_fill"]),
        helper.make_node("Add", ["avg_filled", "avg_pad_fill"], ["plate"]),
    ]
    return nodes


def _needed(nodes: list[onnx.NodeProto], outputs: Sequence[str]) -> list[onnx.NodeProto]:
    """The nodes that ``outputs`` depend on, in their order (the members' own ``plate``
    decoding is not)."""
    wanted, kept = set(outputs), []
    for node in reversed(nodes):
        if wanted.intersection(node.output):
            kept.append(node)
            wanted.update(node.input)
    return kept[::-1]


def merge_readers(members: Sequence[onnx.ModelProto], names: Sequence[str]) -> onnx.ModelProto:
    """One ONNX model reading with every member and averaging them (see the module doc)."""
    if len(members) < 2:
        raise ValueError("merging needs at least two members")
    _check_members(members, names)
    first = members[0]
    config = plate_config_from_metadata(read_metadata(first))
    if config is None:
        raise ValueError(f"{names[0]}: no plate_config in its metadata")
    slots, vocab, blank = config.max_plate_slots, config.vocabulary_size, config.pad_index
    input_proto = first.graph.input[0]
    input_name = input_proto.name

    nodes, initializers, value_info = [], [], []
    opsets: dict[str, int] = {}
    for i, model in enumerate(members):
        prefixed = compose.add_prefix(model, f"m{i}_")
        graph = prefixed.graph
        # Every member reads the merged model's one input.
        own_input = f"m{i}_{model.graph.input[0].name}"
        for node in graph.node:
            node.input[:] = [input_name if n == own_input else n for n in node.input]
        nodes.extend(graph.node)
        initializers.extend(graph.initializer)
        value_info.extend(graph.value_info)
        for opset in model.opset_import:
            opsets[opset.domain] = max(opsets.get(opset.domain, 0), opset.version)
    nodes = _needed(nodes + averaging_nodes(len(members), slots, blank, vocab), OUTPUTS)
    used = {name for node in nodes for name in node.input}
    made = {name for node in nodes for name in node.output}
    initializers = [t for t in initializers if t.name in used]
    value_info = [v for v in value_info if v.name in made]
    outputs = {o.name: o for o in first.graph.output}
    graph = helper.make_graph(
        nodes,
        "averaged_readers",
        [input_proto],
        [outputs[name] for name in OUTPUTS],
        initializer=initializers,
        value_info=value_info,
    )
    merged = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()]
    )
    merged.ir_version = max(m.ir_version for m in members)
    metadata = read_metadata(first)
    metadata[MEMBERS_KEY] = json.dumps(
        [
            {"name": name, "temperature": float(read_metadata(m).get(TEMPERATURE_KEY, 1.0))}
            for m, name in zip(members, names, strict=True)
        ]
    )
    metadata[MODEL_NAME_KEY] = f"average of {len(members)} readers"
    metadata[TEMPERATURE_KEY] = "1.0"  # each member's is already in its columns
    onnx.helper.set_model_props(merged, metadata)
    onnx.checker.check_model(merged)
    return merged


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="merged ONNX file to write")
    parser.add_argument("members", type=Path, nargs="+", help="reader ONNX files (2 or more)")
    args = parser.parse_args(argv)
    members = [onnx.load(str(path)) for path in args.members]
    merged = merge_readers(members, [str(path) for path in args.members])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(merged, str(args.output))
    print(f"{args.output}: {len(members)} members, {args.output.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
