"""``LabelledSetsDataset`` loads labelled plate sets: annotations CSVs and the images they name.

Each CSV is in the ingest format (``image_path,plate_text[,region]``, image paths relative to
the CSV) and is one set. Loading returns one table for every set, one row per CSV data row,
with the image's encoded bytes, or the reason it could not be read in ``error``: no row is
dropped. Decoding and resizing are left to the node, which knows the model's plate config.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import fsspec
import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from plate_ocr_pipeline.core.annotations import BLANK_LINE
from plate_ocr_pipeline.datasets.annotations_dataset import PlateAnnotationsDataset
from plate_ocr_pipeline.datasets.regular_file import MAX_IMAGE_BYTES, read_regular_file

logger = logging.getLogger(__name__)

COLUMNS = (
    "set",
    "source_file",
    "source_row",
    "image_path",
    "plate_text",
    "region",
    "image",
    "error",
)


class LabelledSetsDataset(AbstractDataset[None, pd.DataFrame]):
    """Loads labelled sets (annotations CSVs and their image bytes) into one table.

    Columns: ``set``, ``source_file``, ``source_row`` (the line in the CSV, header = 1),
    ``image_path`` (resolved against the CSV), ``plate_text`` (as written), ``region``,
    ``image`` (the file's bytes, ``None`` when unread) and ``error`` (why the row cannot be
    used, else ``None``).

    Sets are named by ``filepaths`` when it is a mapping; otherwise after the CSV's folder
    (``.../real-us-plates/annotations.csv`` is ``real-us-plates``; a CSV with another name is
    named after its stem), with parent folders added while two names clash
    (``a/test/annotations.csv`` and ``b/test/annotations.csv`` are ``a/test`` and ``b/test``).

    Example catalog entry::

        score_labelled_sets:
          type: plate_ocr_pipeline.datasets.LabelledSetsDataset
          filepaths:
            real_us: ../shared/datasets/real-us-plates/annotations.csv
            mine: s3://bucket/plates/annotations.csv

    A CSV that does not exist is an error, or, with ``skip_missing: true``, skipped with a
    warning. A CSV without data rows (empty, a header only, or blank lines only) or one that
    cannot be read as lines (not UTF-8, NUL bytes) is always an error naming the file. Each
    line is read on its own (see ``PlateAnnotationsDataset``): a malformed line is a row with
    its ``error``, never the end of the file. This dataset is read-only.
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        filepaths: str | os.PathLike | Sequence[str | os.PathLike] | Mapping[str, str],
        skip_missing: bool = False,
        num_threads: int = 8,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new ``LabelledSetsDataset``.

        Args:
            filepaths: One annotations CSV, a list of them, or ``{set name: CSV}``; local or
                any fsspec protocol (all the same protocol).
            skip_missing: Skip a CSV that does not exist (with a warning) instead of failing.
            num_threads: Threads that read image files.
            credentials: Credentials for the underlying filesystem.
            fs_args: Extra arguments for the fsspec filesystem constructor.
            metadata: Any arbitrary metadata, ignored by Kedro.
        """
        if isinstance(filepaths, (str, os.PathLike)):
            filepaths = [filepaths]
        if isinstance(filepaths, Mapping):
            names = [str(name) for name in filepaths]
            if any(not name.strip() for name in names):
                raise DatasetError(f"labelled set names must not be empty: {names}")
            raw = [str(path) for path in filepaths.values()]
        else:
            raw = [str(path) for path in filepaths]
            names = None
        protocols_and_paths = [get_protocol_and_path(path) for path in raw]
        protocols = {protocol for protocol, _ in protocols_and_paths}
        if len(protocols) > 1:
            raise DatasetError(f"labelled sets mix filesystems: {sorted(protocols)}")
        self._protocol = protocols.pop() if protocols else "file"
        paths = [PurePosixPath(path) for _, path in protocols_and_paths]
        names = names if names is not None else set_names(paths)
        self._sets = dict(zip(names, raw, strict=True))
        self._paths = dict(zip(names, paths, strict=True))
        self._credentials = deepcopy(credentials) or {}
        self._fs_args = deepcopy(fs_args) or {}
        self._fs = fsspec.filesystem(self._protocol, **self._credentials, **self._fs_args)
        self._skip_missing = skip_missing
        self._num_threads = max(1, num_threads)
        self.metadata = metadata

    @property
    def names(self) -> list[str]:
        """The sets' names, in order (CSVs that do not exist included)."""
        return list(self._sets)

    def _describe(self) -> dict[str, Any]:
        return {
            "filepaths": dict(self._sets),
            "protocol": self._protocol,
            "skip_missing": self._skip_missing,
        }

    def _exists(self) -> bool:
        return all(self._fs.exists(str(path)) for path in self._paths.values())

    def save(self, data: None) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")

    def load(self) -> pd.DataFrame:
        frames = []
        for name, path in self._paths.items():
            if not self._fs.exists(str(path)):
                if self._skip_missing:
                    logger.warning("Labelled set %s: %s does not exist, skipped", name, path)
                    continue
                raise DatasetError(f"labelled set {name!r}: annotations file not found: {path}")
            frames.append(self._load_set(name, path))
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return table.reindex(columns=list(COLUMNS)).astype({"source_row": "int64"})

    def _load_set(self, name: str, path: PurePosixPath) -> pd.DataFrame:
        rows = PlateAnnotationsDataset(
            filepaths=self._sets[name],
            probe_images=False,
            credentials=self._credentials,
            fs_args=self._fs_args,
        ).load()
        # A file that cannot be read as lines comes back as one row with source_row 0.
        whole_file = rows[rows["source_row"] == 0]
        if not whole_file.empty:
            raise DatasetError(f"labelled set {name!r}: {path}: {whole_file['csv_error'].iloc[0]}")
        if rows.empty or (rows["csv_error"] == BLANK_LINE).all():
            raise DatasetError(
                f"labelled set {name!r}: {path} has no data rows (empty, or a header only)"
            )
        records = rows.astype(object).where(rows.notna(), None).to_dict("records")
        with ThreadPoolExecutor(self._num_threads) as pool:
            read = list(
                pool.map(
                    self._read_image,
                    [None if r["csv_error"] else r["image_path"] for r in records],
                )
            )
        return pd.DataFrame(
            [
                {
                    "set": name,
                    "source_file": r["source_file"],
                    "source_row": r["source_row"],
                    "image_path": r["image_path"],
                    "plate_text": None if r["csv_error"] else r["raw_text"],
                    "region": r["region"],
                    "image": data,
                    "error": r["csv_error"] or reason,
                }
                for r, (data, reason) in zip(records, read, strict=True)
            ],
            columns=list(COLUMNS),
        )

    def _read_image(self, image_path: str | None) -> tuple[bytes | None, str | None]:
        if image_path is None:
            return None, None
        data, reason = read_regular_file(self._fs, image_path, MAX_IMAGE_BYTES)
        if data is None:
            return None, reason
        if not data:
            return None, "empty image: file has 0 bytes"
        return data, None


def set_names(paths: Sequence[PurePosixPath]) -> list[str]:
    """A unique name per annotations CSV: its folder (or its stem when it is not called
    ``annotations.csv``), with parent folders added while two names clash."""
    labels = [
        [*path.parent.parts] if path.name == "annotations.csv" else [*path.parent.parts, path.stem]
        for path in paths
    ]
    labels = [[part for part in parts if part not in ("", "/", ".")] or ["."] for parts in labels]
    depth = [1] * len(paths)
    while True:
        names = ["/".join(parts[-d:]) for parts, d in zip(labels, depth, strict=True)]
        clashes = {name for name in names if names.count(name) > 1}
        if not clashes:
            return names
        grown = False
        for i, name in enumerate(names):
            if name in clashes and depth[i] < len(labels[i]):
                depth[i] += 1
                grown = True
        if not grown:
            twice = sorted(str(p) for p, n in zip(paths, names, strict=True) if n in clashes)
            raise DatasetError(
                f"labelled sets {twice} get the same name {sorted(clashes)}; name them "
                "(filepaths: {name: path})"
            )
