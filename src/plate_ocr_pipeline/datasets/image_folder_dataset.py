"""``ImageFolderDataset``: every file under a folder as ``{relative path: loader}``, read safely.

Loading lists the folder, recursively, without reading any file, and returns
``{relative_path: loader}`` sorted by path, where ``loader()`` returns the file's bytes, the way
``PartitionedDataset`` hands out partitions: a node reads one file at a time and memory stays
bounded however large the folder is. Decoding is left to the node, so a corrupt file becomes a
row with its reason rather than a failed load.

Every entry under the folder gets a key, so that a node can give each one a row. ``loader()``
returns the bytes of a regular file with an image extension, at most ``max_file_bytes`` long,
whose header (PNG, JPEG, BMP, GIF, WebP, TIFF, PNM) gives at most ``max_pixels`` pixels
(checked on the bytes before anything decodes them; an empty file gives ``b""``). For anything
else it raises :class:`ImageFileError`, an ``OSError`` whose message is the reason: another
extension, a FIFO, socket or device (never opened), a larger file or image, a header that is
none of those formats, a broken symlink, a folder that cannot be listed or that was already
listed (key ending in ``/``).

Symlinks are followed, to files and to folders; each folder is listed once (by device and
inode), so a symlink cycle ends with one row for the link that closes it. A name whose bytes are
not UTF-8 gets a key in an escaped form, Python's ``backslashreplace`` of its bytes
(``z_\\xe9.png`` for the Latin-1 byte ``0xE9``), so that the key can be written anywhere; the
loader still reads the real file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from copy import deepcopy
from functools import partial
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from plate_ocr_pipeline.core.file_names import escape_name
from plate_ocr_pipeline.core.image_header import (
    DEFAULT_MAX_FILE_BYTES,  # the default of ``max_file_bytes`` (the infer parameter)
    DEFAULT_MAX_PIXELS,
    UNKNOWN_HEADER,
    image_size,
)
from plate_ocr_pipeline.core.preprocessing import IMAGE_EXTENSIONS
from plate_ocr_pipeline.datasets.regular_file import read_capped

_LOCAL_PROTOCOLS = {"file", "local"}
_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | os.O_CLOEXEC


class ImageFileError(OSError):
    """A file under the folder that is not read, or whose bytes are refused; ``str()`` is the
    reason. An ``OSError``, so that ``ONNXPlateRecognizer.run_files`` makes it an error row."""


class ImageFiles(dict):
    """What :meth:`ImageFolderDataset.load` returns: ``{relative path: loader}``, sorted, with
    the limits its loaders apply in ``limits`` (``max_file_bytes``, ``max_pixels``)."""

    limits: dict[str, int]


# ------------------------------------------------------------------ pure helpers
def check_image_header(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """``(width, height)`` of the encoded image ``data``, read from its header; raises
    :class:`ImageFileError` with the reason when the header is not recognised, gives a zero
    size or more than ``max_pixels`` pixels (so the image is never decoded)."""
    size = image_size(data)
    if size is None:
        raise ImageFileError(UNKNOWN_HEADER)
    width, height = size
    if width == 0 or height == 0:
        raise ImageFileError(f"image header gives a zero size ({width}x{height})")
    if width * height > max_pixels:
        raise ImageFileError(
            f"image is {width}x{height} = {width * height:,} pixels, over the cap of "
            f"{max_pixels:,} (max_pixels); not decoded"
        )
    return size


def _describe_mode(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _refuse(reason: str) -> bytes:
    raise ImageFileError(reason)


def _os_reason(error: OSError) -> str:
    """An ``OSError`` without the absolute path (the row names the file already)."""
    return f"{type(error).__name__}: {error.strerror or error}"


# ------------------------------------------------------------------ the dataset
class ImageFolderDataset(AbstractDataset[None, dict[str, Callable[[], bytes]]]):
    """Lists every file under ``path`` (recursively) as ``{relative path: loader}``; see the
    module docstring for what ``loader()`` returns or raises.

    Example catalog entry::

        infer_images:
          type: plate_ocr_pipeline.datasets.ImageFolderDataset
          path: ${runtime_params:infer.input_dir,data/01_raw/samples}
          max_file_bytes: ${runtime_params:infer.max_file_bytes,50000000}
          max_pixels: ${runtime_params:infer.max_pixels,40000000}

    Files whose extension (compared case-insensitively) is not in ``extensions`` are listed and
    their loader raises ``ImageFileError`` naming the extension. This dataset is read-only.
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        path: str | os.PathLike,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
        recursive: bool = True,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new ``ImageFolderDataset``.

        Args:
            path: The folder, local or with an fsspec protocol prefix.
            extensions: File name endings to read (compared case-insensitively).
            recursive: Also list files in subfolders (otherwise a subfolder gets one key,
                whose loader says it was not read).
            max_file_bytes: Larger files are not read (their loader raises).
            max_pixels: Images whose header gives more pixels are not decoded.
            credentials: Credentials for the underlying filesystem.
            fs_args: Extra arguments for the fsspec filesystem constructor.
            metadata: Any arbitrary metadata, ignored by Kedro.
        """
        for name, value in (("max_file_bytes", max_file_bytes), ("max_pixels", max_pixels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DatasetError(f"{name} must be a positive integer, got {value!r}")
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
        self._max_file_bytes = max_file_bytes
        self._max_pixels = max_pixels
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "path": str(self._path),
            "protocol": self._protocol,
            "extensions": list(self._extensions),
            "recursive": self._recursive,
            "max_file_bytes": self._max_file_bytes,
            "max_pixels": self._max_pixels,
        }

    def _exists(self) -> bool:
        return self._fs.isdir(str(self._path))

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")

    def load(self) -> ImageFiles:
        listing = self._list_local() if self._protocol in _LOCAL_PROTOCOLS else self._list_fs()
        files = ImageFiles()
        for key, loader in sorted(_unique_keys(listing), key=lambda item: item[0]):
            files[key] = loader
        files.limits = {"max_file_bytes": self._max_file_bytes, "max_pixels": self._max_pixels}
        return files

    # ------------------------------------------------------------- listing
    def _classify(self, name: str, mode: int, reader: Callable[[], bytes]) -> Callable:
        if not stat.S_ISREG(mode):
            return partial(_refuse, f"{_describe_mode(mode)}, not a regular file: not read")
        if not name.lower().endswith(self._extensions):
            suffix = PurePosixPath(escape_name(name)).suffix or "(none)"
            return partial(
                _refuse,
                f"not an image extension: {suffix} (read: {' '.join(self._extensions)})",
            )
        return reader

    def _list_local(self) -> Iterator[tuple[str, Callable[[], bytes]]]:
        """``(key, loader)`` for every entry under the folder, following symlinks and listing
        each folder once (a walk with its own stack: no recursion limit, no cycle)."""
        root = str(self._path)
        try:
            info = os.stat(root)
        except OSError as error:
            raise DatasetError(f"input folder not found: {root} ({_os_reason(error)})") from error
        if not stat.S_ISDIR(info.st_mode):
            raise DatasetError(f"input folder not found or not a folder: {root}")
        listed = {(info.st_dev, info.st_ino): "."}
        stack: list[tuple[str, ...]] = [()]
        while stack:
            parts = stack.pop()
            try:
                with os.scandir(os.path.join(root, *parts)) as entries:
                    names = sorted(entry.name for entry in entries)
            except OSError as error:
                if not parts:
                    raise DatasetError(
                        f"input folder cannot be listed: {root} ({_os_reason(error)})"
                    ) from error
                yield (
                    _key(parts, folder=True),
                    partial(_refuse, f"folder not listed: {_os_reason(error)}"),
                )
                continue
            subfolders = []
            for name in names:
                rel = (*parts, name)
                path = os.path.join(root, *rel)
                try:
                    info = os.stat(path)
                except OSError as error:
                    broken = os.path.islink(path) and isinstance(error, FileNotFoundError)
                    reason = "broken symlink (its target is missing)" if broken else None
                    yield _key(rel), partial(_refuse, reason or f"not read: {_os_reason(error)}")
                    continue
                if not stat.S_ISDIR(info.st_mode):
                    reader = partial(self._read_local, path)
                    yield _key(rel), self._classify(name, info.st_mode, reader)
                elif not self._recursive:
                    yield (
                        _key(rel, folder=True),
                        partial(_refuse, "subfolder, not read (recursive: false)"),
                    )
                elif (info.st_dev, info.st_ino) in listed:
                    other = listed[(info.st_dev, info.st_ino)]
                    yield (
                        _key(rel, folder=True),
                        partial(
                            _refuse,
                            f"same folder as {other!r}, listed there (a symlink loop or a second "
                            "link to it): not listed again",
                        ),
                    )
                else:
                    listed[(info.st_dev, info.st_ino)] = _key(rel, folder=True)
                    subfolders.append(rel)
            stack.extend(reversed(subfolders))

    def _list_fs(self) -> Iterator[tuple[str, Callable[[], bytes]]]:
        """Remote filesystems (no FIFOs or devices there): every file, its size checked."""
        root = str(self._path)
        if not self._fs.isdir(root):
            raise DatasetError(f"input folder not found or not a folder: {root}")
        if self._recursive:
            found = self._fs.find(root, withdirs=False, detail=True)
        else:
            found = {e["name"]: e for e in self._fs.ls(root, detail=True)}
        strip = self._fs._strip_protocol(root).rstrip("/")
        for name, info in found.items():
            rel = PurePosixPath(self._fs._strip_protocol(name)).relative_to(strip).parts
            if info.get("type") == "directory":
                yield (
                    _key(rel, folder=True),
                    partial(_refuse, "subfolder, not read (recursive: false)"),
                )
                continue
            reader = partial(self._read_fs, name, info.get("size"))
            yield _key(rel), self._classify(rel[-1], stat.S_IFREG, reader)

    # ------------------------------------------------------------- reading
    def _read_local(self, path: str) -> bytes:
        """The bytes of a regular file, checked before it is opened and again once open (the
        file may have been replaced), read no further than the cap."""
        try:
            info = os.stat(path)
            self._check_file(info.st_mode, info.st_size)
            descriptor = os.open(path, _OPEN_FLAGS)  # O_NONBLOCK: a FIFO swapped in never hangs
            with open(descriptor, "rb") as handle:
                info = os.fstat(descriptor)
                self._check_file(info.st_mode, info.st_size)
                data = self._read_capped(handle, info.st_size)
        except ImageFileError:
            raise
        except OSError as error:
            raise ImageFileError(f"unreadable: {_os_reason(error)}") from error
        return self._check_bytes(data)

    def _read_fs(self, name: str, size: int | None) -> bytes:
        self._check_file(stat.S_IFREG, size or 0)
        with self._fs.open(name, "rb") as handle:
            data = self._read_capped(handle, size)
        return self._check_bytes(data)

    def _read_capped(self, handle: Any, size: int | None) -> bytes:
        """At most the cap + 1 bytes (``regular_file.read_capped``)."""
        return read_capped(handle, size, self._max_file_bytes)

    def _check_file(self, mode: int, size: int) -> None:
        if not stat.S_ISREG(mode):
            raise ImageFileError(f"{_describe_mode(mode)}, not a regular file: not read")
        if size > self._max_file_bytes:
            raise ImageFileError(
                f"file is {size:,} bytes, over the cap of {self._max_file_bytes:,} "
                "(max_file_bytes): not read"
            )

    def _check_bytes(self, data: bytes) -> bytes:
        if len(data) > self._max_file_bytes:  # grew since it was checked, or a lying size
            raise ImageFileError(
                f"file is over the cap of {self._max_file_bytes:,} bytes (max_file_bytes)"
            )
        if data:  # an empty file is left to the decoder, which names it
            check_image_header(data, self._max_pixels)
        return data


def _key(parts: Sequence[str], folder: bool = False) -> str:
    return "/".join(escape_name(part) for part in parts) + ("/" if folder else "")


def _unique_keys(
    listing: Iterator[tuple[str, Callable[[], bytes]]],
) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """Keys made unique: an escaped name can equal a real one (``a\\xe9.png`` written with a
    backslash); the later one gets `` (2)``, `` (3)``... so that no entry loses its row."""
    seen: set[str] = set()
    for key, loader in listing:
        unique, n = key, 2
        while unique in seen:
            unique, n = f"{key} ({n})", n + 1
        seen.add(unique)
        yield unique, loader
