"""Failure classes of the conversion Job and the exit code each one maps to.

The Job's exit code is the first thing an operator sees in `kubectl get pods`
(and Terraform sees in the failed `kubernetes_job_v1`), so every failure class
has its own code; docs/conversion.md lists them.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_DOWNLOAD = 3
EXIT_CHECKSUM = 4
EXIT_EXPORT = 5
EXIT_CONTRACT = 6
EXIT_SAMPLE = 7
EXIT_PUBLISH = 8
EXIT_LOCK = 9


class ConversionError(Exception):
    """A failure with a message written for the operator, not a traceback."""

    exit_code = EXIT_UNEXPECTED
    kind = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nhint: {self.hint}"
        return self.message


class UsageError(ConversionError):
    exit_code = EXIT_USAGE
    kind = "usage"


class DownloadError(ConversionError):
    exit_code = EXIT_DOWNLOAD
    kind = "download"


class ChecksumError(ConversionError):
    exit_code = EXIT_CHECKSUM
    kind = "checksum"


class ExportError(ConversionError):
    exit_code = EXIT_EXPORT
    kind = "export"


class ContractError(ConversionError):
    exit_code = EXIT_CONTRACT
    kind = "contract"


class SampleInferenceError(ConversionError):
    exit_code = EXIT_SAMPLE
    kind = "sample-inference"


class PublishError(ConversionError):
    exit_code = EXIT_PUBLISH
    kind = "publish"


class LockError(ConversionError):
    """The publish lock cannot be taken: unusable lock file, or another Job held it too long."""

    exit_code = EXIT_LOCK
    kind = "lock"


class VolumeFullError(PublishError):
    """No space, no inodes or no quota left on the volume (ENOSPC, EDQUOT; volume.py).

    Exit 8 like every volume problem, and never mistaken for a download to retry or a bad archive to fetch
    again: the same write would fail the same way.
    """

    kind = "volume-full"
