"""``OptionalDataset``: another dataset's data when it exists, else a default."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError


class OptionalDataset(AbstractDataset[Any, Any]):
    """Wraps a dataset (given as its catalog config) so that loading before it was ever
    saved gives ``default`` instead of an error: a previous run's output read back by the
    next run (the rendered set's manifest, to skip rendering what is already there).

    Example catalog entry::

        synthetic_manifest_previous:
          type: plate_ocr_pipeline.datasets.OptionalDataset
          dataset:
            type: json.JSONDataset
            filepath: data/01_raw/synthetic/manifest.json
          default: {}
    """

    def __init__(
        self,
        *,
        dataset: dict[str, Any],
        default: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._dataset_config = deepcopy(dataset)
        self._dataset = AbstractDataset.from_config("wrapped", deepcopy(dataset))
        self._default = default
        self.metadata = metadata

    def load(self) -> Any:
        if not self._dataset.exists():
            return deepcopy(self._default)
        return self._dataset.load()

    def save(self, data: Any) -> None:
        raise DatasetError("an OptionalDataset is read-only; save through the wrapped dataset")

    def _exists(self) -> bool:
        return self._dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._dataset_config, "default": self._default}
