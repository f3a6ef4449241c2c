"""``PlateAnnotationsDataset`` loads one or more annotations CSVs in the fast-plate-ocr format.

Each CSV has ``image_path,plate_text`` (paths relative to the CSV) and optional ``region`` and
``split`` columns. Loading never drops anything: every physical line after the header is one
row (header = line 1), and a line that cannot be used comes back with ``csv_error`` saying
why (a stray quote, the wrong number of fields, a blank line, a bad header). A file that
cannot be read as lines at all (not UTF-8, NUL bytes, no data lines) is one row with
``source_row`` 0 and ``csv_error`` naming the problem, and the other files go on. Every image
is probed so that ``image_error`` says why it cannot be used. The ingest nodes turn those
facts into the clean and rejects tables.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import cv2
import fsspec
import numpy as np
import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from plate_ocr_pipeline.core.annotations import BLANK_LINE
from plate_ocr_pipeline.core.image_header import DEFAULT_MAX_PIXELS, UNKNOWN_HEADER, image_size
from plate_ocr_pipeline.datasets.regular_file import (
    MAX_CSV_BYTES,
    MAX_IMAGE_BYTES,
    read_regular_file,
)

REQUIRED_COLUMNS = ("image_path", "plate_text")
OPTIONAL_COLUMNS = ("region", "split")
PROBE_COLUMNS = ("image_error", "image_height", "image_width", "image_channels", "image_bit_depth")
# A byte-order mark says which encoding a file is in (UTF-32 before UTF-16: they share FF FE).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
COLUMNS = (
    "source_file",
    "source_row",
    "image_path",
    "raw_text",
    "region",
    "split",
    "csv_error",
    "image_error",
    "image_height",
    "image_width",
    "image_channels",
    "image_bit_depth",
)


class PlateAnnotationsDataset(AbstractDataset[None, pd.DataFrame]):
    """Loads annotations CSVs into one table, one row per physical line after each header
    (``source_row`` is the line, header = 1) plus one row (``source_row`` 0) per file that
    cannot be read as lines, with image facts.

    Lines end with LF, CRLF or a lone CR. A file is UTF-8, or UTF-16/UTF-32 with a byte-order
    mark. A quoted field must close on its own line: a stray ``"`` spoils one line, not the
    rest of the file.

    Example catalog entry::

        raw_annotations:
          type: plate_ocr_pipeline.datasets.PlateAnnotationsDataset
          filepaths:
            - data/01_raw/synthetic/annotations.csv
            - /data/my_plates/annotations.csv

    This dataset is read-only.
    """

    def __init__(
        self,
        *,
        filepaths: str | os.PathLike | list[str | os.PathLike],
        probe_images: bool = True,
        num_threads: int = 8,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new ``PlateAnnotationsDataset``.

        Args:
            filepaths: One CSV path or a list of them, local or any fsspec protocol (all the
                same protocol).
            probe_images: Decode every image to record size, depth and readability.
            num_threads: Threads that probe images (decoding releases the GIL).
            credentials: Credentials for the underlying filesystem.
            fs_args: Extra arguments for the fsspec filesystem constructor.
            metadata: Any arbitrary metadata, ignored by Kedro.
        """
        if isinstance(filepaths, (str, os.PathLike)):
            filepaths = [filepaths]
        if not filepaths:
            raise DatasetError("PlateAnnotationsDataset needs at least one annotations CSV")
        protocols_and_paths = [get_protocol_and_path(str(path)) for path in filepaths]
        protocols = {protocol for protocol, _ in protocols_and_paths}
        if len(protocols) > 1:
            raise DatasetError(f"annotation files mix filesystems: {sorted(protocols)}")
        self._protocol = protocols.pop()
        self._paths = [PurePosixPath(path) for _, path in protocols_and_paths]
        self._fs = fsspec.filesystem(
            self._protocol, **(deepcopy(credentials) or {}), **(deepcopy(fs_args) or {})
        )
        self._probe_images = probe_images
        self._num_threads = max(1, num_threads)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "filepaths": [str(path) for path in self._paths],
            "protocol": self._protocol,
            "probe_images": self._probe_images,
        }

    def _exists(self) -> bool:
        return all(self._fs.exists(str(path)) for path in self._paths)

    def missing_files(self) -> list[str]:
        """The annotations CSVs that do not exist, as given."""
        return [str(path) for path in self._paths if not self._fs.exists(str(path))]

    def save(self, data: None) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")

    def load(self) -> pd.DataFrame:
        records: list[dict[str, Any]] = []
        for path in self._paths:
            records.extend(self._read_csv(path))
        if self._probe_images and records:
            # Probe from the plain records: pandas turns missing strings into NaN (truthy).
            with ThreadPoolExecutor(self._num_threads) as pool:
                facts = pool.map(
                    self._probe,
                    [r["image_path"] for r in records],
                    [r["csv_error"] for r in records],
                )
                for record, fact in zip(records, facts, strict=True):
                    record.update(zip(PROBE_COLUMNS, fact, strict=True))
        table = pd.DataFrame.from_records(records, columns=list(COLUMNS))
        return table.astype({"source_row": "int64"})

    def _read_csv(self, path: PurePosixPath) -> list[dict[str, Any]]:
        if not self._fs.exists(str(path)):
            raise DatasetError(f"annotations file not found: {path}")
        data, reason = read_regular_file(self._fs, str(path), MAX_CSV_BYTES)
        if data is None:
            return [_file_reject(path, reason or "unreadable file")]
        try:
            lines = split_lines(decode_csv_bytes(data))
        except CsvFileError as error:
            return [_file_reject(path, str(error))]
        if not any(line.strip() for line in lines):
            return [_file_reject(path, "no data rows: the file is empty")]
        if len(lines) == 1:
            return [_file_reject(path, "no data rows: the file has a header only")]
        # A header that cannot be read makes every data line a reject naming it: each line
        # is still accounted for.
        header: list[str] = []
        if reason := undecodable_byte(lines[0]):
            header_problem = f"header line {reason}"
        else:
            try:
                header = [name.strip() for name in _parse_line(lines[0])]
                header_problem = _header_problem(header)
            except csv.Error as error:
                header_problem = f"malformed header line: {_csv_reason(error)}"
        base = path.parent
        records = []
        unclosed_at = None  # the line before, where a quoted field did not close
        # Line numbers as a person sees them in an editor: the header is line 1.
        for line_number, line in enumerate(lines[1:], start=2):
            record = dict.fromkeys(COLUMNS)
            record.update(source_file=str(path), source_row=line_number)
            records.append(record)
            opened_before, unclosed_at = unclosed_at, None
            if opened_before is not None and line.count('"') % 2 == 1:
                # Its odd quote closes the field the line before opened: a quoted line break,
                # which is not read across lines (a stray quote must not swallow the rest).
                record["csv_error"] = (
                    f"malformed CSV line: the end of line {opened_before}'s quoted field "
                    "(a line break inside a field is not supported)"
                )
                record["raw_text"] = _shorten(line)
                continue
            if not line.strip():
                record["csv_error"] = BLANK_LINE
                continue
            if reason := undecodable_byte(line):
                record["csv_error"] = reason
                record["raw_text"] = _shorten(
                    line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                )
                continue
            try:
                fields = _parse_line(line)
            except csv.Error as error:
                record["csv_error"] = f"malformed CSV line: {_csv_reason(error)}"
                record["raw_text"] = _shorten(line)
                if "unexpected end of data" in str(error):
                    unclosed_at = line_number
                continue
            if all(not field.strip() for field in fields):
                record["csv_error"] = BLANK_LINE
            elif header_problem:
                record["csv_error"] = header_problem
                record["raw_text"] = _shorten(line)
            elif len(fields) != len(header):
                record["csv_error"] = (
                    f"bad CSV row: {len(fields)} fields where the header has {len(header)}"
                )
                record["raw_text"] = _shorten(line)
            else:
                row = dict(zip(header, fields, strict=True))
                image = row["image_path"].strip()
                record["image_path"] = _resolve(base, image, self._protocol) if image else ""
                record["raw_text"] = row["plate_text"]
                for name in OPTIONAL_COLUMNS:
                    value = row.get(name, "").strip()
                    record[name] = value or None
                if not image:
                    record["csv_error"] = "empty image_path"
        return records

    def _probe(self, image_path: str | None, csv_error: str | None) -> tuple:
        if csv_error or not image_path:
            return (None, None, None, None, None)
        data, reason = read_regular_file(self._fs, image_path, MAX_IMAGE_BYTES)
        if data is None:
            return (reason, None, None, None, None)
        if not data:
            return ("empty image: file has 0 bytes", None, None, None, None)
        size = image_size(data)
        if size is None:
            return (f"unreadable image: {UNKNOWN_HEADER}", None, None, None, None)
        if size[0] * size[1] > DEFAULT_MAX_PIXELS:
            reason = (
                f"image is {size[0]}x{size[1]} pixels, over {DEFAULT_MAX_PIXELS:,}: not decoded"
            )
            return (reason, None, None, None, None)
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None:
            return ("unreadable image: not a decodable image", None, None, None, None)
        if image.size == 0:
            return ("empty image: zero width or height", None, None, None, None)
        channels = 1 if image.ndim == 2 else image.shape[2]
        bit_depth = 16 if image.dtype == np.uint16 else 8
        return (None, image.shape[0], image.shape[1], channels, bit_depth)


