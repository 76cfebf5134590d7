"""Structured logging: one JSON object per line on stdout.

`kubectl logs` of a Job is often the only record of a conversion, and log
collectors (Loki, Cloud Logging, ...) parse JSON lines into fields, so every
stage ends with exactly one line carrying its status and duration.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import sys
import time
from typing import IO, Any, Iterator


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


class StageLogger:
    """Writes `{"ts", "level", "stage", "event", ...}` lines."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self.records: list[dict[str, Any]] = []

    def _write(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        stream = self._stream if self._stream is not None else sys.stdout
        stream.write(json.dumps(record, default=str, sort_keys=False) + "\n")
        stream.flush()

    def event(self, stage: str, event: str, *, level: str = "info", **fields: Any) -> None:
        self._write({"ts": _utc_now(), "level": level, "stage": stage, "event": event, **fields})

    def warning(self, stage: str, event: str, **fields: Any) -> None:
        self.event(stage, event, level="warning", **fields)

    @contextlib.contextmanager
    def stage(self, name: str, **fields: Any) -> Iterator[dict[str, Any]]:
        """Times a stage; the caller may add result fields to the yielded dict.

        Only the end of a stage is logged (ok or failed), so a stage is one line.
        """
        details: dict[str, Any] = dict(fields)
        started = time.monotonic()
        try:
            yield details
        except BaseException as exc:
            self.event(
                name,
                "failed",
                level="error",
                seconds=round(time.monotonic() - started, 3),
                error=type(exc).__name__,
                **details,
            )
            raise
        self.event(name, "ok", seconds=round(time.monotonic() - started, 3), **details)
