"""Writes to the Job's volume that fail because it is full: one clear error instead of a traceback.

A volume runs out of blocks or of inodes (mkdir and every new file need one; `df -i` shows them) or of the user's
quota, and each shows up as OSError ENOSPC or EDQUOT at whatever call happens to create something. Every place
that creates files or directories on the volume turns those into VolumeFullError (exit 8) naming the path.
"""

from __future__ import annotations

import contextlib
import errno
from pathlib import Path
from typing import Iterator

from .errors import VolumeFullError

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

_FULL_FIX = (
    "free space and inodes on the volume (df -h and df -i show both): old versions under versions/, .rejected-* "
    "directories, or the weights cache under --work-dir; or make the volume (or the quota) larger"
)


def is_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS


def full_error(exc: OSError, path: Path | str, action: str) -> VolumeFullError:
    return VolumeFullError(
        f"the volume is full: {action} {path} failed ({exc.strerror or exc}); no space, no inodes or no quota is left",
        hint=_FULL_FIX,
    )


@contextlib.contextmanager
def creating(path: Path, action: str) -> Iterator[None]:
    """Turns ENOSPC/EDQUOT raised inside into VolumeFullError naming `path`; other errors pass unchanged."""
    try:
        yield
    except OSError as exc:
        if is_full(exc):
            raise full_error(exc, path, action) from exc
        raise
