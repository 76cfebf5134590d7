"""JSON from files the Job does not control (manifest.json on the volume, the lock record, the contract).

CPython's json decoder recurses once per nesting level, so a document nested ~1000 deep raises RecursionError
(Modules/_json.c scan_once_unicode, Py_EnterRecursiveCall), which no caller expects. Nesting is counted first,
outside strings, and a document deeper than any the Job writes is refused with ValueError, like any other
malformed JSON; the size is bounded before the file is read.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

# The contract is the deepest document the Job reads: models -> model -> inputs -> [tensor] -> dims -> [int].
MAX_DEPTH = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def nesting_depth(text: str, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects in `text`, brackets inside strings not counted; counting stops
    at the first level deeper than `stop_above`."""
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub('""', text)):
        depth += 1 if bracket.group() in "[{" else -1
        deepest = max(deepest, depth)
        if stop_above is not None and deepest > stop_above:
            break
    return deepest


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"JSON number {text} is out of range")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"JSON has no {name} (Python's json accepts it, int() of it raises OverflowError)")


def loads(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads of strict JSON: NaN, Infinity and numbers beyond float range (1e400) are refused too."""
    if nesting_depth(text, stop_above=max_depth) > max_depth:
        raise ValueError(f"JSON nested more than {max_depth} levels deep")
    return json.loads(text, parse_float=_finite, parse_constant=_no_constant)


def read(path: Path, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parses a UTF-8 JSON file of at most `max_bytes`; OSError, UnicodeDecodeError or ValueError otherwise."""
    with open(path, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ValueError(f"{path} is larger than {max_bytes} bytes")
    return loads(raw.decode("utf-8"), max_depth)
