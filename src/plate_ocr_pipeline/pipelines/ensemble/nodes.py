"""Nodes of the ensemble stage: combine trained multi-head models into one Keras model."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from plate_ocr_pipeline.plate_config import PlateConfig

logger = logging.getLogger(__name__)

# Every builder in plate_ocr_pipeline.models names its pre-softmax logits layer so.
LOGITS_LAYER = "slots"


def select_members(
    member_loaders: Mapping[str, Callable[[], Any]], members: list[str] | None
) -> dict[str, Any]:
    """Load the chosen member models (all of them, in name order, when ``members`` is null).

    Fails before anything is built when a named member is missing or none are there.
    """
    available = sorted(member_loaders)
    names = available if members is None else list(members)
    missing = [name for name in names if name not in member_loaders]
    if missing or not names:
        raise ValueError(
            f"ensemble members {missing or names} not found among the saved models "
            f"{available} (data/06_models/ensemble_members/<name>.keras)"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"ensemble.members names a model twice: {names}")
    return {name: member_loaders[name]() for name in names}


def _ctc_members(members: Mapping[str, Any]) -> bool:
    """Whether the members have CTC heads (all of them) or slot heads (all of them)."""
    from plate_ocr_pipeline.models import has_ctc_head

    kinds = {name: has_ctc_head(model) for name, model in members.items()}
    if len(set(kinds.values())) > 1:
        ctc = sorted(name for name, is_ctc in kinds.items() if is_ctc)
        raise ValueError(
            f"ensemble members {ctc} have CTC heads and the others slot heads: per-column and "
            "per-slot logits cannot be averaged; combine models of one kind"
        )
    return any(kinds.values())


def build_ensemble_model(members: Mapping[str, Any], plate: dict[str, Any]):
    """One model whose slot probabilities are the softmax of the members' mean logits
    (members with CTC heads: the greedy decoding of their mean per-column logits).

    Averaging logits and taking the softmax is the normalised geometric mean of the members'
    probabilities: a slot where one member is sure and the other unsure follows the sure one
    more than a plain mean of probabilities would. The members keep their own weights and run
    side by side on the same input, so the ensemble costs the sum of their latencies.
    """
    import keras

    from plate_ocr_pipeline.models import COLUMN_LOGITS_LAYER, ctc_decoding
    from plate_ocr_pipeline.training import check_plate_shapes

    config = PlateConfig.from_dict(plate)
    inputs = keras.Input(
        shape=(config.img_height, config.img_width, config.num_channels),
        dtype="uint8",
        name="input",
    )
    ctc = _ctc_members(members)
    logits = []
    for name, model in members.items():
        check_plate_shapes(model, config, f"ensemble member {name!r}")
        layer_name = COLUMN_LOGITS_LAYER if ctc else LOGITS_LAYER
        try:
            member_logits = model.get_layer(layer_name).output
        except ValueError as error:
            raise ValueError(
                f"ensemble member {name!r} has no {layer_name!r} layer; only models built "
                "by plate_ocr_pipeline.models can be combined"
            ) from error
        member = keras.Model(model.input, member_logits, name=f"member_{name}")
        logits.append(member(inputs))
    if ctc and len({tuple(t.shape) for t in logits}) > 1:
        raise ValueError(
            "the CTC ensemble members read different numbers of columns "
            f"({', '.join(f'{n}: {t.shape[1]}' for n, t in zip(members, logits, strict=True))});"
            " their column logits cannot be averaged"
        )
    mean_logits = (
        logits[0] if len(logits) == 1 else keras.layers.Average(name="mean_logits")(logits)
    )
    if ctc:
        # Mean per-column logits, then the members' own greedy decoding into slots.
        outputs = ctc_decoding(config)(mean_logits)
    else:
        outputs = keras.layers.Softmax(axis=-1, name="plate")(mean_logits)
    ensemble = keras.Model(inputs, outputs, name="plate_ocr_ensemble")
    logger.info(
        "Ensemble of %d models (%s): %d parameters",
        len(members), ", ".join(members), ensemble.count_params(),
    )  # fmt: skip
    return ensemble
