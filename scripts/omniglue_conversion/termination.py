"""The Job's failure reason, as one line in the container's termination message.

Kubernetes copies what a container wrote to its terminationMessagePath (default
/dev/termination-log) into the pod's status when the container ends
(`status.containerStatuses[].state.terminated.message`), where
`kubectl describe pod` shows it under "Message:" beside the exit code, without
searching the log (Kubernetes docs, "Determine the Reason for Pod Failure").
The kubelet keeps at most 4096 bytes per container; the line stays well under.

Format, one line: `<kind> (exit <code>): <message>[; hint: <hint>]`, e.g.
`checksum (exit 4): superpoint: sha256 0123… differs from the pinned fedc…; hint: …`.
`kind` and `code` are those of errors.py and docs/conversion.md.
"""

from __future__ import annotations

import re
from pathlib import Path

TERMINATION_LOG = Path("/dev/termination-log")
# The kubelet reads at most 4096 bytes per container (and 12 KiB for the whole pod): keep a margin.
MAX_BYTES = 1024
_ELLIPSIS = "…"


def termination_reason(kind: str, exit_code: int, message: str, hint: str | None = None) -> str:
    """The one-line reason: whitespace runs (newlines included) become one space, cut to MAX_BYTES of UTF-8."""
    text = f"{kind} (exit {exit_code}): {message}"
    if hint:
        text += f"; hint: {hint}"
    line = re.sub(r"\s+", " ", text).strip()
    encoded = line.encode("utf-8")
    if len(encoded) <= MAX_BYTES:
        return line
    room = MAX_BYTES - len(_ELLIPSIS.encode("utf-8"))
    return encoded[:room].decode("utf-8", errors="ignore") + _ELLIPSIS


def write_termination_message(line: str, path: Path | None = None) -> bool:
    """Writes the line where the kubelet collects it; does nothing where the file is absent or unwritable.

    In a pod the container runtime mounts the file (writable by any uid, kubernetes/kubernetes#31839); elsewhere
    it does not exist and is not created, so a run outside Kubernetes leaves no stray /dev/termination-log.
    Never raises: the reason is a convenience, the exit code and the log stay the record.
    """
    target = path if path is not None else TERMINATION_LOG
    if not target.is_file():
        return False
    try:
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return True
    except OSError:
        return False


def report_failure(kind: str, exit_code: int, message: str, hint: str | None = None, path: Path | None = None) -> str:
    """Formats and writes the reason; returns the line."""
    line = termination_reason(kind, exit_code, message, hint)
    write_termination_message(line, path)
    return line
