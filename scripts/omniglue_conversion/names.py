"""Checks shared by every command-line value that names something: a directory, a URL, a number.

Python's `re.match(r"...$")` accepts a trailing newline (`$` also matches before a final "\\n"), `\\d` and
str.isdigit() accept non-ASCII digits ("٣", "²") that int() then converts or refuses, and urllib.parse.urlsplit
silently drops tabs and newlines from a URL (CPython bpo-43882). So names are checked with re.fullmatch over
ASCII classes, numbers are ASCII digits of bounded length, and control characters are refused, not stripped.
"""

from __future__ import annotations

import re

from .errors import UsageError

# C0 controls, DEL and C1 controls: never part of a file name, URL or pin the Job should accept.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Decimal digits only; 18 digits stay far below int()'s 4300-digit limit (CPython 3.11, gh-95778) and int64.
_ASCII_DIGITS = re.compile(r"[0-9]{1,18}")


def control_characters(text: str) -> list[str]:
    """The control characters in `text`, as escapes ("\\n", "\\x00"), in order of appearance."""
    return [repr(c)[1:-1] for c in _CONTROL.findall(text)]


def refuse_control_characters(text: str, what: str) -> str:
    found = control_characters(text)
    if found:
        raise UsageError(f"{what} {text!r} contains control characters ({', '.join(dict.fromkeys(found))}); remove them")
    return text


def ascii_int(text: str) -> int | None:
    """`text` as a non-negative integer when it is 1-18 ASCII digits, else None."""
    return int(text) if _ASCII_DIGITS.fullmatch(text) else None
