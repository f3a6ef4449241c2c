"""``FsspecBinaryDataset``: the fsspec plumbing that the project's file datasets share.

Protocol and filesystem from the path, open arguments, versioning and cache invalidation, as
kedro-datasets' own classes do it; subclasses only turn bytes into objects and back.
"""

from __future__ import annotations

import os
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)

from plate_ocr_pipeline.datasets.atomic_write import write_atomically
from plate_ocr_pipeline.datasets.regular_file import MAX_BINARY_BYTES, read_regular_file


class FsspecBinaryDataset(AbstractVersionedDataset):
    """Shared fsspec plumbing (protocol, filesystem, open args, versioning)."""

    DEFAULT_LOAD_ARGS: dict[str, Any] = {}
    DEFAULT_SAVE_ARGS: dict[str, Any] = {}

    def __init__(  # noqa: PLR0913
        self,
        *,
        filepath: str | os.PathLike,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        _fs_args = deepcopy(fs_args) or {}
        self._fs_open_args_load = _fs_args.pop("open_args_load", {})
        self._fs_open_args_save = {"mode": "wb", **_fs_args.pop("open_args_save", {})}
        _credentials = deepcopy(credentials) or {}
        protocol, path = get_protocol_and_path(str(filepath), version)
        if protocol == "file":
            _fs_args.setdefault("auto_mkdir", True)
        self._protocol = protocol
        self._fs = fsspec.filesystem(self._protocol, **_credentials, **_fs_args)
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )
        self._load_args = {**self.DEFAULT_LOAD_ARGS, **(load_args or {})}
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "protocol": self._protocol,
            "load_args": self._load_args,
            "save_args": self._save_args,
            "version": self._version,
        }

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

    def _read_bytes(self) -> bytes:
        # A FIFO or device at the path would hang the read: only a regular file is read.
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        data, reason = read_regular_file(
            self._fs, load_path, MAX_BINARY_BYTES, self._fs_open_args_load
        )
        if data is None:
            raise DatasetError(f"{load_path}: {reason}")
        return data

    def _write_bytes(self, data: bytes) -> None:
        save_path = get_filepath_str(self._get_save_path(), self._protocol)
        if self._protocol == "file" and "a" not in self._fs_open_args_save.get("mode", "wb"):
            # A run killed mid-save leaves the previous file, not a truncated one that every
            # later load would fail on (a model, a cache of model inputs).
            write_atomically(save_path, lambda handle: handle.write(data), text=False)
        else:
            with self._fs.open(save_path, **self._fs_open_args_save) as handle:
                handle.write(data)
        self._invalidate_cache()
