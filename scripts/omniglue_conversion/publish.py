"""Atomic publication of a model repository under `<output-root>/versions/<version>`.

Triton reads the repository at start-up, possibly while a Job writes the next
version, so a version directory only ever appears complete: everything is
written and fsynced in `<output-root>/.staging-<version>-<random>`, then one
rename(2) moves it into place (atomic within one filesystem, NFS included).
manifest.json, written last, lists the sha256 of every file, which lets a
re-run prove that a version is already published and do nothing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from .contract import Contract
from .errors import PublishError, UsageError
from .logs import StageLogger
from .model_config import TENSORRT_MODELS, append_tensorrt_fp16, config_model_name
from .serving import (
    DEFAULT_KEYPOINT_COUNT,
    DEFAULT_MAX_IMAGE_SIDE,
    check_profiles,
    profile_parameters,
    tensorrt_profiles,
    warmup_files,
    with_instance_kind,
)
from .weights import sha256_file

MANIFEST = "manifest.json"
# Triton reads model_warmup's input_data_file from here (core, src/constants.h kWarmupDataFolder).
WARMUP_DIR = "warmup"


@dataclass(frozen=True)
class ServingOptions:
    """How the published configs are placed and accelerated (serving.py)."""

    instance_kind: str = "gpu"
    tensorrt_max_image_side: int = DEFAULT_MAX_IMAGE_SIDE
    keypoint_count: int = DEFAULT_KEYPOINT_COUNT

_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_version(version: str) -> str:
    if not _VERSION_RE.match(version) or ".." in version:
        raise UsageError(
            f"--version {version!r}: use 1-128 characters from [A-Za-z0-9._-], starting with a letter or digit"
        )
    return version


def version_dir(output_root: Path, version: str) -> Path:
    return output_root / "versions" / version


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _copy_file(source: Path, target: Path) -> None:
    with open(source, "rb") as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def verify_published(path: Path) -> tuple[bool, str]:
    """Whether `path` holds a complete version: a manifest whose hashes all match."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        return False, f"{manifest_path} is missing"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files: Mapping[str, Any] = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"{manifest_path} is unreadable: {exc}"
    if manifest.get("version") != path.name:
        return False, f"{manifest_path} is for version {manifest.get('version')!r}, not {path.name!r}"
    for relative, entry in files.items():
        file_path = path / relative
        if not file_path.is_file():
            return False, f"{file_path} is missing"
        if sha256_file(file_path) != entry.get("sha256"):
            return False, f"{file_path} does not match its sha256 in the manifest"
    return True, "ok"


VOLUME_PERMISSION_FIX = (
    "make the volume writable for uid 1000: an EFS access point with uid/gid 1000, an NFS export "
    "without root-squash owned by 1000, or a StorageClass that honours fsGroup"
)


def _probe_write(directory: Path) -> None:
    """Creates and removes a file in `directory`; raises OSError when that is not allowed."""
    fd, name = tempfile.mkstemp(prefix=".write-probe-", dir=directory)
    try:
        os.close(fd)
    finally:
        os.unlink(name)


def _owner_and_mode(path: Path) -> str:
    """`path` (or its nearest existing parent)'s owner and mode, for the operator."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        st = probe.stat()
    except OSError as exc:
        return f"{probe}: cannot stat ({exc.strerror or exc})"
    where = "" if probe == path else f" (nearest existing parent {probe})"
    return f"owned by uid {st.st_uid} gid {st.st_gid}, mode {stat.S_IMODE(st.st_mode):04o}{where}"


def check_writable(path: Path, flag: str) -> None:
    """Creates `path` if needed and proves a file can be created and removed in it.

    The Job runs as uid 1000 and relies on the pod's fsGroup to own the volume;
    NFS, EFS and Filestore volumes ignore fsGroup, so a root-owned export fails
    here with a message instead of a traceback halfway through the Job.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        _probe_write(path)
    except OSError as exc:
        detail = exc.strerror or str(exc)
        message = (
            f"{flag} {path} is not writable ({detail}); the Job runs as uid {os.getuid()} gid {os.getgid()}, "
            f"the directory is {_owner_and_mode(path)}"
        )
        if exc.errno == errno.EROFS:
            raise PublishError(message, hint="the volume is mounted read-only; mount it read-write") from exc
        if isinstance(exc, PermissionError):
            raise PublishError(message, hint=VOLUME_PERMISSION_FIX) from exc
        raise PublishError(message) from exc


@contextlib.contextmanager
def publish_lock(output_root: Path, log: StageLogger, timeout_s: float = 6 * 3600) -> Iterator[None]:
    """Serialises Jobs writing the same output root (flock works on local disks and NFSv4)."""
    output_root.mkdir(parents=True, exist_ok=True)
    lock_path = output_root / ".publish.lock"
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        waited = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise PublishError(f"cannot lock {lock_path}: {exc}") from exc
                if time.monotonic() > deadline:
                    raise PublishError(f"another conversion Job held {lock_path} for over {timeout_s:.0f} s")
                if not waited:
                    log.event("lock", "waiting", path=str(lock_path))
                    waited = True
                time.sleep(5)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def clean_stale_staging(output_root: Path, log: StageLogger) -> list[str]:
    """Removes staging directories of Jobs that died mid-publish (call under the lock)."""
    removed = []
    if output_root.is_dir():
        for stale in sorted(output_root.glob(".staging-*")):
            shutil.rmtree(stale, ignore_errors=True)
            removed.append(stale.name)
    if removed:
        log.event("publish", "stale-staging-removed", directories=removed)
    return removed


