"""The serving tree of a published version: each ONNX model as a python-backend wrapper, the ensemble unchanged.

The Triton core that nvidia-pytriton's wheel carries has only the python backend, so `platform: "onnxruntime_onnx"`
cannot load. Each such model is served by the python backend instead, running the very ONNX file the Job published
in onnxruntime (onnx_model.py). Its config is the published text with two lines changed:

* `platform: "onnxruntime_onnx"` becomes `backend: "python"`;
* `default_model_filename: "model.onnx"` becomes `"model.py"`: the python backend executes the file that field
  names (python_backend src/stub_launcher.cc, StubLauncher::Initialize: `<version>/<default_model_filename>`,
  `model.py` when empty), so keeping `model.onnx` would have the stub import the ONNX file as Python.

Everything else (inputs, outputs, dims, max_batch_size, dynamic_batching, instance_group, model_warmup and the
warm-up files) is the published text; test/engines/python/venv-triton/ proves it by comparing the parsed configs.

The ensemble's config is the published one less its `model_metrics` block (the first-response histogram's
buckets): that field and the latency histograms came with Triton r24.11 (common protobuf/model_config.proto,
"Per-model metric customization", #126; core r24.11 src/metric_model_reporter.cc), and the Triton 2.51 (r24.10)
of nvidia-pytriton 0.7.0 refuses the config ("Message type inference.ModelConfig has no field named
model_metrics"). Nothing else of the ensemble changes; in particular its steps and wiring are the Job's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path

from omniglue_conversion.model_config import top_level_fields

HERE = Path(__file__).resolve().parent
WRAPPER_SOURCE = HERE / "onnx_model.py"
STAMP = "wrapped-from.json"
HEADER = (
    "# triton:local: the published config, served by the python backend (scripts/triton-local/wrappers.py),\n"
    "# which runs 1/model.onnx, the published file, in onnxruntime (1/model.py).\n"
)
_PLATFORM = re.compile(r'^platform:\s*"onnxruntime_onnx"\s*$', re.M)
_FILENAME = re.compile(r'^default_model_filename:\s*"model\.onnx"\s*$', re.M)


class WrapperError(Exception):
    pass


def wrapper_config(text: str, model: str) -> str:
    """The published config text with the backend swapped; refuses a config whose lines it does not recognise."""
    for pattern, what in ((_PLATFORM, 'platform: "onnxruntime_onnx"'), (_FILENAME, 'default_model_filename: "model.onnx"')):
        found = len(pattern.findall(text))
        if found != 1:
            raise WrapperError(f"model {model!r}: expected one top-level line {what}, found {found}")
    text = _PLATFORM.sub('backend: "python"', text)
    text = _FILENAME.sub('default_model_filename: "model.py"', text)
    return HEADER + text


ENSEMBLE_HEADER = (
    "# triton:local: the published config less model_metrics, which this Triton (2.51, r24.10) does not know\n"
    "# (scripts/triton-local/wrappers.py).\n"
)
# Fields of the published ensemble config that this Triton cannot parse.
UNKNOWN_TO_THIS_TRITON = ("model_metrics",)


def ensemble_config(text: str) -> str:
    """The published ensemble config without the fields this Triton does not know (and the comments above them)."""
    for field in reversed([f for f in top_level_fields(text) if f.name in UNKNOWN_TO_THIS_TRITON]):
        start = text.rfind("\n", 0, field.start) + 1
        # The comment lines directly above the field describe it; they go with it.
        while start > 0:
            previous = text.rfind("\n", 0, start - 1) + 1
            if not text[previous:start].lstrip().startswith("#"):
                break
            start = previous
        text = text[:start] + text[field.end:].lstrip("\n")
    return ENSEMBLE_HEADER + text


def is_onnx_model(config_text: str) -> bool:
    return _PLATFORM.search(config_text) is not None


def _fingerprint(published: Path) -> str:
    digest = hashlib.sha256((published / "manifest.json").read_bytes())
    digest.update(WRAPPER_SOURCE.read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(str(published.resolve()).encode())
    return digest.hexdigest()


def _lay_out(published: Path, target: Path) -> None:
    for model_dir in sorted(p for p in published.iterdir() if (p / "config.pbtxt").is_file()):
        out = target / model_dir.name
        (out / "1").mkdir(parents=True)
        text = (model_dir / "config.pbtxt").read_text(encoding="utf-8")
        if is_onnx_model(text):
            (out / "config.pbtxt").write_text(wrapper_config(text, model_dir.name), encoding="utf-8")
            # The published file itself, not a copy: the server runs exactly what the Job published.
            os.symlink((model_dir / "1" / "model.onnx").resolve(), out / "1" / "model.onnx")
            shutil.copyfile(WRAPPER_SOURCE, out / "1" / "model.py")
        else:
            (out / "config.pbtxt").write_text(ensemble_config(text), encoding="utf-8")
        if (model_dir / "warmup").is_dir():
            shutil.copytree(model_dir / "warmup", out / "warmup")


def write_serving_tree(published: Path, target: Path) -> Path:
    """Builds `target` once per published version and wrapper source; a server may be reading an existing one."""
    fingerprint = _fingerprint(published)
    stamp = target / STAMP
    if stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") == fingerprint:
        return target
    staging = target.with_name(f".{target.name}-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        _lay_out(published, staging)
        (staging / STAMP).write_text(json.dumps({"fingerprint": fingerprint, "published": str(published)}) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
