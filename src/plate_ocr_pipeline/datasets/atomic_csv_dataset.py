"""``AtomicCSVDataset``: a pandas CSV that readers never see half written.

Saving writes a temporary file in the destination folder and renames it over the target
(``os.replace``, atomic on one filesystem), so an interrupted run leaves the previous file
intact and a reader polling the path sees either the old table or the new one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError


class AtomicCSVDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Loads/saves a ``pandas.DataFrame`` as a local CSV, saving atomically.

    Example catalog entry::

        predictions:
          type: plate_ocr_pipeline.datasets.AtomicCSVDataset
          filepath: ${runtime_params:infer.output_path,data/07_model_output/predictions.csv}
          save_args: {index: false}

    Local files only: an atomic rename needs the temporary file on the same filesystem.
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
        """Creates a new ``AtomicCSVDataset``.

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
        return pd.read_csv(self._filepath, **self._load_args)

    def save(self, data: pd.DataFrame) -> None:
        folder = self._filepath.parent
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            dir=folder, prefix=f".{self._filepath.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
                data.to_csv(handle, **self._save_args)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o644)  # mkstemp's 0600 would surprise readers
            os.replace(temporary, self._filepath)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