def _stage_repository(
    staging: Path,
    contract: Contract,
    model_files: Mapping[str, Path] | None,
    config_dir: Path,
    tensorrt_fp16: bool,
    trt_workspace_bytes: int,
    serving: ServingOptions,
) -> None:
    profiles = tensorrt_profiles(serving.tensorrt_max_image_side, serving.keypoint_count) if tensorrt_fp16 else {}
    for name in sorted(contract.models):
        source_config = config_dir / name / "config.pbtxt"
        try:
            text = source_config.read_text(encoding="utf-8")
        except OSError as exc:
            raise PublishError(f"cannot read the config of model {name!r}: {exc}") from exc
        declared = config_model_name(text)
        if declared is not None and declared != name:
            raise PublishError(f"{source_config} declares name {declared!r}, but its directory is {name!r}")
        if tensorrt_fp16 and name in TENSORRT_MODELS:
            check_profiles(contract.models[name], profiles[name])
            text = append_tensorrt_fp16(text, name, trt_workspace_bytes, profile_parameters(profiles[name]))
        if name != contract.ensemble:
            text = with_instance_kind(text, name, serving.instance_kind)
        model_dir = staging / name
        (model_dir / "1").mkdir(parents=True)
        _write_file(model_dir / "config.pbtxt", text.encode("utf-8"))
        for file_name, data in warmup_files(text, name).items():
            (model_dir / WARMUP_DIR).mkdir(exist_ok=True)
            _write_file(model_dir / WARMUP_DIR / file_name, data)
        if name != contract.ensemble and model_files is not None:
            if name not in model_files:
                raise PublishError(f"no ONNX file to publish for model {name!r}")
            _copy_file(model_files[name], model_dir / "1" / "model.onnx")


def render_configs(
    out: Path, contract: Contract, config_dir: Path, *, tensorrt_fp16: bool, trt_workspace_bytes: int, serving: ServingOptions
) -> None:
    """Writes the configs (and warm-up files) exactly as a publish would, without models: for review."""
    _stage_repository(out, contract, None, config_dir, tensorrt_fp16, trt_workspace_bytes, serving)


def _hash_tree(root: Path) -> dict[str, dict[str, Any]]:
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        files[relative] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return files


def _write_manifest(staging: Path, manifest: dict[str, Any]) -> None:
    _write_file(staging / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def _fsync_tree(root: Path) -> None:
    for directory in sorted({p for p in root.rglob("*") if p.is_dir()} | {root}, key=lambda p: -len(p.parts)):
        _fsync_dir(directory)


def publish_repository(
    output_root: Path,
    version: str,
    contract: Contract,
    model_files: Mapping[str, Path],
    config_dir: Path,
    manifest_fields: Mapping[str, Any],
    log: StageLogger,
    *,
    tensorrt_fp16: bool = False,
    trt_workspace_bytes: int,
    serving: ServingOptions | None = None,
) -> Path:
    """Stages, verifies and renames a version into place; returns its directory."""
    final = version_dir(output_root, version)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = output_root / f".staging-{version}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        _stage_repository(staging, contract, model_files, config_dir, tensorrt_fp16, trt_workspace_bytes, serving or ServingOptions())
        manifest = {**manifest_fields, "version": version, "files": _hash_tree(staging)}
        _write_manifest(staging, manifest)
        _fsync_tree(staging)
        if final.exists():
            # Only reached when an existing version failed verification: keep it for
            # inspection instead of deleting what a server may have loaded.
            rejected = output_root / f".rejected-{version}-{int(time.time())}"
            os.rename(final, rejected)
            log.warning("publish", "replaced-invalid-version", version=version, moved_to=str(rejected))
        os.rename(staging, final)
        _fsync_dir(final.parent)
    except OSError as exc:
        raise PublishError(f"publishing {final} failed: {exc}") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return final


def prune_old_versions(output_root: Path, keep: int, current: str, log: StageLogger) -> list[str]:
    """Removes all but the `keep` newest published versions (call under the lock).

    Pods of the previous rollout may still serve an older version while the new one
    rolls out, so the newest few always stay; `current` is never removed. keep=0
    keeps everything.
    """
    if keep <= 0:
        return []
    versions_root = output_root / "versions"
    if not versions_root.is_dir():
        return []
    published = sorted(
        (path for path in versions_root.iterdir() if path.is_dir()),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    removed = []
    for path in published[keep:]:
        if path.name == current:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    if removed:
        log.event("publish", "old-versions-removed", versions=removed, kept=keep)
    return removed

