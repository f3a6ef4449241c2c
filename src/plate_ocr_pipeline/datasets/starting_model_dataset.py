"""``StartingModelDataset``: the Keras model a run fine-tunes or transfers from, if any."""

from __future__ import annotations

import os
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError

from plate_ocr_pipeline.datasets.keras_model_dataset import KerasModelDataset


class StartingModelDataset(AbstractDataset[None, Any]):
    """A ``.keras`` model to start training from, or nothing: ``filepath: null`` loads as
    ``None`` (a run from scratch). Read-only; loaded uncompiled.

    Example catalog entry::

        starting_model:
          type: plate_ocr_pipeline.datasets.StartingModelDataset
          filepath: ${globals:starting_model}     # null, or e.g. assets/models/default.keras
    """

    def __init__(
        self, *, filepath: str | os.PathLike | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        self._filepath = None if filepath in (None, "") else str(filepath)
        self._model = (
            None
            if self._filepath is None
            else KerasModelDataset(filepath=self._filepath, load_args={"compile": False})
        )
        self.metadata = metadata

    def load(self) -> Any:
        if self._model is None:
            return None
        if not self._model.exists():
            raise DatasetError(f"starting_model: {self._filepath} does not exist")
        return self._model.load()

    def save(self, data: Any) -> None:
        raise DatasetError("starting_model is read-only: it names a model to start from")

    def _exists(self) -> bool:
        return self._model is not None and self._model.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath}
