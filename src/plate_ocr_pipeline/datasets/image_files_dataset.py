"""``ImageFilesDataset``: the image files a table lists, as lazy handles."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError


@dataclass(frozen=True)
class ImageFile:
    """One listed file: its path, a fingerprint that changes when the file does (path, size,
    modification time; ``|missing`` when it is gone) and ``read()``, which decodes it."""

    path: str
    fingerprint: str

    @classmethod
    def at(cls, path: str) -> ImageFile:
        return cls(path, _fingerprint(path))

    def read(self) -> np.ndarray:
        from plate_ocr_pipeline.core.preprocessing import read_image

        return read_image(self.path)


def _fingerprint(path: str) -> str:
    try:
        stat = os.stat(path)
    except OSError:
        return f"{path}|missing"
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"


class ImageFilesDataset(AbstractDataset[None, dict[str, ImageFile]]):
    """``{path: ImageFile}`` for every image path in one column of a local CSV table (the
    clean annotations table), read on demand: a node decodes only what it needs, and a cache
    keyed by fingerprint skips files that have not changed. Read-only.

    Example catalog entry::

        plate_image_files:
          type: plate_ocr_pipeline.datasets.ImageFilesDataset
          table: data/03_primary/plates_clean.csv
          column: image_path
    """

    def __init__(
        self,
        *,
        table: str | os.PathLike,
        column: str = "image_path",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._table = str(table)
        self._column = column
        self.metadata = metadata

    def load(self) -> dict[str, ImageFile]:
        if not os.path.isfile(self._table):
            raise DatasetError(f"{self._table}: no table listing the image files")
        paths = pd.read_csv(self._table, usecols=[self._column], dtype=str, keep_default_na=False)
        return {path: ImageFile.at(path) for path in paths[self._column]}

    def save(self, data: Any) -> None:
        raise DatasetError("ImageFilesDataset is read-only: it lists files another table names")

    def _exists(self) -> bool:
        return os.path.isfile(self._table)

    def _describe(self) -> dict[str, Any]:
        return {"table": self._table, "column": self._column}
