"""``ImageFolderDataset`` lists the image files under a folder, recursively, without reading them.

Loading returns ``{relative_path: loader}`` sorted by path, where ``loader()`` returns the
file's bytes, the way ``PartitionedDataset`` hands out partitions: a node reads one file at a
time and memory stays bounded however large the folder is. Decoding is left to the node, so a
corrupt file becomes a row with its reason rather than a failed load.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from copy import deepcopy
from functools import partial
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from plate_ocr_pipeline.core.preprocessing import IMAGE_EXTENSIONS


class ImageFolderDataset(AbstractDataset[None, dict[str, Callable[[], bytes]]]):
    """Lazily lists image files under ``path`` (recursive, extensions case-insensitive).

    Example catalog entry::

        infer_images:
          type: plate_ocr_pipeline.datasets.ImageFolderDataset
          path: ${runtime_params:infer.input_dir,data/01_raw/samples}

    Files whose extension is not in ``extensions`` (``.txt``, ``.csv``, hidden files) are not
    listed; a file with an image extension is listed whatever it holds. This dataset is
    read-only.
    """

    def __init__(
        self,
        *,
        path: str | os.PathLike,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
        recursive: bool = True,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new ``ImageFolderDataset``.

        Args:
            path: The folder, local or with an fsspec protocol prefix.
            extensions: File name endings to list (compared case-insensitively).
            recursive: Also list files in subfolders.
            credentials: Credentials for the underlying filesystem.
            fs_args: Extra arguments for the fsspec filesystem constructor.
            metadata: Any arbitrary metadata, ignored by Kedro.
        """
        protocol, folder = get_protocol_and_path(str(path))
        self._protocol = protocol
        self._path = PurePosixPath(folder)
        self._fs = fsspec.filesystem(
            protocol, **(deepcopy(credentials) or {}), **(deepcopy(fs_args) or {})
        )
        self._extensions = tuple(
            e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions
        )
        self._recursive = recursive
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "path": str(self._path),
            "protocol": self._protocol,
            "extensions": list(self._extensions),
            "recursive": self._recursive,
        }

    def _exists(self) -> bool:
        return self._fs.isdir(str(self._path))

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")

    def list_files(self) -> list[str]:
        """Relative POSIX paths of the image files, sorted."""
        root = str(self._path)
        if not self._fs.isdir(root):
            raise DatasetError(f"input folder not found or not a folder: {root}")
        if self._recursive:
            found = self._fs.find(root, withdirs=False)
        else:
            found = [e["name"] for e in self._fs.ls(root, detail=True) if e["type"] == "file"]
        strip = self._fs._strip_protocol(root).rstrip("/")
        relative = []
        for name in found:
            name = self._fs._strip_protocol(name)
            rel = str(PurePosixPath(name).relative_to(strip))
            if any(part.startswith(".") for part in PurePosixPath(rel).parts):
                continue
            if rel.lower().endswith(self._extensions):
                relative.append(rel)
        return sorted(relative)

    def load(self) -> dict[str, Callable[[], bytes]]:
        return {rel: partial(self._read, rel) for rel in self.list_files()}

    def _read(self, relative_path: str) -> bytes:
        with self._fs.open(str(self._path / relative_path), "rb") as handle:
            return handle.read()
