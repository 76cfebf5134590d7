"""The Job's stages in order: weights, exports, glue, validation, sample run, publish.

Every heavy step is a field of `Steps`, so tests run the whole orchestration
with fakes (no TensorFlow, PyTorch weights or onnxruntime needed).
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .contract import Contract, ModelSpec, load_contract, validate_models
from .archives import ARCHIVE_WEIGHTS, prepare_archive
from .ensemble import SessionFactory, load_rgb, onnxruntime_sessions, run_ensemble
from .errors import ConversionError, ExportError, PublishError, SampleInferenceError, UsageError
from .logs import StageLogger
from .volume import creating, full_error, is_full
from .throughput import apply_to_contract
from .publish import (
    ServingOptions, VOLUME_PERMISSION_FIX, check_writable, describe_owner, clean_stale_staging, prune_old_versions, publish_lock,
    publish_repository, verify_published, version_dir,
)
from .locking import DEFAULT_LOCK_TIMEOUT_S
from .weights import (
    DEFAULT_DOWNLOAD_TIMEOUT_S, FetchedWeight, WeightSource, fetch_weight, remove_partial_downloads, sha256_file,
)

# The reference demo keeps matches above this confidence; the sample check counts those.
SAMPLE_CONFIDENCE = 0.02
NETWORK_EXPORTS = ("superpoint", "dinov2", "omniglue")


@dataclass(frozen=True)
class Options:
    model_configs: Path
    contract: Path
    output_root: Path
    version: str
    work_dir: Path
    sample_image0: Path
    sample_image1: Path
    sources: Mapping[str, WeightSource]
    min_sample_matches: int = 10
    keep_versions: int = 3
    download_timeout_s: float = DEFAULT_DOWNLOAD_TIMEOUT_S
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    # How the configs are published (instances, TensorRT, keypoint count, throughput mode): publish.ServingOptions.
    serving: ServingOptions = ServingOptions()


def _default_export(name: str) -> Callable[[FetchedWeight, ModelSpec, Path, StageLogger], Path]:
    def export(weight: FetchedWeight, spec: ModelSpec, out_dir: Path, log: StageLogger) -> Path:
        if name == "superpoint":
            from .export_superpoint import export_superpoint

            return export_superpoint(weight, spec, out_dir, log)
        if name == "omniglue":
            from .export_matcher import export_matcher

            return export_matcher(weight, spec, out_dir, log)
        from .export_dinov2 import export_dinov2

        # A batching spec (throughput mode) gets a batch axis and the spec's fixed dims (export_dinov2.py).
        return export_dinov2(weight.path, spec, out_dir, log)

    return export


def _default_glue(out_dir: Path, keypoint_count: int, fixed_image_size: tuple[int, int] | None = None) -> Mapping[str, Path]:
    try:
        from .glue_graphs import build_glue_models
    except ImportError as exc:
        raise ExportError(f"the glue graph builder (omniglue_conversion.glue_graphs) cannot be imported: {exc}") from exc
    return build_glue_models(out_dir, keypoint_count=keypoint_count, fixed_image_size=fixed_image_size)


@dataclass
class Steps:
    # Called as fetch(source, cache_dir, log, deadline=..., total_timeout_s=...).
    fetch: Callable[..., FetchedWeight] = fetch_weight
    exports: Mapping[str, Callable[[FetchedWeight, ModelSpec, Path, StageLogger], Path]] = field(
        default_factory=lambda: {name: _default_export(name) for name in NETWORK_EXPORTS}
    )
    # Called as build_glue(out_dir, keypoint_count, fixed_image_size), the size (width, height) or None.
    build_glue: Callable[[Path, int, tuple[int, int] | None], Mapping[str, Path]] = _default_glue
    sessions: Callable[[Mapping[str, Path], StageLogger], SessionFactory] = onnxruntime_sessions


def tool_versions() -> dict[str, str]:
    """Installed versions, read from package metadata (importing TensorFlow just for this costs seconds)."""
    versions = {"python": platform.python_version()}
    for label, distributions in (
        ("onnx", ("onnx",)),
        ("onnxruntime", ("onnxruntime", "onnxruntime-gpu")),
        ("tensorflow", ("tensorflow-cpu", "tensorflow")),
        ("tf2onnx", ("tf2onnx",)),
        ("torch", ("torch",)),
        ("numpy", ("numpy",)),
        ("pillow", ("pillow", "Pillow")),
    ):
        for distribution in distributions:
            try:
                versions[label] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


def _sample_inference(contract: Contract, models: Mapping[str, Path], options: Options, steps: Steps, log: StageLogger) -> dict[str, Any]:
    image0, image1 = load_rgb(options.sample_image0), load_rgb(options.sample_image1)
    names = [t.name for t in contract.ensemble_spec.inputs]
    if len(names) != 2:
        raise SampleInferenceError(f"the sample check feeds two images, the ensemble has inputs {names}")
    outputs = run_ensemble(contract, dict(zip(names, (image0, image1))), steps.sessions(models, log), log)
    confidences = outputs.get("match_confidences")
    if confidences is None:
        raise SampleInferenceError(f"the ensemble has no match_confidences output ({sorted(outputs)})")
    total = int(confidences.shape[0])
    confident = int(np.count_nonzero(confidences > SAMPLE_CONFIDENCE))
    result = {"matches": total, "matches_above_0_02": confident}
    if confident < options.min_sample_matches:
        raise SampleInferenceError(
            f"the sample pair gave {confident} matches with confidence > {SAMPLE_CONFIDENCE} "
            f"({total} in total); at least {options.min_sample_matches} are required "
            f"({options.sample_image0}, {options.sample_image1})",
            hint="the reference implementation finds about 45 on its demo pair; far fewer means a "
            "broken conversion (wrong weights, preprocessing or tensor order)",
        )
    return result


def _converting(what: str, action: Callable[[], Any]) -> Any:
    """Runs an export, reporting exporter exceptions (torch, onnx, ValueError, ...) as ExportError."""
    try:
        return action()
    except ConversionError:
        raise
    except Exception as exc:  # exporters raise many unrelated types
        if is_full(exc):  # OSError ENOSPC/EDQUOT (volume.py): not the exporter's fault
            raise full_error(exc, exc.filename or "its output", f"writing the {what} conversion:") from exc
        raise ExportError(f"conversion of {what} failed: {type(exc).__name__}: {exc}") from exc


def _load_contract(options: Options, log: StageLogger) -> Contract:
    with log.stage("contract", path=str(options.contract)) as info:
        contract = load_contract(options.contract)
        missing = [n for n in sorted(contract.models) if not (options.model_configs / n / "config.pbtxt").is_file()]
        if missing:
            raise UsageError(f"--model-configs {options.model_configs} lacks <model>/config.pbtxt for {missing}")
        if options.serving.throughput is not None:
            # Validation, the sample run and the published configs all use the fixed, batching shapes.
            contract = apply_to_contract(contract, options.serving.throughput)
            info["throughput_mode"] = options.serving.throughput.manifest()
        info["models"] = len(contract.models)
        info["steps"] = len(contract.steps)
    return contract


def _check_volume(options: Options, final: Path) -> None:
    """Every directory the run writes, checked before the lock and the hour of conversion.

    The lock file is the first thing written, publishing renames into versions/, and a version that failed
    verification is moved aside (rename(2) of a directory across parents needs write access to it too).
    """
    check_writable(options.output_root, "--output-root")
    check_writable(options.output_root / "versions", "--output-root")
    check_writable(options.work_dir, "--work-dir")
    check_writable(options.work_dir / "weights", "--work-dir")
    if final.is_dir() and not os.access(final, os.W_OK):
        raise PublishError(
            f"the existing version {final} failed verification and must be set aside, but uid {os.getuid()} "
            f"cannot move it (it is {describe_owner(final)})",
            hint=VOLUME_PERMISSION_FIX,
        )


def _fetch_weights(options: Options, steps: Steps, log: StageLogger) -> dict[str, FetchedWeight]:
    cache_dir = options.work_dir / "weights"
    removed = remove_partial_downloads(cache_dir)
    if removed:
        log.event("weights", "leftovers-removed", paths=removed)
    deadline = time.monotonic() + options.download_timeout_s
    weights: dict[str, FetchedWeight] = {}
    for name, source in options.sources.items():
        with log.stage("weights", weight=name, url=source.url) as info:
            def fetch(source: WeightSource = source) -> FetchedWeight:
                return steps.fetch(source, cache_dir, log, deadline=deadline, total_timeout_s=options.download_timeout_s)

            weight = fetch()
            if name in ARCHIVE_WEIGHTS:
                weight = prepare_archive(weight, fetch, log)
            weights[name] = weight
            info.update(sha256=weight.sha256, cached=weight.from_cache, verified=weight.verified)
    return weights


def run(options: Options, log: StageLogger, steps: Steps | None = None) -> Path:
    """Publishes `options.version` (or finds it published); returns its directory."""
    steps = steps or Steps()
    final = version_dir(options.output_root, options.version)
    contract = _load_contract(options, log)
    ok, _ = verify_published(final, contract)
    if ok:
        log.event("publish", "already-published", version=options.version, path=str(final))
        return final

    # Before the lock: its file is the first thing written, and a root-owned volume
    # should fail in seconds with the fix, not with a traceback after the conversion.
    _check_volume(options, final)
    with publish_lock(options.output_root, log, timeout_s=options.lock_timeout_s, version=options.version):
        ok, reason = verify_published(final, contract)
        if ok:  # another Job finished it while this one waited for the lock
            log.event("publish", "already-published", version=options.version, path=str(final))
            return final
        if final.exists():
            log.warning("publish", "invalid-existing-version", version=options.version, reason=reason)
        clean_stale_staging(options.output_root, log)

        weights = _fetch_weights(options, steps, log)

        # Under the lock no other Job builds, so anything in build/ is left over from a failed run.
        shutil.rmtree(options.work_dir / "build", ignore_errors=True)
        if (options.work_dir / "build").exists():
            raise PublishError(
                f"cannot remove {options.work_dir / 'build'}, left over from an earlier run; "
                f"the Job runs as uid {os.getuid()}, it is {describe_owner(options.work_dir / 'build')}",
                hint=VOLUME_PERMISSION_FIX,
            )
        build_dir = options.work_dir / "build" / options.version
        with creating(build_dir, "creating"):
            build_dir.mkdir(parents=True)
        models: dict[str, Path] = {}
        for name in NETWORK_EXPORTS:
            if name not in contract.models:
                raise ExportError(f"the contract has no model {name!r}; models: {sorted(contract.models)}")
            with log.stage("export", model=name) as info:
                models[name] = _converting(name, lambda: steps.exports[name](weights[name], contract.models[name], build_dir / name, log))
                info["bytes"] = models[name].stat().st_size

        fixed_size = None if options.serving.throughput is None else (options.serving.throughput.image_width, options.serving.throughput.image_height)
        with log.stage("glue", keypoint_count=options.serving.keypoint_count, fixed_image_size=fixed_size) as info:
            glue = dict(_converting(
                "glue graphs", lambda: steps.build_glue(build_dir / "glue", options.serving.keypoint_count, fixed_size)
            ))
            clash = sorted(set(glue) & set(models))
            if clash:
                raise ExportError(f"the glue builder returned network models {clash}")
            models.update(glue)
            info["models"] = sorted(glue)

        with log.stage("validate", models=len(models)):
            validate_models(contract, models)

        with log.stage("sample-inference", image0=str(options.sample_image0), image1=str(options.sample_image1)) as info:
            sample = _sample_inference(contract, models, options, steps, log)
            info.update(sample)

        manifest = {
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "ensemble": contract.ensemble,
            "contract_sha256": sha256_file(options.contract),
            "keypoint_count": options.serving.keypoint_count,
            "tensorrt_fp16": options.serving.tensorrt_fp16,
            "instance_kind": options.serving.instance_kind,
            "throughput_mode": None if options.serving.throughput is None else options.serving.throughput.manifest(),
            "sample_inference": sample,
            "tools": tool_versions(),
            "weights": {
                name: {"url": w.url, "sha256": w.sha256, "bytes": w.size_bytes, "pinned": w.verified}
                for name, w in weights.items()
            },
        }
        with log.stage("publish", version=options.version) as info:
            final = publish_repository(options.output_root, options.version, contract, models, options.model_configs, manifest, log, options.serving)
            info["path"] = str(final)
        prune_old_versions(options.output_root, options.keep_versions, options.version, log)
        shutil.rmtree(build_dir, ignore_errors=True)
    return final
