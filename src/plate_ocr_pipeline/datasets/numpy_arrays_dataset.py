"""Named numpy arrays (``.npz``) as a Kedro dataset.

Written the way kedro-datasets writes its own (``kedro_datasets/pillow/image_dataset.py``):
fsspec paths with a protocol prefix, ``credentials``/``fs_args``, optional versioning,
``load``/``save``/``_describe``/``_exists``.
"""

from __future__ import annotations

import io
import logging
import zipfile

import numpy as np
from kedro.io.core import DatasetError

from plate_ocr_pipeline.datasets.fsspec_dataset import FsspecBinaryDataset

logger = logging.getLogger(__name__)


class NumpyArraysDataset(FsspecBinaryDataset):
    """A mapping of named numpy arrays in one ``.npz`` file (``np.savez``).

    ``load_args: {missing_ok: true}`` makes ``load`` return an empty dict when the file does
    not exist yet or cannot be read as one (a warning names it): a previous cache, rebuilt
    when it is gone or broken. ``save_args: {compressed: true}`` uses
    ``np.savez_compressed``. Object arrays are refused (no pickle).
    """

    def load(self) -> dict[str, np.ndarray]:
        if not self._load_args.get("missing_ok"):
            return self._load_arrays()
        if not self._exists():
            return {}
        try:
            return self._load_arrays()
        except (DatasetError, OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            logger.warning("%s cannot be read, taken as absent: %s", self._filepath, error)
            return {}

    def _load_arrays(self) -> dict[str, np.ndarray]:
        with np.load(io.BytesIO(self._read_bytes()), allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}

    def save(self, data: dict[str, np.ndarray]) -> None:
        buffer = io.BytesIO()
        arrays = {key: np.asarray(value) for key, value in data.items()}
        for key, value in arrays.items():
            if value.dtype == object:
                raise DatasetError(
                    f"{self._filepath}: array {key!r} has dtype object; store strings as str arrays"
                )
        if self._save_args.get("compressed"):
            np.savez_compressed(buffer, **arrays)
        else:
            np.savez(buffer, **arrays)
        self._write_bytes(buffer.getvalue())
