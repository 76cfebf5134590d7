"""Pinned weight sources, a download cache on the Job's volume, and checksums.

None of the three upstream projects publishes checksums, so the Job records the
sha256 of what it downloaded (manifest.json) and verifies it whenever the
operator pins one with `--weights-sha256 NAME=HEX`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import ChecksumError, DownloadError, UsageError
from .logs import StageLogger
from .names import ascii_int, refuse_control_characters
from .volume import full_error, is_full

WEIGHT_NAMES = ("superpoint", "dinov2", "omniglue")

# rpautrat/SuperPoint keeps sp_v6.tgz in git; a commit pin (not `master`) keeps
# the bytes stable. This commit carries the README of the PyTorch-port era, after
# the last change to pretrained_models/sp_v6.tgz (the current, MIT-licensed v6).
SUPERPOINT_COMMIT = "d8ebb9040fac489e23dd0b6f136976c329eed3ba"

DEFAULT_WEIGHT_URLS: Mapping[str, str] = {
    "superpoint": (
        "https://raw.githubusercontent.com/rpautrat/SuperPoint/"
        f"{SUPERPOINT_COMMIT}/pretrained_models/sp_v6.tgz"
    ),
    "dinov2": "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth",
    "omniglue": "https://storage.googleapis.com/omniglue/og_export.zip",
}

# Size caps far above the real files (dinov2_vitb14_pretrain.pth is ~346 MB for 86 M parameters; the matcher
# has ~12 M, SuperPoint fewer): a URL that streams without end (file:///dev/zero, a misbehaving mirror)
# stops here instead of filling the volume.
# --weights-max-bytes NAME=BYTES overrides one.
DEFAULT_MAX_BYTES: Mapping[str, int] = {
    "superpoint": 256 << 20,
    "dinov2": 1 << 30,
    "omniglue": 1 << 30,
}
# All downloads of one run together; the Job's own deadline (conversion.timeoutMinutes, 60) is longer.
DEFAULT_DOWNLOAD_TIMEOUT_S = 1800.0

_CHUNK_BYTES = 1 << 20
_RETRYABLE_HTTP = {408, 425, 429, 500, 502, 503, 504}

Opener = Callable[..., Any]


@dataclass(frozen=True)
class WeightSource:
    name: str
    url: str
    expected_sha256: str | None
    max_bytes: int | None = None


@dataclass(frozen=True)
class FetchedWeight:
    name: str
    url: str
    path: Path
    sha256: str
    size_bytes: int
    verified: bool
    from_cache: bool


def parse_assignments(values: list[str] | None, flag: str) -> dict[str, str]:
    """Parses repeated `NAME=VALUE` flags; NAME must be one of WEIGHT_NAMES."""
    result: dict[str, str] = {}
    for raw in values or []:
        # A newline or tab inside a URL would be dropped by urlsplit (bpo-43882), not refused.
        refuse_control_characters(raw, flag)
        name, sep, value = raw.partition("=")
        name = name.strip()
        if not sep or not value:
            raise UsageError(f"{flag} expects NAME=VALUE, got {raw!r}")
        if name not in WEIGHT_NAMES:
            raise UsageError(
                f"{flag}: unknown weight name {name!r}; allowed: {', '.join(WEIGHT_NAMES)}"
            )
        if name in result:
            raise UsageError(f"{flag} given twice for {name!r}")
        result[name] = value.strip()
    return result


def parse_byte_caps(values: Mapping[str, str], flag: str = "--weights-max-bytes") -> dict[str, int]:
    caps = {}
    for name, raw in values.items():
        value = ascii_int(raw)
        if value is None or value <= 0:
            raise UsageError(f"{flag} {name}={raw}: expected a positive whole number of bytes (ASCII digits)")
        caps[name] = value
    return caps


def resolve_sources(
    url_overrides: Mapping[str, str], sha_pins: Mapping[str, str], max_bytes: Mapping[str, int] | None = None
) -> dict[str, WeightSource]:
    sources: dict[str, WeightSource] = {}
    for name in WEIGHT_NAMES:
        url = url_overrides.get(name, DEFAULT_WEIGHT_URLS[name])
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("https", "http", "file"):
            raise UsageError(
                f"--weights-url {name}={url}: unsupported scheme {scheme!r}; use https:// or file://"
            )
        pin = sha_pins.get(name)
        if pin is not None:
            pin = pin.lower()
            if len(pin) != 64 or any(c not in "0123456789abcdef" for c in pin):
                raise UsageError(
                    f"--weights-sha256 {name}={sha_pins[name]}: expected 64 hexadecimal characters"
                )
        cap = (max_bytes or {}).get(name, DEFAULT_MAX_BYTES[name])
        sources[name] = WeightSource(name=name, url=url, expected_sha256=pin, max_bytes=cap)
    return sources


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_path(source: WeightSource, cache_dir: Path) -> Path:
    # Keyed by the URL, so an overridden URL never reuses a file fetched from another.
    url_key = hashlib.sha256(source.url.encode("utf-8")).hexdigest()[:16]
    basename = os.path.basename(urllib.parse.urlsplit(source.url).path) or "download"
    return cache_dir / f"{source.name}-{url_key}" / basename


def _network_hint(source: WeightSource) -> str:
    return (
        "the Job could not read the weights. In a cluster without direct internet access, "
        "set HTTPS_PROXY/NO_PROXY in the Job's environment, or copy the file onto the volume "
        f"and pass --weights-url {source.name}=file:///path/to/{os.path.basename(source.url)} "
        "(an internal https:// mirror works too)"
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        return str(reason) if not isinstance(reason, str) else reason
    return f"{type(exc).__name__}: {exc}"


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in _RETRYABLE_HTTP
    if isinstance(exc, http.client.HTTPException):  # IncompleteRead, BadStatusLine: a dropped connection
        return True
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    # Timeouts, resets and DNS hiccups are worth another try; a missing local
    # file or a refused permission is not.
    return isinstance(reason, OSError) and not isinstance(
        reason, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
    )


class _Refused(Exception):
    """A download that must not be retried (too large, out of time); carries the operator's message."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _remaining(deadline: float | None, timeout_s: float) -> float:
    if deadline is None:
        return timeout_s
    return min(timeout_s, deadline - time.monotonic())


