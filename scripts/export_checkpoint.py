"""Export a training checkpoint (``.keras``) to a self-describing ONNX file, so that a run in
progress can be scored on real crops without waiting for its export stage:

    .venv/bin/python scripts/export_checkpoint.py [CHECKPOINT.keras] [OUT.onnx] [--plate YML]
    make score MODEL=OUT.onnx

``make score-checkpoint`` does both for ``data/06_models/checkpoints/last.keras``. The plate
config comes from ``conf/base/parameters_plate.yml`` unless ``--plate`` names another YAML
with a ``plate:`` section; a model whose input or output shape disagrees with it is refused.
A CTC head's checkpoint (its column logits) gets the greedy slot decoding on top.
The epoch count from ``state.json`` beside the checkpoint goes into the model version.

An ``OUT.keras`` instead writes the checkpoint's weights as the trained model that
``kedro run --pipelines=reader`` fits the region head on and exports
(``data/06_models/plate_ocr.keras``): a run with ``train.ema_momentum`` exports the weights'
average, while its last checkpoint holds the weights the same run without it ends with.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import onnx
import yaml

from plate_ocr_pipeline.core.plate_config import PlateConfig

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINT = "data/06_models/checkpoints/last.keras"
DEFAULT_OUTPUT = "data/06_models/checkpoint.onnx"


def export_checkpoint(checkpoint: str | Path, output: str | Path, plate: dict) -> Path:
    """Write ``checkpoint`` as ONNX with ``plate`` in its metadata, or as the slot model in
    Keras' format when ``output`` ends in ``.keras``; returns the output path."""
    import keras

    # Importing these registers the custom layers, metrics and schedules.
    from plate_ocr_pipeline.training.export import export_onnx
    from plate_ocr_pipeline.training.models import as_slot_model
    from plate_ocr_pipeline.training.trainer import check_plate_shapes

    checkpoint = Path(checkpoint)
    config = PlateConfig.from_dict(plate)
    # A CTC run checkpoints the column logits it trains; read them as slots.
    model = as_slot_model(keras.saving.load_model(checkpoint, compile=False), config)
    try:
        check_plate_shapes(model, config, f"checkpoint {checkpoint}")
    except ValueError as error:
        raise ValueError(f"{error}; pass the config it was trained with (--plate)") from None
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".keras":
        from plate_ocr_pipeline.datasets.keras_model_dataset import KerasModelDataset

        KerasModelDataset(filepath=str(output)).save(model)  # as the train stage saves it
        return output
    state = checkpoint.parent / "state.json"
    epochs = json.loads(state.read_text())["epochs_done"] if state.exists() else None
    version = f"checkpoint after epoch {epochs}" if epochs else "checkpoint"
    described = export_onnx(model, config, model_name=checkpoint.stem, model_version=version)
    onnx.save(described, str(output))
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?", default=DEFAULT_CHECKPOINT)
    parser.add_argument("output", nargs="?", default=DEFAULT_OUTPUT)
    parser.add_argument("--plate", default=str(ROOT / "conf/base/parameters_plate.yml"))
    args = parser.parse_args()
    plate = yaml.safe_load(Path(args.plate).read_text())["plate"]
    path = export_checkpoint(args.checkpoint, args.output, plate)
    if path.suffix == ".keras":
        print(f"wrote {args.checkpoint}'s weights as {path}; kedro run --pipelines=reader fits "
              "the reader on data/06_models/plate_ocr.keras and exports it")  # fmt: skip
    else:
        print(f"exported {args.checkpoint} -> {path}; score it with: make score MODEL={path}")


if __name__ == "__main__":
    main()
