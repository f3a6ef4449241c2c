"""An albumentations pipeline from its YAML (albumentations 2.x serialisation), built
strict: an argument a transform does not take fails, naming it. albumentations is imported
on load.

Written the way kedro-datasets writes its own (``kedro_datasets/pillow/image_dataset.py``):
fsspec paths with a protocol prefix, ``credentials``/``fs_args``, optional versioning,
``load``/``save``/``_describe``/``_exists``.
"""

from __future__ import annotations

from typing import Any

import yaml
from kedro.io.core import DatasetError

from plate_ocr_pipeline.datasets.fsspec_dataset import FsspecBinaryDataset


class AugmentationConfigError(DatasetError, ValueError):
    """An albumentations pipeline file is not valid; the message names the transform."""


def _strict_transform_dict(node: Any, where: str) -> dict[str, Any]:
    """Check one serialized transform and add ``strict: true`` to it (recursively)."""
    if not isinstance(node, dict) or "__class_fullname__" not in node:
        raise AugmentationConfigError(
            f"{where}: expected a transform mapping with __class_fullname__"
        )
    node = dict(node)
    name = node["__class_fullname__"]
    if "transforms" in node:
        node["transforms"] = [
            _strict_transform_dict(child, f"{where} > {name}[{i}]")
            for i, child in enumerate(node["transforms"])
        ]
    if name.split(".")[-1] not in ("Compose", "Sequential", "OneOf", "SomeOf", "OneOrOther"):
        node.setdefault("p", 0.5)
        node["strict"] = True
    return node


def build_albumentations(spec: dict[str, Any], source: str = "<mapping>") -> Any:
    """Build an ``A.Compose`` from albumentations' serialized form, strictly.

    Every transform is constructed with ``strict=True`` and the Compose is re-validated with
    ``strict=True``, so an argument that albumentations 2.x does not know (1.x names such as
    ``max_holes``, ``var_limit``, ``quality_lower``, ``value``) or a misspelt one raises
    :class:`AugmentationConfigError` naming the transform instead of silently using defaults.
    """
    import albumentations as A
    from albumentations.core.serialization import SERIALIZABLE_REGISTRY, shorten_class_name

    if not isinstance(spec, dict) or "transform" not in spec:
        raise AugmentationConfigError(
            f"{source}: expected albumentations' serialized form with a top-level 'transform' key"
        )
    transform = _strict_transform_dict(spec["transform"], source)

    def check_names(node: dict[str, Any]) -> None:
        short = shorten_class_name(node["__class_fullname__"])
        if short not in SERIALIZABLE_REGISTRY:
            raise AugmentationConfigError(f"{source}: unknown transform {short!r}")
        for child in node.get("transforms", []):
            check_names(child)

    check_names(transform)
    try:
        compose = A.from_dict({"transform": transform})
    except Exception as error:  # pydantic ValidationError, TypeError, ValueError
        raise AugmentationConfigError(f"{source}: {error}") from error
    if not isinstance(compose, A.Compose):
        raise AugmentationConfigError(f"{source}: the top-level transform must be a Compose")
    try:
        compose.strict = True
    except ValueError as error:
        raise AugmentationConfigError(f"{source}: {error}") from error
    return compose


class AlbumentationsDataset(FsspecBinaryDataset):
    """An albumentations pipeline stored as YAML (albumentations' own serialized form).

    ``load`` returns a strict ``A.Compose`` (see :func:`build_albumentations`); ``save`` writes
    ``A.to_dict(compose)`` as YAML, which ``load`` reads back. ``load_args: {seed: 42}`` seeds
    the Compose.
    """

    def load(self) -> Any:
        source = str(self._filepath)
        try:
            spec = yaml.safe_load(self._read_bytes().decode("utf-8"))
        except yaml.YAMLError as error:
            raise AugmentationConfigError(f"{source}: not valid YAML: {error}") from error
        compose = build_albumentations(spec, source)
        if self._load_args.get("seed") is not None:
            compose.set_random_seed(int(self._load_args["seed"]))
        return compose

    def save(self, data: Any) -> None:
        import albumentations as A
        from albumentations.core.serialization import serialize_enum

        spec = serialize_enum(A.to_dict(data))
        _strip_strict(spec["transform"])
        text = yaml.safe_dump(spec, default_flow_style=None, sort_keys=False)
        self._write_bytes(text.encode("utf-8"))


def _strip_strict(node: dict[str, Any]) -> None:
    node.pop("strict", None)
    for child in node.get("transforms", []):
        _strip_strict(child)