def _out_of_time(source: WeightSource, total_s: float | None) -> _Refused:
    limit = f"{total_s:g} s" if total_s is not None else "the time limit"
    return _Refused(
        f"the downloads did not finish within {limit} (--download-timeout-seconds); "
        f"stopped while reading the {source.name} weights from {source.url}",
        "a slow or stalled mirror: raise --download-timeout-seconds, or copy the file onto the volume "
        f"and pass --weights-url {source.name}=file:///path/to/{os.path.basename(source.url)}",
    )


def _too_large(source: WeightSource, size: int, announced: bool) -> _Refused:
    what = f"announces {size} bytes" if announced else f"sent more than {source.max_bytes} bytes"
    return _Refused(
        f"the {source.name} weights at {source.url} {what}, over the cap of {source.max_bytes} bytes",
        f"a wrong URL, or a bigger file on purpose: raise the cap with --weights-max-bytes {source.name}=BYTES",
    )


def _download(
    source: WeightSource, target: Path, opener: Opener, timeout_s: float, deadline: float | None, total_s: float | None
) -> tuple[str, int]:
    """Streams the URL into a temp file beside `target`; verifies size and pin, then renames it into place.

    A file that breaks the cap, the deadline or the pinned sha256 never enters the cache.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.part-{uuid.uuid4().hex[:8]}")
    digest = hashlib.sha256()
    size = 0
    cap = source.max_bytes
    is_http = urllib.parse.urlsplit(source.url).scheme in ("http", "https")
    try:
        if _remaining(deadline, timeout_s) <= 0:
            raise _out_of_time(source, total_s)
        with opener(source.url, timeout=_remaining(deadline, timeout_s)) as response, open(partial, "wb") as out:
            # file:// answers with the stat size (0 for a device), so only HTTP's Content-Length is meaningful.
            header = response.headers.get("Content-Length") if is_http and getattr(response, "headers", None) else None
            announced = ascii_int(header.strip()) if header is not None else None
            if cap is not None and announced is not None and announced > cap:
                raise _too_large(source, announced, announced=True)
            while True:
                if deadline is not None and time.monotonic() >= deadline:
                    raise _out_of_time(source, total_s)
                chunk = response.read(_CHUNK_BYTES)
                if not chunk:
                    break
                size += len(chunk)
                if cap is not None and size > cap:
                    raise _too_large(source, size, announced=False)
                digest.update(chunk)
                out.write(chunk)
            if announced is not None and size != announced:
                # http.client returns a short body without an error when the connection drops.
                raise ConnectionResetError(f"connection closed after {size} of {announced} bytes")
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if source.expected_sha256 is not None and actual != source.expected_sha256:
            raise ChecksumError(
                f"checksum mismatch for the {source.name} weights: expected sha256 "
                f"{source.expected_sha256}, got {actual} ({size} bytes from {source.url}); "
                f"the download was discarded, not cached as {target}",
                hint="the upstream file changed or the download is corrupt; compare it with the "
                "manifest.json of the last good version before updating --weights-sha256",
            )
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()
    return actual, size


def fetch_weight(
    source: WeightSource,
    cache_dir: Path,
    log: StageLogger,
    *,
    opener: Opener = urllib.request.urlopen,
    attempts: int = 3,
    timeout_s: float = 60.0,
    backoff_s: float = 2.0,
    deadline: float | None = None,
    total_timeout_s: float | None = None,
) -> FetchedWeight:
    """Returns the cached file when present (re-hashed), else downloads it.

    `deadline` (time.monotonic()) bounds the whole download, retries included; `total_timeout_s`
    is the limit it came from, for the message.
    """
    target = cache_path(source, cache_dir)
    if target.is_file():
        actual = sha256_file(target)
        if source.expected_sha256 is None or actual == source.expected_sha256:
            log.event("weights", "cache-hit", weight=source.name, path=str(target), sha256=actual)
            return FetchedWeight(
                source.name, source.url, target, actual, target.stat().st_size,
                verified=source.expected_sha256 is not None, from_cache=True,
            )
        # A cached file that contradicts the pin is downloaded once more: the pin
        # may be new (upstream changed) or the cache may be damaged.
        log.warning(
            "weights", "cache-mismatch", weight=source.name, path=str(target),
            expected_sha256=source.expected_sha256, actual_sha256=actual,
        )
        target.unlink()

    attempt = 1
    while True:
        try:
            actual, size = _download(source, target, opener, timeout_s, deadline, total_timeout_s)
            break
        except _Refused as exc:
            raise DownloadError(exc.message, hint=exc.hint) from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            if is_full(exc):  # writing the cache file, not reading the URL: a retry would fail the same way
                raise full_error(exc, target, "downloading into") from exc
            pause = backoff_s * attempt
            in_time = deadline is None or time.monotonic() + pause < deadline
            if attempt < attempts and _retryable(exc) and in_time:
                log.warning(
                    "weights", "retry", weight=source.name, url=source.url,
                    attempt=attempt, reason=_describe(exc),
                )
                time.sleep(pause)
                attempt += 1
                continue
            raise DownloadError(
                f"download of the {source.name} weights failed: {source.url}: {_describe(exc)}",
                hint=_network_hint(source),
            ) from exc

    log.event("weights", "downloaded", weight=source.name, url=source.url, bytes=size, sha256=actual)
    return FetchedWeight(
        source.name, source.url, target, actual, size,
        verified=source.expected_sha256 is not None, from_cache=False,
    )


def discard_cached(weight: FetchedWeight) -> None:
    """Removes a cached weight file, so the next run downloads it again."""
    with contextlib.suppress(FileNotFoundError):
        weight.path.unlink()


def remove_partial_downloads(cache_dir: Path) -> list[str]:
    """Deletes `.part-*` files and half-extracted `.extracting-*` directories a killed Job left behind."""
    removed: list[str] = []
    if not cache_dir.is_dir():
        return removed
    for partial in cache_dir.glob("*/*.part-*"):
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
            removed.append(str(partial))
    for staging in cache_dir.glob("*/.extracting-*"):
        shutil.rmtree(staging, ignore_errors=True)
        removed.append(str(staging))
    return removed
