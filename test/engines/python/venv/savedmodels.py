"""Test SavedModels, built once and cached, and packed as the Job downloads them (sp_v6.tgz, og_export.zip).

Each builder runs in its own process: SuperPoint's switches TensorFlow to TF1 graph behaviour for the whole process.
A build takes ~10 s, so the result is kept under .cache/test-savedmodels/, keyed by the builder's source, its
arguments, the calibration image and the TensorFlow version: editing a builder rebuilds, nothing else does.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[3]
CACHE = REPO_ROOT / ".cache" / "test-savedmodels"
CALIBRATION_IMAGE = REPO_ROOT / "assets" / "demo1.jpg"
BUILDERS = {
    "superpoint": (HERE / "savedmodel_superpoint.py", ["--calibration", str(CALIBRATION_IMAGE)]),
    "matcher": (HERE / "savedmodel_matcher.py", []),
}


def _key(builder: Path, args: list[str]) -> str:
    digest = hashlib.sha256(builder.read_bytes())
    digest.update(CALIBRATION_IMAGE.read_bytes())
    digest.update("\0".join([importlib.metadata.version("tensorflow-cpu"), *args]).encode())
    return digest.hexdigest()[:16]


def saved_model(kind: str, *variant: str) -> Path:
    """The SavedModel directory of `kind` ("superpoint" or "matcher"), built with the builder's `variant` options."""
    builder, fixed = BUILDERS[kind]
    args = [*fixed, *variant]
    label = f"{kind}-{re.sub(r'[^A-Za-z0-9]+', '_', ' '.join(variant)).strip('_') or 'upstream'}"
    target = CACHE / f"{label}-{_key(builder, args)}"
    if (target / "saved_model.pb").is_file():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CACHE.glob(f"{label}-*"):  # built by an earlier version of the builder
        shutil.rmtree(stale, ignore_errors=True)
    building = CACHE / f".building-{target.name}-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run(
        [sys.executable, str(builder), str(building), *args], capture_output=True, text=True, timeout=600, env=env
    )
    assert completed.returncode == 0, f"{builder.name} {' '.join(args)} failed:\n{completed.stderr[-4000:]}"
    try:
        building.rename(target)
    except OSError:  # another session built it meanwhile
        shutil.rmtree(building, ignore_errors=True)
    return target


def pack(saved_model_dir: Path, archive: Path, top: str) -> Path:
    """`saved_model_dir` as `archive` (.tgz or .zip) with everything under `top/`, the layout of the upstream files."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in saved_model_dir.rglob("*") if p.is_file())
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, f"{top}/{path.relative_to(saved_model_dir)}")
    else:
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(saved_model_dir, arcname=top)
    return archive
