"""Rebuild a trainable ``.keras`` model from an exported ONNX file (by default the shipped one),
so it can be fine-tuned (``train.init_from``) or put under a new head (``train.transfer_from``)
without the run that made it.

    .venv/bin/python scripts/keras_from_onnx.py [--onnx PATH] [--env ENV] [--out PATH]

The architecture is ``train.model`` of the Kedro environment ``--env`` (the recipe that built
the file's architecture; by default ``SHIPPED_ARCHITECTURE``, the shipped model's). The
batch-norm statistics come from 512 synthetic plates of that environment's generator settings
(never from real crops). Fails when the rebuilt model's outputs differ from the ONNX file's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "plate_ocr_pipeline" / "assets" / "models" / "default.onnx"
# The environment whose train.model built the shipped model (its fine-tunes keep it).
SHIPPED_ARCHITECTURE = "ctc_32_columns"


def _parameters(env: str) -> dict:
    """``env`` soft-merged over conf/base by the project's own config loader."""
    from kedro.config import OmegaConfigLoader

    from plate_ocr_pipeline.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(str(ROOT / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": env})
    return loader["parameters"]


def rebuild(onnx_path: str, env: str, calibration_plates: int = 512):
    """The trainable Keras model of ``onnx_path``, architecture from ``env``'s parameters."""
    from plate_ocr_pipeline import ONNXPlateRecognizer
    from plate_ocr_pipeline.image_preprocessing import preprocess_batch
    from plate_ocr_pipeline.models import build_model
    from plate_ocr_pipeline.onnx_to_keras import keras_from_onnx
    from plate_ocr_pipeline.pipelines.train.params import ModelParams
    from plate_ocr_pipeline.synthetic import generate_plates

    config = ONNXPlateRecognizer(onnx_path).config  # fails naming the file if it has none
    params = _parameters(env)
    spec = ModelParams.model_validate(params["train"]["model"])
    model = build_model(config, spec.type, **spec.builder_kwargs())
    synthesize = params["synthesize"]
    plates = generate_plates(
        calibration_plates,
        synthesize["region_weights"],
        seed=params["train"]["seed"],
        glyph_odds=synthesize.get("serial_glyphs"),
        us_layout=synthesize.get("us_layout"),
        num_workers=1,
    )
    images = preprocess_batch([image for image, _, _ in plates], config)
    return keras_from_onnx(model, onnx_path, images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onnx", default=str(SHIPPED))
    parser.add_argument("--env", default=SHIPPED_ARCHITECTURE)
    parser.add_argument("--out", default="data/06_models/ensemble_members/shipped.keras")
    parser.add_argument("--calibration-plates", type=int, default=512)
    args = parser.parse_args()

    model = rebuild(args.onnx, args.env, args.calibration_plates)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    print(f"rebuilt {args.onnx} as {out} ({model.count_params():,} parameters)")


if __name__ == "__main__":
    main()
