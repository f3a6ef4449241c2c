"""Ship the `train` pipeline's latest model as the package's default.

    .venv/bin/python scripts/ship_model.py [data/06_models/model.onnx [data/06_models/plate_ocr.keras
        [data/06_models/quantized/model_int8.onnx]]]

Copies the ONNX file to ``src/plate_ocr_pipeline/assets/models/default.onnx`` (or, given the
export stage's static INT8 copy, that copy there and the float32 file to
``default_fp32.onnx``: the INT8 copy ships where it reads the real sets as well), the trainable
Keras model it was exported from to ``default.keras`` (what the ``finetune`` environment
starts from), and writes the plate config beside them as ``default.yml`` (the recognizer reads
the config from the ONNX metadata; the YAML is for people and for tools that cannot read ONNX
metadata). Refuses a file without the plate config in its metadata, so a shipped model is
always self-describing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import onnx
import yaml

from plate_ocr_pipeline.core.onnx_metadata import PLATE_CONFIG_KEY
from plate_ocr_pipeline.core.plate_config import PlateConfig

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "src" / "plate_ocr_pipeline" / "assets" / "models" / "default.onnx"


def _plate_config(path: Path) -> PlateConfig:
    model = onnx.load(str(path))
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    if PLATE_CONFIG_KEY not in metadata:
        raise SystemExit(f"{path}: no '{PLATE_CONFIG_KEY}' in the ONNX metadata")
    return PlateConfig.from_dict(json.loads(metadata[PLATE_CONFIG_KEY]))


def main(
    source: str = "data/06_models/model.onnx",
    trainable: str = "data/06_models/plate_ocr.keras",
    int8: str | None = None,
) -> None:
    source_path = Path(source)
    config = _plate_config(source_path)
    if not Path(trainable).is_file():
        raise SystemExit(f"{trainable}: no trainable model beside the export to ship")
    fp32_target = TARGET.with_name("default_fp32.onnx")
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    if int8:
        if _plate_config(Path(int8)) != config:
            raise SystemExit(f"{int8}: its plate config differs from {source_path}'s")
        shutil.copyfile(int8, TARGET)
        shutil.copyfile(source_path, fp32_target)
        print(f"shipped {source_path} -> {fp32_target}")
    else:
        shutil.copyfile(source_path, TARGET)
        fp32_target.unlink(missing_ok=True)
    shutil.copyfile(trainable, TARGET.with_suffix(".keras"))
    with open(TARGET.with_suffix(".yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump({"plate": config.to_dict()}, handle, sort_keys=False)
    digest = hashlib.sha256(TARGET.read_bytes()).hexdigest()[:16]
    size = TARGET.stat().st_size / 1e6
    print(f"shipped {int8 or source_path} -> {TARGET} ({size:.2f} MB, sha256 {digest}...)")
    print(f"shipped {trainable} -> {TARGET.with_suffix('.keras')}")


if __name__ == "__main__":
    main(*sys.argv[1:])
