"""``AtomicCSVDataset``: a pandas CSV that readers never see half written.

Saving goes through ``atomic_write.write_atomically``: a temporary file renamed over the
target, so an interrupted run leaves the previous file intact. The target is checked when the
dataset is created (a Kedro run creates its datasets before any node runs) and again when
saving: only a regular file is written (see ``atomic_write``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError

from plate_ocr_pipeline.datasets.atomic_write import check_writable_target, write_atomically


class AtomicCSVDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Loads/saves a ``pandas.DataFrame`` as a local CSV, saving atomically.

    Example catalog entry::

        predictions:
          type: plate_ocr_pipeline.datasets.AtomicCSVDataset
          filepath: ${runtime_params:infer.output_path,data/07_model_output/predictions.csv}
          save_args: {index: false}

    Local files only: an atomic rename needs the temporary file on the same filesystem. See the
    ``atomic_write`` for the checks on the target and the temporary file's clean-up.
    """

    DEFAULT_LOAD_ARGS: dict[str, Any] = {}
    DEFAULT_SAVE_ARGS: dict[str, Any] = {"index": False}

    def __init__(
        self,
        *,
        filepath: str | os.PathLike,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new ``AtomicCSVDataset``; raises ``DatasetError`` when ``filepath`` cannot
        be written as a regular file (see ``check_writable_target``).

        Args:
            filepath: Local path of the CSV (a ``file://`` prefix is accepted).
            load_args: Arguments for ``pandas.read_csv``.
            save_args: Arguments for ``DataFrame.to_csv`` (default ``index=False``).
            metadata: Any arbitrary metadata, ignored by Kedro.
        """
        text = str(filepath)
        if "://" in text and not text.startswith("file://"):
            raise DatasetError(f"{type(self).__name__} writes local files only, got {text}")
        self._filepath = Path(text.removeprefix("file://"))
        check_writable_target(self._filepath)
        self._load_args = {**self.DEFAULT_LOAD_ARGS, **(load_args or {})}
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "load_args": self._load_args,
            "save_args": self._save_args,
        }

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def load(self) -> pd.DataFrame:
        if not self._filepath.is_file():  # a FIFO would hang the read
            raise DatasetError(f"{self._filepath} is not a regular file")
        return pd.read_csv(self._filepath, **self._load_args)

    def save(self, data: pd.DataFrame) -> None:
        write_atomically(
            self._filepath, lambda handle: data.to_csv(handle, **self._save_args), True
        )
