"""Plate config <-> ONNX ``metadata_props``: one ONNX file is enough to run a model.

Plain module. Writing metadata needs the ``onnx`` package (imported inside the function);
reading it back works from the plain ``{key: value}`` mapping that onnxruntime exposes as
``session.get_modelmeta().custom_metadata_map``, so the recognizer needs onnxruntime only.

Keys written:

- ``plate_config``: JSON of :meth:`PlateConfig.to_dict`
- ``plate_ocr.model_name``, ``plate_ocr.model_version``: free text naming the model
- ``plate_ocr.package_version``: the ``plate_ocr_pipeline`` version that exported it
- ``plate_ocr.region_families``: JSON list naming the ``region`` output's columns (models
  with a region head)
- ``plate_ocr.temperature``: what the logits were divided by (already in the graph; kept
  for the record)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plate_ocr_pipeline.core.plate_config import PlateConfig, PlateConfigError

if TYPE_CHECKING:  # pragma: no cover
    import onnx

PLATE_CONFIG_KEY = "plate_config"
MODEL_NAME_KEY = "plate_ocr.model_name"
MODEL_VERSION_KEY = "plate_ocr.model_version"
PACKAGE_VERSION_KEY = "plate_ocr.package_version"
REGION_FAMILIES_KEY = "plate_ocr.region_families"
TEMPERATURE_KEY = "plate_ocr.temperature"


def metadata_for(
    config: PlateConfig,
    model_name: str = "plate_ocr",
    model_version: str = "0",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The string mapping that :func:`embed_metadata` writes (every value a string)."""
    from plate_ocr_pipeline import __version__

    values = {
        PLATE_CONFIG_KEY: json.dumps(config.to_dict(), sort_keys=True),
        MODEL_NAME_KEY: str(model_name),
        MODEL_VERSION_KEY: str(model_version),
        PACKAGE_VERSION_KEY: __version__,
    }
    for key, value in (extra or {}).items():
        values[str(key)] = value if isinstance(value, str) else json.dumps(value)
    return values


def embed_metadata(
    model: onnx.ModelProto,
    config: PlateConfig,
    model_name: str = "plate_ocr",
    model_version: str = "0",
    extra: Mapping[str, Any] | None = None,
) -> onnx.ModelProto:
    """A copy of ``model`` whose ``metadata_props`` hold the plate config and model name.

    Existing entries with the same keys are replaced; other entries are kept.
    """
    import onnx

    result = onnx.ModelProto()
    result.CopyFrom(model)
    values = metadata_for(config, model_name, model_version, extra)
    kept = [(p.key, p.value) for p in result.metadata_props if p.key not in values]
    del result.metadata_props[:]
    for key, value in [*kept, *values.items()]:
        entry = result.metadata_props.add()
        entry.key = key
        entry.value = value
    return result


def read_metadata(model: onnx.ModelProto) -> dict[str, str]:
    """``metadata_props`` of an ONNX model as a plain mapping."""
    return {p.key: p.value for p in model.metadata_props}


def plate_config_from_metadata(metadata: Mapping[str, str]) -> PlateConfig | None:
    """The plate config stored under ``plate_config``; ``None`` when the key is absent.

    Raises ``PlateConfigError`` when the key is present but does not hold a valid config.
    """
    raw = metadata.get(PLATE_CONFIG_KEY)
    if raw is None:
        return None
    try:
        values = json.loads(raw)
    except json.JSONDecodeError as error:
        raise PlateConfigError(
            PLATE_CONFIG_KEY, f"ONNX metadata is not valid JSON: {error}"
        ) from error
    return PlateConfig.from_dict(values)


def region_families_from_metadata(metadata: Mapping[str, str]) -> list[str]:
    """The names of the ``region`` output's columns; ``[]`` for a model without one."""
    raw = metadata.get(REGION_FAMILIES_KEY)
    if not raw:
        return []
    try:
        families = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"ONNX metadata {REGION_FAMILIES_KEY} is not valid JSON: {error}"
        ) from error
    if not isinstance(families, list) or not all(isinstance(f, str) for f in families):
        raise ValueError(f"ONNX metadata {REGION_FAMILIES_KEY} must be a list of names")
    return families
