"""The publish lock: one conversion Job at a time writes an output root.

flock(2) does the locking (local disks, and NFSv4 where the client maps it to
byte-range locks); the file's content only tells a waiting Job who holds it:
`{"tool", "pid", "host", "acquired_at", "version"}`. The kernel releases a flock
when its holder dies, so a killed Job never leaves a stale lock behind; the
record it wrote stays until the next holder overwrites it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import os
import socket
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from . import bounded_json
from .errors import LockError
from .logs import StageLogger
from .volume import creating, full_error, is_full

LOCK_NAME = ".publish.lock"
TOOL = "omniglue-conversion"
DEFAULT_LOCK_TIMEOUT_S = 1800.0
_POLL_S = 5.0
_REPORT_EVERY_S = 60.0
_MAX_RECORD_BYTES = 4096

_LOCK_FIX = (
    "remove it (no conversion Job may be running) or make it a regular file writable by uid 1000; "
    "the Job recreates it"
)


@dataclass(frozen=True)
class Holder:
    """What the current holder wrote into the lock file, as far as it can be read."""

    pid: int | None
    host: str | None
    age_s: float | None
    version: str | None
    note: str | None = None

    def describe(self) -> str:
        if self.pid is None:
            return f"an unknown holder ({self.note})" if self.note else "an unknown holder"
        age = f", for {self.age_s:.0f} s" if self.age_s is not None else ""
        version = f", converting version {self.version}" if self.version else ""
        return f"pid {self.pid} on host {self.host}{age}{version}"

    def fields(self) -> dict[str, Any]:
        return {"holder_pid": self.pid, "holder_host": self.host, "holder_age_s": None if self.age_s is None else round(self.age_s),
                "holder_version": self.version, **({"holder_note": self.note} if self.note else {})}


def _owner(st: os.stat_result) -> str:
    return f"owned by uid {st.st_uid} gid {st.st_gid}, mode {stat.S_IMODE(st.st_mode):04o}"


def _open_lock_file(path: Path) -> int:
    """Opens (creating if needed) a regular file we may write; anything else is a LockError naming it."""
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(path, flags, 0o664)
    except OSError as exc:
        if is_full(exc):
            raise full_error(exc, path, "creating the lock file") from exc
        who = f"the Job runs as uid {os.getuid()} gid {os.getgid()}"
        try:
            owner = f", the file is {_owner(os.lstat(path))}"
        except OSError:
            owner = ""
        if exc.errno == errno.EISDIR or path.is_dir():
            raise LockError(f"the lock file {path} is a directory", hint=_LOCK_FIX) from exc
        if exc.errno == errno.ELOOP:
            raise LockError(f"the lock file {path} is a symbolic link; the Job does not follow it", hint=_LOCK_FIX) from exc
        if isinstance(exc, PermissionError):
            raise LockError(
                f"cannot open the lock file {path} ({exc.strerror}); {who}{owner}", hint=_LOCK_FIX
            ) from exc
        raise LockError(f"cannot open the lock file {path}: {exc.strerror or exc}", hint=_LOCK_FIX) from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise LockError(f"the lock file {path} is not a regular file ({_owner(st)})", hint=_LOCK_FIX)
    return fd


def read_holder(fd: int, now: float) -> Holder:
    """The record in the lock file; `now` is wall-clock seconds (time.time())."""
    try:
        raw = os.pread(fd, _MAX_RECORD_BYTES, 0)
    except OSError as exc:
        return Holder(None, None, None, None, f"the lock file cannot be read: {exc.strerror or exc}")
    if not raw.strip():
        return Holder(None, None, None, None, "the lock file is empty")
    try:
        record = bounded_json.loads(raw.decode("utf-8"))
        if not isinstance(record, dict) or record.get("tool") != TOOL:
            raise ValueError("not a record of this tool")
        acquired = _dt.datetime.fromisoformat(str(record["acquired_at"])).timestamp()
        return Holder(int(record["pid"]), str(record["host"]), max(0.0, now - acquired), record.get("version"))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        excerpt = raw[:80].decode("utf-8", "replace").strip()
        return Holder(None, None, None, None, f"the lock file holds no record of this tool: {excerpt!r}")


def _write_record(fd: int, version: str | None) -> None:
    record = {
        "tool": TOOL,
        "pid": os.getpid(),
        "host": socket.gethostname(),  # the pod name in Kubernetes
        "acquired_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "version": version,
    }
    data = (json.dumps(record) + "\n").encode("utf-8")
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


@contextlib.contextmanager
def exclusive_lock(
    path: Path,
    log: StageLogger,
    *,
    timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    version: str | None = None,
    poll_s: float = _POLL_S,
    report_every_s: float = _REPORT_EVERY_S,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Holds an exclusive flock on `path`; waits up to `timeout_s`, logging the holder every `report_every_s`."""
    fd = _open_lock_file(path)
    try:
        started = clock()
        next_report = started
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise LockError(
                        f"cannot lock {path}: {exc.strerror or exc}",
                        hint="the filesystem does not support flock (NFSv3 without a lock daemon?); "
                        "use NFSv4 or a volume with POSIX locks",
                    ) from exc
            waited = clock() - started
            holder = read_holder(fd, wall_clock())
            if waited >= timeout_s:
                raise LockError(
                    f"gave up waiting for the lock {path} after {waited:.0f} s (--lock-timeout-seconds {timeout_s:g}); "
                    f"it is held by {holder.describe()}",
                    hint="another conversion Job is still running on this volume (kubectl get jobs,pods); "
                    "a dead holder releases the lock by itself, so a live process holds it",
                )
            if clock() >= next_report:
                log.event("lock", "waiting", path=str(path), waited_s=round(waited), timeout_s=timeout_s, **holder.fields())
                next_report = clock() + report_every_s
            sleep(min(poll_s, max(0.0, timeout_s - waited)))
        waited = clock() - started
        with creating(path, "writing the holder's record into"):
            _write_record(fd, version)
        log.event("lock", "acquired", path=str(path), waited_s=round(waited, 3))
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
