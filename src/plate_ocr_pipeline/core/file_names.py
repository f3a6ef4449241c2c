"""File names as text that any output can hold: a name that is not UTF-8 (a byte from
another encoding, kept by Python as a lone surrogate) is written with ``\\xNN`` escapes."""

from __future__ import annotations

import os


def escape_name(name: str) -> str:
    """``name`` as text that encodes to UTF-8: unchanged when it already does, else its bytes
    (``os.fsencode``) with each byte that is not UTF-8 written as ``\\xNN``."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    try:
        raw = os.fsencode(name)
    except UnicodeEncodeError:  # a lone surrogate that does not stand for a byte
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")
