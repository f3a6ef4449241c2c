"""``ONNXModelDataset`` loads and saves an ``onnx.ModelProto`` on any fsspec filesystem."""

from __future__ import annotations

import os
from typing import Any

import onnx
from kedro.io.core import DatasetError, Version

from plate_ocr_pipeline.datasets.fsspec_dataset import FsspecBinaryDataset


class ONNXModelDataset(FsspecBinaryDataset):
    """Loads/saves an ONNX model (``onnx.ModelProto``) as one ``.onnx`` file.

    The file is self-contained (no external data), which suits plate models of a few MB;
    ``metadata_props`` (the plate config) travel with it.

    Example catalog entry::

        onnx_model:
          type: plate_ocr_pipeline.datasets.ONNXModelDataset
          filepath: data/06_models/model.onnx

    Example use::

        >>> dataset = ONNXModelDataset(filepath="data/06_models/model.onnx")
        >>> dataset.save(model_proto)
        >>> dataset.load().graph.input[0].name
        'input'
    """

    def __init__(
        self,
        *,
        filepath: str | os.PathLike,
        check_model: bool = True,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new ``ONNXModelDataset``.

        Args:
            filepath: Path to the ``.onnx`` file, optionally prefixed with an fsspec protocol
                (``s3://``, ``gcs://``...); local when there is none.
            check_model: Run ``onnx.checker.check_model`` before saving, so that an invalid
                graph fails the node that produced it rather than a later reader.
            version: Kedro dataset version (see ``kedro.io.core.Version``).
            credentials: Credentials for the underlying filesystem.
            fs_args: Extra arguments for the fsspec filesystem constructor, plus
                ``open_args_load`` / ``open_args_save`` for its ``open``.
            metadata: Any arbitrary metadata, ignored by Kedro (kedro-viz reads ``layer``).
        """
        super().__init__(
            filepath=filepath,
            version=version,
            credentials=credentials,
            fs_args=fs_args,
            metadata=metadata,
        )
        self._check_model = check_model

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "check_model": self._check_model}

    def load(self) -> onnx.ModelProto:
        data = self._read_bytes()
        try:
            return onnx.load_model_from_string(data)
        except Exception as error:  # protobuf DecodeError and friends
            raise DatasetError(f"{self._filepath} is not a valid ONNX file: {error}") from error

    def save(self, data: onnx.ModelProto) -> None:
        if not isinstance(data, onnx.ModelProto):
            raise DatasetError(
                f"{self._filepath}: {type(self).__name__} saves onnx.ModelProto, got "
                f"{type(data).__name__}"
            )
        if self._check_model:
            try:
                onnx.checker.check_model(data)
            except onnx.checker.ValidationError as error:
                raise DatasetError(
                    f"{self._filepath}: refusing to save an invalid ONNX model: {error}"
                ) from error
        self._write_bytes(data.SerializeToString())
