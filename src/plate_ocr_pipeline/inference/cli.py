"""``plate-ocr``: read cropped plates from the shell with an ONNX model.

Light on purpose, like the recognizer it drives: argparse, numpy, OpenCV and onnxruntime (no
Kedro, no TensorFlow), so it works from the plain install (``pip install plate_ocr_pipeline``)::

    plate-ocr read crop.png more_crops/ [--model m.onnx] [--threads N] [--json | --csv]
                   [--no-format-decoding] [--region ar-old,mercosur]
    plate-ocr benchmark [--model m.onnx] [--batch-size 8] [--json]

``read`` prints one line per input file, in input order: ``path<TAB>text<TAB>confidence``
(``confidence`` is the mean per-character probability, see ``PlateResult``), then
``<TAB>region<TAB>region_confidence`` for a model with a region output, or with ``--json``
one JSON object per line (``path``, ``text``, ``confidence``, ``char_confidences``, ``region``,
``region_confidence``, ``raw_text``, ``status``, ``error``: the columns of the ``infer``
pipeline's predictions), or with ``--csv`` those columns as CSV with a header.
Format-aware decoding (on; ``--no-format-decoding`` turns it off) picks the most probable text
that fits a format of the plate's likely region (the model's region output, or the families
given with ``--region``). With more than a few files and a terminal on stderr, a progress line
counts them there (``--progress`` / ``--no-progress`` force it). A folder stands for its image
files (recursively, sorted, hidden files skipped). A file that cannot be read gets the row
``path<TAB>error<TAB>reason`` (``status: "error"`` in JSON) and the others are still read; the
exit code is then 1. Exit code 2: bad arguments, or the model could not be loaded.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from plate_ocr_pipeline.core.file_names import escape_name
from plate_ocr_pipeline.core.preprocessing import IMAGE_EXTENSIONS

PROG = "plate-ocr"
ERROR_MARK = "error"
DEFAULT_CLI_BATCH_SIZE = 64


# ------------------------------------------------------------------- inputs
def _folder_images(folder: Path) -> list[tuple[str, str | None]]:
    """``(path, error)`` for every entry under ``folder`` (recursive, symlinked folders
    followed, each folder listed once) named like an image, sorted by relative path, hidden
    ones skipped. A FIFO or device so named is listed (the recognizer refuses it, unread), and
    a subfolder that cannot be listed is a row with the reason: a folder of N such entries
    gives N rows."""
    found: list[tuple[str, str | None]] = []
    listed: set[tuple[int, int]] = set()

    def unlisted(error: OSError) -> None:
        reason = f"{type(error).__name__}: {error.strerror or error}"
        found.append((str(Path(error.filename or folder)), f"folder not listed: {reason}"))

    def first_visit(path: str) -> bool:
        try:
            info = os.stat(path)
        except OSError:
            return True  # os.walk reports it through onerror
        key = (info.st_dev, info.st_ino)
        if key in listed:
            return False
        listed.add(key)
        return True

    for root, folders, files in os.walk(folder, onerror=unlisted, followlinks=True):
        if not first_visit(root):
            folders[:] = []
            continue
        folders[:] = [name for name in folders if not name.startswith(".")]
        found.extend(
            (str(Path(root) / name), None)
            for name in files
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS
        )
    return sorted(found, key=lambda item: Path(item[0]).relative_to(folder).as_posix())


def expand_inputs(paths: Sequence[str]) -> list[tuple[str, str | None]]:
    """``(path, error)`` per input file, in argument order; folders expand to their images.

    ``error`` is ``None`` for a file to read, or the reason a folder gave nothing to read.
    Files are not checked here: the recognizer names a missing or corrupt file itself.
    """
    items: list[tuple[str, str | None]] = []
    for raw in paths:
        if not raw:
            items.append((raw, "empty path"))  # Path("") would read the current folder
            continue
        path = Path(raw)
        try:
            is_folder = path.is_dir()
        except OSError:  # a folder on the way that cannot be entered: the reader names it
            is_folder = False
        if is_folder:
            images = _folder_images(path)
            if not images:
                items.append((raw, "folder holds no image files"))
            items.extend(images)
        else:
            items.append((raw, None))
    return items


# ------------------------------------------------------------------ output
def _clean(value: str) -> str:
    """One TSV field: tabs and line breaks become spaces."""
    return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _csv_line(values: Sequence[Any]) -> str:
    # Quoting follows the line terminator's characters: with \r\n a field holding a line
    # break is quoted, and the record stays one CSV record.
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()[:-2]


def format_record(record: dict[str, Any], as_json: bool, as_csv: bool = False) -> str:
    """One output line (without the newline) for one input file; a path that is not UTF-8
    is written with ``\\xNN`` escapes, so every format stays valid UTF-8."""
    record = {
        **record,
        "path": escape_name(str(record["path"])),
        "error": None if record["error"] is None else escape_name(str(record["error"])),
    }
    if as_csv:
        confidence = record["confidence"]
        return _csv_line([
            record["path"], record["text"],
            "" if confidence is None else f"{confidence:.6f}",
            json.dumps(record["char_confidences"]) if record["status"] == "ok" else "",
            record["region"] or "",
            "" if record["region_confidence"] is None else f"{record['region_confidence']:.6f}",
            record["raw_text"] or "",
            record["status"], record["error"] or "",
        ])  # fmt: skip
    if as_json:
        for key in ("confidence", "region_confidence"):
            if record[key] is not None:
                record = {**record, key: round(record[key], 6)}
        return json.dumps(record, ensure_ascii=False)
    if record["status"] == "ok":
        line = f"{_clean(record['path'])}\t{record['text']}\t{record['confidence']:.4f}"
        if record["region"] and record["region_confidence"] is not None:
            line += f"\t{record['region']}\t{record['region_confidence']:.4f}"
        return line
    return f"{_clean(record['path'])}\t{ERROR_MARK}\t{_clean(record['error'])}"


# -------------------------------------------------------------------- read
def read_records(
    recognizer: Any, items: Sequence[tuple[str, str | None]], batch_size: int, workers: int = 1
) -> Iterator[dict[str, Any]]:
    """One record per item, in order: ``workers`` lanes each read, decode and run
    ``batch_size`` images at a time (``run_files(lanes=True)``); an item that arrives with an
    error (``expand_inputs``) is not read."""
    from plate_ocr_pipeline.inference.recognizer import PlateResult

    # Keyed by position: the same file given twice is read twice.
    files = {str(i): path for i, (path, error) in enumerate(items) if error is None}
    results = recognizer.run_files(files, max(1, int(batch_size)), max(1, workers), lanes=True)
    for path, error in items:
        if error is not None:
            yield PlateResult.failed(path, error).record()
            continue
        result = next(results)
        result.source = path
        yield result.record()


class OutputError(Exception):
    """The results could not be written (a full disk, an I/O error), a pipe closed by its
    reader aside."""


def _write(line: str, out: TextIO) -> None:
    try:
        print(line, file=out, flush=True)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise OutputError(str(error)) from error


class ModelLoadError(Exception):
    """The model could not be loaded (missing file, no plate config, not an ONNX file...)."""


class RegionHintError(ValueError):
    """``--region`` names a family that neither the model nor a formats file knows."""


def _load_recognizer(args: argparse.Namespace) -> Any:
    from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer

    try:
        recognizer = ONNXPlateRecognizer(
            args.model,
            providers=args.provider,
            # Several lanes: one onnxruntime thread each, unless told otherwise.
            threads=args.threads or (1 if getattr(args, "workers", 1) > 1 else None),
            format_decoding=getattr(args, "format_decoding", True),
        )
    except Exception as error:  # onnxruntime raises its own types for a bad file
        message = str(error) if isinstance(error, (OSError, ValueError)) else repr(error)
        raise ModelLoadError(message) from error
    region = getattr(args, "region", None)
    if not region:
        return recognizer
    try:  # after loading: the families a hint may name include the model's own
        return recognizer.reading(recognizer.format_decoding, region)
    except ValueError as error:
        raise RegionHintError(str(error)) from error


class Progress:
    """``read 1,200/20,000 files (6%), 410/s, 46 s left`` on one stderr line, redrawn at most
    every ``interval`` seconds. Written here rather than with tqdm: the plain install has
    numpy, OpenCV and onnxruntime only."""

    def __init__(self, total: int, stream: TextIO, enabled: bool, interval: float = 0.5) -> None:
        self.total, self.stream, self.enabled, self.interval = total, stream, enabled, interval
        self.done, self._started, self._shown = 0, time.perf_counter(), 0.0

    def update(self, count: int = 1) -> None:
        self.done += count
        now = time.perf_counter()
        if self.enabled and (now - self._shown >= self.interval or self.done == self.total):
            self._shown = now
            rate = self.done / max(now - self._started, 1e-9)
            left = (self.total - self.done) / rate if rate else 0.0
            self.stream.write(
                f"\rread {self.done:,}/{self.total:,} files "
                f"({100 * self.done / max(self.total, 1):.0f}%), {rate:.0f}/s, {left:.0f} s left"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()


PROGRESS_MIN_FILES = 200  # fewer files than this finish before a progress line helps


def _cmd_read(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    items = expand_inputs(args.paths)
    recognizer = _load_recognizer(args)
    show = args.progress
    if show is None:
        show = len(items) >= PROGRESS_MIN_FILES and getattr(err, "isatty", lambda: False)()
    progress = Progress(len(items), err, bool(show))
    failed = 0
    if args.csv:
        from plate_ocr_pipeline.inference.recognizer import RESULT_COLUMNS

        _write(_csv_line(RESULT_COLUMNS), out)
    try:
        for record in read_records(recognizer, items, args.batch_size, args.workers):
            failed += record["status"] != "ok"
            _write(format_record(record, args.json, args.csv), out)
            progress.update()
    finally:
        progress.close()
    if failed:
        print(f"{PROG}: {failed} of {len(items)} input(s) could not be read", file=err)
        return 1
    return 0


def _cmd_benchmark(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    recognizer = _load_recognizer(args)
    try:
        stats = recognizer.benchmark(
            n_iter=args.iterations,
            batch_size=args.batch_size,
            warmup=args.warmup,
            include_processing=args.include_processing,
            verbose=False,
        )
    except ValueError as error:  # a bad count that got past argparse (main() called directly)
        print(f"{PROG} benchmark: error: {error}", file=err)
        return 2
    if args.json:
        stats = {
            "model": str(recognizer.model_path),
            "provider": recognizer.session.get_providers()[0],
            "include_processing": args.include_processing,
            **stats,
        }
        print(json.dumps(stats), file=out)
        return 0
    print(f"model\t{recognizer.model_path}", file=out)
    print(f"provider\t{recognizer.session.get_providers()[0]}", file=out)
    print(f"include_processing\t{args.include_processing}", file=out)
    for key, value in stats.items():
        print(f"{key}\t{value:.3f}" if isinstance(value, float) else f"{key}\t{value}", file=out)
    return 0


# ---------------------------------------------------------------- parsing
def _family_list(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one region family")
    return names


def _positive_int(text: str, minimum: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    return _positive_int(text, minimum=0)


def build_parser() -> argparse.ArgumentParser:
    from plate_ocr_pipeline import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read cropped licence plates with an ONNX model (no Kedro, no TensorFlow).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    model_options = argparse.ArgumentParser(add_help=False)
    model_options.add_argument(
        "--model",
        metavar="MODEL.onnx",
        default=None,
        help="the ONNX model (default: the model shipped with the package)",
    )
    model_options.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="onnxruntime intra-op threads (default: onnxruntime's, all cores)",
    )
    model_options.add_argument(
        "--provider",
        action="append",
        default=None,
        metavar="NAME",
        help="onnxruntime execution provider, repeatable in order of preference "
        "(default: CPUExecutionProvider)",
    )
    model_options.add_argument(
        "--json", action="store_true", help="print JSON (one object per line) instead of TSV"
    )

    read = commands.add_parser(
        "read",
        parents=[model_options],
        help="read plate text from image files or folders",
        description="Print path<TAB>text<TAB>confidence for every image, in input order; "
        "path<TAB>error<TAB>reason for a file that cannot be read (exit code 1).",
    )
    read.add_argument("paths", nargs="+", metavar="PATH", help="image file or folder of images")
    read.add_argument(
        "--batch-size",
        type=_positive_int,
        default=DEFAULT_CLI_BATCH_SIZE,
        metavar="N",
        help=f"images per model call (default {DEFAULT_CLI_BATCH_SIZE})",
    )
    read.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="threads that each read, decode and run whole batches, with one onnxruntime "
        "thread each unless --threads says otherwise (default 1)",
    )
    read.add_argument("--csv", action="store_true", help="print CSV with a header instead of TSV")
    read.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"a progress line on stderr (default: on a terminal, from {PROGRESS_MIN_FILES} files)",
    )
    read.add_argument(
        "--format-decoding",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="choose the most probable text that fits a format of the plate's likely region "
        "(the model's region output, or --region); on by default",
    )
    read.add_argument(
        "--region",
        type=_family_list,
        default=None,
        metavar="FAMILY[,FAMILY]",
        help="region families the plates come from (e.g. ar-old,mercosur), for "
        "--format-decoding instead of the model's region output",
    )
    read.set_defaults(handler=_cmd_read)

    bench = commands.add_parser(
        "benchmark",
        parents=[model_options],
        help="time the model on random crops",
        description="Latency (mean, p50, p95 per call, ms) and throughput (plates/s).",
    )
    bench.add_argument("--batch-size", type=_positive_int, default=1, metavar="N")
    bench.add_argument("--iterations", type=_positive_int, default=200, metavar="N")
    bench.add_argument("--warmup", type=_non_negative_int, default=20, metavar="N")
    bench.add_argument(
        "--include-processing",
        action="store_true",
        help="also time preprocessing (resize of a 2x crop) and decoding",
    )
    bench.set_defaults(handler=_cmd_benchmark)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``plate-ocr`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "csv", False) and args.json:
        parser.error("--csv and --json exclude each other")
    try:
        return args.handler(args, sys.stdout, sys.stderr)
    except ModelLoadError as error:
        print(f"{PROG}: error: cannot load the model: {error}", file=sys.stderr)
        return 2
    except RegionHintError as error:
        print(f"{PROG}: error: argument --region: {error}", file=sys.stderr)
        return 2
    except OutputError as error:
        print(f"{PROG}: error: cannot write the results: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `plate-ocr read ... | head`: stop quietly, as other command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
