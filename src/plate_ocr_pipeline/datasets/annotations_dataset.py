"""``PlateAnnotationsDataset`` loads one or more annotations CSVs in the fast-plate-ocr format.

Each CSV has ``image_path,plate_text`` (paths relative to the CSV) and optional ``region`` and
``split`` columns. Loading never drops a row: a malformed row or a CSV with the wrong columns
comes back with ``csv_error`` set, and every image is probed so that ``image_error`` says why
it cannot be used. The ingest nodes turn those facts into the clean and rejects tables.
"""

from __future__ import annotations

import csv
import io
import os
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import cv2
import fsspec
import numpy as np
import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

REQUIRED_COLUMNS = ("image_path", "plate_text")
OPTIONAL_COLUMNS = ("region", "split")
PROBE_COLUMNS = ("image_error", "image_height", "image_width", "image_channels", "image_bit_depth")
COLUMNS = (
    "source_file",
    "source_row",
    "image_path",
    "raw_text",
    "region",
    "split",
    "csv_error",
    "image_error",
    "image_height",
    "image_width",
    "image_channels",
    "image_bit_depth",
)


class PlateAnnotationsDataset(AbstractDataset[None, pd.DataFrame]):
    """Loads annotations CSVs into one table, one row per CSV data row, with image facts.

    Example catalog entry::

        raw_annotations:
          type: plate_ocr_pipeline.datasets.PlateAnnotationsDataset
          filepaths:
            - data/01_raw/synthetic/annotations.csv
            - /data/my_plates/annotations.csv

    This dataset is read-only.
    """

    def __init__(
        self,
        *,
        filepaths: str | os.PathLike | list[str | os.PathLike],
        probe_images: bool = True,
        num_threads: int = 8,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new ``PlateAnnotationsDataset``.

        Args:
            filepaths: One CSV path or a list of them, local or any fsspec protocol (all the
                same protocol).
            probe_images: Decode every image to record size, depth and readability.
            num_threads: Threads that probe images (decoding releases the GIL).
            credentials: Credentials for the underlying filesystem.
            fs_args: Extra arguments for the fsspec filesystem constructor.
            metadata: Any arbitrary metadata, ignored by Kedro.
        """
        if isinstance(filepaths, (str, os.PathLike)):
            filepaths = [filepaths]
        if not filepaths:
            raise DatasetError("PlateAnnotationsDataset needs at least one annotations CSV")
        protocols_and_paths = [get_protocol_and_path(str(path)) for path in filepaths]
        protocols = {protocol for protocol, _ in protocols_and_paths}
        if len(protocols) > 1:
            raise DatasetError(f"annotation files mix filesystems: {sorted(protocols)}")
        self._protocol = protocols.pop()
        self._paths = [PurePosixPath(path) for _, path in protocols_and_paths]
        self._fs = fsspec.filesystem(
            self._protocol, **(deepcopy(credentials) or {}), **(deepcopy(fs_args) or {})
        )
        self._probe_images = probe_images
        self._num_threads = max(1, num_threads)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "filepaths": [str(path) for path in self._paths],
            "protocol": self._protocol,
            "probe_images": self._probe_images,
        }

    def _exists(self) -> bool:
        return all(self._fs.exists(str(path)) for path in self._paths)

    def save(self, data: None) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")

    def load(self) -> pd.DataFrame:
        records: list[dict[str, Any]] = []
        for path in self._paths:
            records.extend(self._read_csv(path))
        if self._probe_images and records:
            # Probe from the plain records: pandas turns missing strings into NaN (truthy).
            with ThreadPoolExecutor(self._num_threads) as pool:
                facts = pool.map(
                    self._probe,
                    [r["image_path"] for r in records],
                    [r["csv_error"] for r in records],
                )
                for record, fact in zip(records, facts, strict=True):
                    record.update(zip(PROBE_COLUMNS, fact, strict=True))
        table = pd.DataFrame.from_records(records, columns=list(COLUMNS))
        return table.astype({"source_row": "int64"})

    def _read_csv(self, path: PurePosixPath) -> list[dict[str, Any]]:
        if not self._fs.exists(str(path)):
            raise DatasetError(f"annotations file not found: {path}")
        with self._fs.open(str(path), "r", encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header is None:
            return []
        header = [name.strip() for name in header]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        base = path.parent
        records = []
        # Line numbers as a person sees them in an editor: the header is line 1.
        for line_number, fields in enumerate(reader, start=2):
            if not fields or all(not field.strip() for field in fields):
                continue
            record = dict.fromkeys(COLUMNS)
            record.update(source_file=str(path), source_row=line_number)
            if missing:
                record["csv_error"] = f"bad CSV columns: missing {missing} in header {header}"
                record["raw_text"] = ",".join(fields)
            elif len(fields) != len(header):
                record["csv_error"] = (
                    f"bad CSV row: {len(fields)} fields where the header has {len(header)}"
                )
                record["raw_text"] = ",".join(fields)
            else:
                row = dict(zip(header, fields, strict=True))
                image = row["image_path"].strip()
                record["image_path"] = _resolve(base, image, self._protocol) if image else ""
                record["raw_text"] = row["plate_text"]
                for name in OPTIONAL_COLUMNS:
                    value = row.get(name, "").strip()
                    record[name] = value or None
                if not image:
                    record["csv_error"] = "empty image_path"
            records.append(record)
        return records

    def _probe(self, image_path: str | None, csv_error: str | None) -> tuple:
        if csv_error or not image_path:
            return (None, None, None, None, None)
        try:
            with self._fs.open(image_path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return ("missing file", None, None, None, None)
        except (IsADirectoryError, PermissionError, OSError) as error:
            return (f"unreadable file: {error.__class__.__name__}", None, None, None, None)
        if not data:
            return ("empty image: file has 0 bytes", None, None, None, None)
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None:
            return ("unreadable image: not a decodable image", None, None, None, None)
        if image.size == 0:
            return ("empty image: zero width or height", None, None, None, None)
        channels = 1 if image.ndim == 2 else image.shape[2]
        bit_depth = 16 if image.dtype == np.uint16 else 8
        return (None, image.shape[0], image.shape[1], channels, bit_depth)


def _resolve(base: PurePosixPath, image: str, protocol: str) -> str:
    joined = image if image.startswith("/") else str(base / image)
    if protocol == "file":
        return os.path.normpath(os.path.abspath(joined))
    return f"{protocol}://{joined}"
