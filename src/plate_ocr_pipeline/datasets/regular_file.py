"""Reading a file that a table names, without hanging on it: only regular files, capped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plate_ocr_pipeline.core.image_header import DEFAULT_MAX_FILE_BYTES

MAX_IMAGE_BYTES = DEFAULT_MAX_FILE_BYTES
MAX_CSV_BYTES = 2_000_000_000  # an annotations CSV of tens of millions of lines still fits
MAX_BINARY_BYTES = 64_000_000_000  # models and model-input arrays: any this machine could hold


def read_regular_file(
    fs: Any, path: str, max_bytes: int, open_args: Mapping[str, Any] | None = None
) -> tuple[bytes | None, str | None]:
    """The bytes of ``path`` on the fsspec filesystem ``fs``, or ``None`` and the reason.

    A FIFO would hang the read and a device (``/dev/zero``, also through a symlink) never end
    it, so only a regular file is opened, and never more than ``max_bytes`` of it is read.
    """
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return None, "missing file"
    except OSError as error:
        return None, _unreadable(error)
    kind = info.get("type")
    if kind is not None and kind != "file":  # a filesystem that gives no type has files only
        return None, f"not a regular file ({kind})"
    too_big = f"file over {max_bytes:,} bytes: not read"
    size = info.get("size")
    if (size or 0) > max_bytes:
        return None, too_big
    try:
        with fs.open(path, "rb", **(open_args or {})) as handle:
            data = read_capped(handle, size, max_bytes)
    except FileNotFoundError:
        return None, "missing file"
    except OSError as error:
        return None, _unreadable(error)
    if len(data) > max_bytes:  # it grew past the cap after it was measured
        return None, too_big
    return data, None


def _unreadable(error: OSError) -> str:
    return f"unreadable file: {error.__class__.__name__}: {error.strerror or error}"


def read_capped(handle: Any, size: int | None, max_bytes: int) -> bytes:
    """At most ``max_bytes`` + 1 bytes of an open file measured at ``size`` bytes (``None``:
    unknown). Asked for the size the file has (+ 1, to see it grew): ``read(n)`` sets aside n
    bytes first, and n = the cap costs more than the read. A file that grew since it was
    measured is read on, up to the cap + 1, which the caller then refuses."""
    limit = max_bytes + 1
    if size is None:
        return handle.read(limit)
    data = handle.read(min(int(size) + 1, limit))
    if len(data) == int(size) + 1 and len(data) < limit:
        data += handle.read(limit - len(data))
    return data
