"""Plate configuration: what a model reads and how its input is shaped.

Plain module (no Kedro, no TensorFlow) shared by training, export and inference. The same
mapping lives in ``conf/base/parameters_plate.yml`` under ``plate:`` and inside every exported
ONNX file's metadata, so one file is enough to run a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

COLOR_MODES = ("grayscale", "rgb")
INTERPOLATIONS = ("nearest", "linear", "area", "cubic", "lanczos")


class PlateConfigError(ValueError):
    """A plate configuration key is missing, unknown or holds an impossible value."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(f"plate config key '{key}': {reason}")


@dataclass(frozen=True)
class PlateConfig:
    """Validated plate configuration; build it with :meth:`from_dict`."""

    max_plate_slots: int
    alphabet: str
    pad_char: str
    img_height: int
    img_width: int
    color_mode: str = "grayscale"
    keep_aspect_ratio: bool = False
    padding_color: tuple[int, int, int] = (114, 114, 114)
    interpolation: str = "linear"

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PlateConfig:
        """Validate ``values`` and build a config; errors name the offending key."""
        if not isinstance(values, Mapping):
            raise PlateConfigError("plate", f"expected a mapping, got {type(values).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise PlateConfigError(
                unknown[0], f"unknown key (known keys: {', '.join(sorted(known))})"
            )
        required = ("max_plate_slots", "alphabet", "pad_char", "img_height", "img_width")
        for key in required:
            if key not in values:
                raise PlateConfigError(key, "missing required key")

        slots = _positive_int(values, "max_plate_slots", upper=64)
        height = _positive_int(values, "img_height", upper=2048)
        width = _positive_int(values, "img_width", upper=2048)

        alphabet = values["alphabet"]
        if not isinstance(alphabet, str) or len(alphabet) < 2:
            raise PlateConfigError("alphabet", "must be a string of at least two characters")
        duplicates = sorted({c for c in alphabet if alphabet.count(c) > 1})
        if duplicates:
            raise PlateConfigError("alphabet", f"characters repeated: {''.join(duplicates)!r}")

        pad_char = values["pad_char"]
        if not isinstance(pad_char, str) or len(pad_char) != 1:
            raise PlateConfigError("pad_char", "must be exactly one character")
        if pad_char not in alphabet:
            raise PlateConfigError("pad_char", f"{pad_char!r} is not in the alphabet")

        color_mode = values.get("color_mode", "grayscale")
        if color_mode not in COLOR_MODES:
            raise PlateConfigError("color_mode", f"{color_mode!r} is not one of {COLOR_MODES}")

        keep_aspect = values.get("keep_aspect_ratio", False)
        if not isinstance(keep_aspect, bool):
            raise PlateConfigError("keep_aspect_ratio", "must be true or false")

        padding_color = _padding_color(values.get("padding_color", (114, 114, 114)))

        interpolation = values.get("interpolation", "linear")
        if interpolation not in INTERPOLATIONS:
            raise PlateConfigError(
                "interpolation", f"{interpolation!r} is not one of {INTERPOLATIONS}"
            )

        return cls(
            max_plate_slots=slots,
            alphabet=alphabet,
            pad_char=pad_char,
            img_height=height,
            img_width=width,
            color_mode=color_mode,
            keep_aspect_ratio=keep_aspect,
            padding_color=padding_color,
            interpolation=interpolation,
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> PlateConfig:
        """Load a YAML file holding the mapping itself or a ``plate:`` section."""
        with open(path, encoding="utf-8") as handle:
            values = yaml.safe_load(handle) or {}
        if "plate" in values and isinstance(values["plate"], Mapping):
            values = values["plate"]
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping that :meth:`from_dict` accepts (YAML and JSON friendly)."""
        values = asdict(self)
        values["padding_color"] = list(self.padding_color)
        return values

    @property
    def vocabulary_size(self) -> int:
        return len(self.alphabet)

    @property
    def num_channels(self) -> int:
        return 1 if self.color_mode == "grayscale" else 3

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """One image as the model takes it: ``(height, width, channels)``."""
        return (self.img_height, self.img_width, self.num_channels)

    @property
    def pad_index(self) -> int:
        return self.alphabet.index(self.pad_char)

    @property
    def characters(self) -> str:
        """The alphabet without the pad: what may appear in a plate's text."""
        return self.alphabet.replace(self.pad_char, "")


def _positive_int(values: Mapping[str, Any], key: str, upper: int) -> int:
    value = values[key]
    # bool is an int subclass; `true` in YAML is never a size.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlateConfigError(key, f"must be an integer, got {value!r}")
    if not 1 <= value <= upper:
        raise PlateConfigError(key, f"must be between 1 and {upper}, got {value}")
    return value


def _padding_color(value: Any) -> tuple[int, int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value, value)
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value)
    ):
        raise PlateConfigError(
            "padding_color", f"must be an integer 0-255 or three of them, got {value!r}"
        )
    return tuple(value)
