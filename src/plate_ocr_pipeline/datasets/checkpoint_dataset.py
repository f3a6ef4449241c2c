"""``TrainingCheckpointDataset``: where a training run keeps its per-epoch checkpoint."""

from __future__ import annotations

import os
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError


class TrainingCheckpointDataset(AbstractDataset[None, Any]):
    """A local folder for ``last.keras`` + ``state.json``. ``load`` returns a
    ``plate_ocr_pipeline.training.checkpoints.CheckpointStore`` bound to the folder, which the
    trainer reads to resume and writes every epoch (a fit cannot hand Kedro one object per
    epoch, so the catalog owns the place and the trainer the timing).

    Example catalog entry::

        training_checkpoint:
          type: plate_ocr_pipeline.datasets.TrainingCheckpointDataset
          path: data/06_models/checkpoints
    """

    def __init__(self, *, path: str | os.PathLike, metadata: dict[str, Any] | None = None):
        if "://" in str(path) and not str(path).startswith("file://"):
            raise DatasetError(f"training checkpoints must be a local folder, got {path}")
        self._path = str(path).removeprefix("file://")
        self.metadata = metadata

    def load(self) -> Any:
        from plate_ocr_pipeline.training.checkpoints import CheckpointStore

        return CheckpointStore(self._path)

    def save(self, data: None) -> None:
        raise DatasetError("training_checkpoint is written by the trainer every epoch")

    def _exists(self) -> bool:
        return os.path.isfile(os.path.join(self._path, "state.json"))

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path}
