"""Atomic publication of a model repository under `<output-root>/versions/<version>`.

Triton reads the repository at start-up, possibly while a Job writes the next
version, so a version directory only ever appears complete: everything is
written and fsynced in `<output-root>/.staging-<version>-<random>`, then one
rename(2) moves it into place (atomic within one filesystem, NFS included).
manifest.json, written last, lists the sha256 of every file, which lets a
re-run prove that a version is already published and do nothing.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ContextManager, Mapping

from .contract import Contract
from .errors import PublishError, UsageError
from .locking import LOCK_NAME, exclusive_lock
from .logs import StageLogger
from .model_config import DEFAULT_TRT_WORKSPACE_BYTES, TENSORRT_MODELS, append_tensorrt_fp16, config_model_name
from .throughput import ThroughputMode
from .throughput_config import apply_to_config as apply_throughput_config
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
    # TensorRT FP16 on the networks (model_config.append_tensorrt_fp16), with this workspace per engine.
    tensorrt_fp16: bool = False
    trt_workspace_bytes: int = DEFAULT_TRT_WORKSPACE_BYTES
    tensorrt_max_image_side: int = DEFAULT_MAX_IMAGE_SIDE
    keypoint_count: int = DEFAULT_KEYPOINT_COUNT
    # Throughput mode (throughput.py); None publishes every config with its own dims, as written.
    # The contract given with it must be the transformed one (throughput.apply_to_contract).
    throughput: ThroughputMode | None = None

REJECTED_PREFIX = ".rejected-"
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


_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def required_files(contract: Contract) -> list[str]:
    """Files a published version must list: every model's config, and every non-ensemble model's ONNX file."""
    files = []
    for name in sorted(contract.models):
        files.append(f"{name}/config.pbtxt")
        if name != contract.ensemble:
            files.append(f"{name}/1/model.onnx")
    return files


def verify_published(path: Path, contract: Contract) -> tuple[bool, str]:
    """Whether `path` holds a complete version of `contract`'s models.

    The manifest must name this version and list every required file, and every
    file it lists must exist and match its sha256: a manifest with `"files": {}`
    or one written by an older contract does not count as published.
    """
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        return False, f"{manifest_path} is missing"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files: Mapping[str, Any] = manifest["files"]
        if not isinstance(files, dict):
            raise TypeError(f'"files" is a {type(files).__name__}, not an object')
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return False, f"{manifest_path} is unreadable: {exc}"
    if manifest.get("version") != path.name:
        return False, f"{manifest_path} is for version {manifest.get('version')!r}, not {path.name!r}"
    missing = [f for f in required_files(contract) if f not in files]
    if missing:
        return False, f"{manifest_path} does not list {missing}"
    if not (path / contract.ensemble / "1").is_dir():
        return False, f"{path / contract.ensemble / '1'} (the ensemble's version directory) is missing"
    for relative, entry in sorted(files.items()):
        pure = PurePosixPath(relative)
        if pure.is_absolute() or ".." in pure.parts or relative == MANIFEST:
            return False, f"{manifest_path} lists the path {relative!r} outside the version"
        if not isinstance(entry, dict) or not _SHA256_RE.match(str(entry.get("sha256"))):
            return False, f"{manifest_path} has no valid sha256 for {relative}"
        file_path = path / relative
        if not file_path.is_file():
            return False, f"{file_path} is missing"
        if sha256_file(file_path) != entry["sha256"]:
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


def describe_owner(path: Path) -> str:
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
            f"the directory is {describe_owner(path)}"
        )
        if exc.errno == errno.EROFS:
            raise PublishError(message, hint="the volume is mounted read-only; mount it read-write") from exc
        if isinstance(exc, PermissionError):
            raise PublishError(message, hint=VOLUME_PERMISSION_FIX) from exc
        raise PublishError(message) from exc


def publish_lock(output_root: Path, log: StageLogger, *, timeout_s: float, version: str) -> ContextManager[None]:
    """Serialises Jobs writing the same output root (locking.py; exit 9 when the lock cannot be had)."""
    return exclusive_lock(output_root / LOCK_NAME, log, timeout_s=timeout_s, version=version)


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
    serving: ServingOptions,
) -> None:
    profiles = (
        tensorrt_profiles(serving.tensorrt_max_image_side, serving.keypoint_count, serving.throughput) if serving.tensorrt_fp16 else {}
    )
    for name in sorted(contract.models):
        source_config = config_dir / name / "config.pbtxt"
        try:
            text = source_config.read_text(encoding="utf-8")
        except OSError as exc:
            raise PublishError(f"cannot read the config of model {name!r}: {exc}") from exc
        declared = config_model_name(text)
        if declared is not None and declared != name:
            raise PublishError(f"{source_config} declares name {declared!r}, but its directory is {name!r}")
        if serving.throughput is not None:
            text = apply_throughput_config(text, contract.models[name], serving.throughput)
        if serving.tensorrt_fp16 and name in TENSORRT_MODELS:
            check_profiles(contract.models[name], profiles[name])
            text = append_tensorrt_fp16(text, name, serving.trt_workspace_bytes, profile_parameters(profiles[name]))
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


def render_configs(out: Path, contract: Contract, config_dir: Path, serving: ServingOptions) -> None:
    """Writes the configs (and warm-up files) exactly as a publish would, without models: for review."""
    _stage_repository(out, contract, None, config_dir, serving)


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
    serving: ServingOptions = ServingOptions(),
) -> Path:
    """Stages, verifies and renames a version into place; returns its directory."""
    final = version_dir(output_root, version)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = output_root / f".staging-{version}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        _stage_repository(staging, contract, model_files, config_dir, serving)
        manifest = {**manifest_fields, "version": version, "files": _hash_tree(staging)}
        _write_manifest(staging, manifest)
        _fsync_tree(staging)
        if final.exists():
            # Only reached when an existing version failed verification: keep it for
            # inspection instead of deleting what a server may have loaded.
            rejected = output_root / f"{REJECTED_PREFIX}{version}-{int(time.time())}"
            if rejected.exists():  # a second rejection within the same second
                rejected = rejected.with_name(f"{rejected.name}-{uuid.uuid4().hex[:8]}")
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


def _rejected_time(path: Path) -> float:
    """`.rejected-<version>-<unix time>[-<random>]`: the time it was set aside (rename(2) keeps the old mtime)."""
    for part in reversed(path.name.split("-")):
        if part.isdigit() and len(part) >= 9:
            return float(part)
    return path.stat().st_mtime


def prune_old_versions(output_root: Path, keep: int, current: str, log: StageLogger) -> list[str]:
    """Removes all but the `keep` newest published versions, and all but the `keep` newest rejected ones.

    Call under the lock. Pods of the previous rollout may still serve an older version while the new one
    rolls out, so the newest few always stay; `current` is never removed. Rejected versions
    (`.rejected-*`, set aside for inspection) would otherwise pile up on every failed verification.
    keep=0 keeps everything.
    """
    if keep <= 0:
        return []
    removed = []
    versions_root = output_root / "versions"
    if versions_root.is_dir():
        published = sorted(
            (path for path in versions_root.iterdir() if path.is_dir()),
            key=lambda path: path.stat().st_mtime,
            reverse=True,
        )
        for path in published[keep:]:
            if path.name == current:
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    rejected = sorted(
        (path for path in output_root.glob(f"{REJECTED_PREFIX}*") if path.is_dir()), key=_rejected_time, reverse=True
    )
    for path in rejected[keep:]:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    if removed:
        log.event("publish", "old-versions-removed", versions=removed, kept=keep)
    return removed