class CsvFileError(ValueError):
    """A CSV file that cannot be read as lines of text; the message says why."""


def decode_csv_bytes(data: bytes) -> str:
    """The text of a CSV file: UTF-8 (a BOM allowed; a byte that is not UTF-8 kept for
    :func:`undecodable_byte` to reject its line), or UTF-16/UTF-32 when a byte-order mark says
    so. A file that is not text raises :class:`CsvFileError` saying where."""
    codec = "utf-8-sig"
    for bom, name in _BOMS:
        if data.startswith(bom):
            codec = name
            break
    if codec == "utf-8-sig":
        # A byte that is not UTF-8 spoils its own line only: it is kept as a lone surrogate
        # (U+DC80-U+DCFF), which undecodable_byte finds, and that line is rejected.
        text = data.decode(codec, errors="surrogateescape")
    else:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as error:
            where = f"byte 0x{data[error.start : error.start + 1].hex()} at offset {error.start}"
            raise CsvFileError(
                f"not {codec.upper()} (from its byte-order mark) text: {where}; "
                "save the file as UTF-8"
            ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise CsvFileError(
            "NUL characters (UTF-16 or UTF-32 text without a byte-order mark, or not a text "
            f"file), the first on line {line}; save the file as UTF-8"
        )
    return text


def undecodable_byte(line: str) -> str | None:
    """Why a line of :func:`decode_csv_bytes` text is not UTF-8, or ``None`` where it is."""
    for column, char in enumerate(line, start=1):
        if "\udc80" <= char <= "\udcff":
            return (
                f"not UTF-8 text: byte 0x{ord(char) - 0xDC00:02x} at character {column}; "
                "save the file as UTF-8"
            )
    return None


def split_lines(text: str) -> list[str]:
    """Physical lines, ended by LF, CRLF or a lone CR (old Mac files); a final line ending
    does not start another line."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _parse_line(line: str) -> list[str]:
    """The fields of one physical line: a quoted field must close on its own line, so that a
    stray quote cannot swallow the lines after it."""
    return next(csv.reader([line], strict=True), [])


def _csv_reason(error: csv.Error) -> str:
    message = str(error)
    if "unexpected end of data" in message:
        return 'a quoted field opens with " and does not close on this line'
    if "field larger than field limit" in message:
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return message


def _header_problem(header: list[str]) -> str | None:
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        return f"bad CSV columns: missing {missing} in header {_shorten(str(header))}"
    known = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
    for name in header:
        # Other columns (notes, sources) are ignored, but a misspelt known one would silently
        # drop the user's splits or regions.
        near = difflib.get_close_matches(name.lower().replace(" ", "_"), known, n=1, cutoff=0.75)
        if name not in known and near:
            return (
                f"bad CSV columns: column {name!r} is not one of {list(known)}; "
                f"did you mean {near[0]!r}?"
            )
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name and name in seen:
            return (
                f"bad CSV columns: column {name!r} appears twice in the header "
                f"(columns {seen[name]} and {position})"
            )
        seen.setdefault(name, position)
    return None


def _file_reject(path: PurePosixPath, reason: str) -> dict[str, Any]:
    """The one row of a file that could not be read as lines: ``source_row`` 0."""
    record = dict.fromkeys(COLUMNS)
    record.update(source_file=str(path), source_row=0, csv_error=reason)
    return record


def _shorten(text: str, limit: int = 200) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def _resolve(base: PurePosixPath, image: str, protocol: str) -> str:
    joined = image if image.startswith("/") else str(base / image)
    if protocol == "file":
        return os.path.normpath(os.path.abspath(joined))
    return f"{protocol}://{joined}"
