"""``ONNXModelDataset`` loads and saves an ``onnx.ModelProto`` on any fsspec filesystem."""

from __future__ import annotations

import os
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import fsspec
import onnx
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)


class ONNXModelDataset(AbstractVersionedDataset[onnx.ModelProto, onnx.ModelProto]):
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

    DEFAULT_LOAD_ARGS: dict[str, Any] = {}
    DEFAULT_SAVE_ARGS: dict[str, Any] = {}
    DEFAULT_FS_ARGS: dict[str, Any] = {
        "open_args_load": {"mode": "rb"},
        "open_args_save": {"mode": "wb"},
    }

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
        _fs_args = deepcopy(fs_args) or {}
        _fs_open_args_load = _fs_args.pop("open_args_load", {})
        _fs_open_args_save = _fs_args.pop("open_args_save", {})
        _credentials = deepcopy(credentials) or {}
        protocol, path = get_protocol_and_path(str(filepath), version)
        if protocol == "file":
            _fs_args.setdefault("auto_mkdir", True)
        self._protocol = protocol
        self._fs = fsspec.filesystem(self._protocol, **_credentials, **_fs_args)
        self._check_model = check_model
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )
        self._fs_open_args_load = {
            **self.DEFAULT_FS_ARGS["open_args_load"],
            **(_fs_open_args_load or {}),
        }
        self._fs_open_args_save = {
            **self.DEFAULT_FS_ARGS["open_args_save"],
            **(_fs_open_args_save or {}),
        }

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "protocol": self._protocol,
            "check_model": self._check_model,
            "version": self._version,
        }

    def load(self) -> onnx.ModelProto:
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(load_path, **self._fs_open_args_load) as fs_file:
            data = fs_file.read()
        try:
            return onnx.load_model_from_string(data)
        except Exception as error:  # protobuf DecodeError and friends
            raise DatasetError(f"{load_path} is not a valid ONNX file: {error}") from error

    def save(self, data: onnx.ModelProto) -> None:
        if not isinstance(data, onnx.ModelProto):
            raise DatasetError(
                f"{type(self).__name__} saves onnx.ModelProto, got {type(data).__name__}"
            )
        if self._check_model:
            try:
                onnx.checker.check_model(data)
            except onnx.checker.ValidationError as error:
                raise DatasetError(f"refusing to save an invalid ONNX model: {error}") from error
        save_path = get_filepath_str(self._get_save_path(), self._protocol)
        with self._fs.open(save_path, **self._fs_open_args_save) as fs_file:
            fs_file.write(data.SerializeToString())
        self._invalidate_cache()

    def _exists(self) -> bool:
        try:
            load_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(load_path)

    def _release(self) -> None:
        super()._release()
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        filepath = get_filepath_str(self._filepath, self._protocol)
        self._fs.invalidate_cache(filepath)
