"""A Keras model (``.keras``) as a Kedro dataset; Keras is imported on load and save.

Written the way kedro-datasets writes its own (``kedro_datasets/pillow/image_dataset.py``):
fsspec paths with a protocol prefix, ``credentials``/``fs_args``, optional versioning,
``load``/``save``/``_describe``/``_exists``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from plate_ocr_pipeline.datasets.fsspec_dataset import FsspecBinaryDataset


class KerasModelDataset(FsspecBinaryDataset):
    """A Keras 3 model in the native ``.keras`` format on any fsspec filesystem.

    Custom layers of ``plate_ocr_pipeline.training.models`` are registered before loading.

    Example catalog entry::

        trained_model:
          type: plate_ocr_pipeline.datasets.KerasModelDataset
          filepath: data/06_models/plate_ocr.keras
          load_args:
            compile: false

    ``load_args`` go to ``keras.saving.load_model`` and ``save_args`` to
    ``keras.saving.save_model``.
    """

    def load(self) -> Any:
        import keras

        import plate_ocr_pipeline.training.losses  # noqa: F401  (registers metrics, schedules)
        import plate_ocr_pipeline.training.models  # noqa: F401  (registers custom layers)

        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "model.keras"
            local.write_bytes(self._read_bytes())
            return keras.saving.load_model(local, **self._load_args)

    def save(self, data: Any) -> None:
        import keras

        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "model.keras"
            keras.saving.save_model(data, local, **self._save_args)
            self._write_bytes(local.read_bytes())
