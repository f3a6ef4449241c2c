"""Atomic writes of local files: readers never see a file half written.

``write_atomically`` writes a temporary file in the destination folder and renames it over
the target (``os.replace``, atomic on one filesystem), so an interrupted run leaves the
previous file intact and a reader polling the path sees either the old file or the new one.

Only regular files are written: a folder, a device such as ``/dev/null``, a FIFO or socket at
the path, a parent that is a file, or a folder that cannot be written raises
``DatasetError``. A symlink is followed (the file it points to is replaced).

The temporary file, ``.<name>.<12 hex digits>.tmp`` beside the target, is removed when the
write fails, and on SIGTERM (when writing in the main thread under the default SIGTERM action:
the file is removed, then the process ends by SIGTERM as it would have). While it is written
its writer holds an ``flock`` on it; a process killed outright (SIGKILL) leaves it behind, and
the next write to the same target removes every such file that no live writer holds and that
has not been written to for ``STALE_AFTER_S`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from kedro.io.core import DatasetError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locks, no sweeping of stale files
    fcntl = None

#: A temporary file unlocked and untouched for this long is left over from a killed save.
STALE_AFTER_S = 10.0

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
}


class _Terminated(BaseException):
    """Raised in the main thread by SIGTERM during a save, so that the temporary file goes."""


def check_writable_target(path: Path) -> None:
    """Raise ``DatasetError`` unless a regular file can be written at ``path``: nothing there
    or a regular file (symlinks followed), under a folder (or a folder to be made) that can be
    written."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError as error:
        raise DatasetError(f"cannot write {path}: a folder above it is a file") from error
    except OSError as error:
        raise DatasetError(f"cannot write {path}: {error.strerror}") from error
    if mode is not None and not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise DatasetError(f"{path} is {kind}: only a regular file is written there")
    folder = Path(os.path.abspath(path)).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise DatasetError(f"cannot write {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatasetError(f"cannot write {path}: folder {folder} is not writable")


def write_atomically(path: str | os.PathLike, write: Callable[[IO[Any]], None], text: bool) -> None:
    """Write the file at ``path`` (symlinks followed) by ``write(handle)`` on a temporary file
    renamed over it; ``text``: a UTF-8 text handle (no newline translation), else binary."""
    target = Path(os.path.realpath(path))
    check_writable_target(target)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    temporary = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
    with _removed_on_sigterm(temporary):
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        descriptor = os.open(temporary, flags, 0o666)  # as open() would: 0644 under umask 022
        try:
            if fcntl is not None:
                fcntl.flock(descriptor, fcntl.LOCK_EX)  # held until the rename below
            opened = (
                os.fdopen(descriptor, "w", encoding="utf-8", newline="")
                if text
                else os.fdopen(descriptor, "wb")
            )
            with opened as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
                os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    _sync_folder(folder)


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary files that killed saves to ``target`` left (unlocked, untouched for
    ``STALE_AFTER_S``); returns the paths removed."""
    if fcntl is None or not target.parent.is_dir():
        return []
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[0-9a-f]{{12}}\.tmp")
    removed = []
    for entry in os.scandir(target.parent):
        if not pattern.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            descriptor = os.open(entry.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while a writer lives
            if time.time() - os.fstat(descriptor).st_mtime >= STALE_AFTER_S:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
        finally:
            os.close(descriptor)
    return removed


@contextlib.contextmanager
def _removed_on_sigterm(temporary: Path) -> Iterator[None]:
    """While saving in the main thread under the default SIGTERM action, SIGTERM removes the
    temporary file and then ends the process by SIGTERM, as it would have."""
    in_main = threading.current_thread() is threading.main_thread()
    if not in_main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise _Terminated

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except _Terminated:
        temporary.unlink(missing_ok=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        raise  # not reached: the default action ends the process
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
