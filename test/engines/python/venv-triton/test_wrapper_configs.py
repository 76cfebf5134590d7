"""The serving tree of triton:local against the version the Job's code publishes (scripts/triton-local/wrappers.py).

Each config is parsed with Triton's own schema (model_config.proto, as tritonclient 2.73 ships it) and compared
field by field: the python-backend wrappers may differ only in platform/backend and default_model_filename, the
ensemble only by the model_metrics block Triton 2.51 cannot parse.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

ROOT = Path(__file__).resolve().parents[4]
HERE = ROOT / "scripts" / "triton-local"
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(HERE))

from wrappers import WrapperError, wrapper_config  # noqa: E402

MODES = {"default": [], "throughput": ["--throughput-image-size", "640x480"]}


@pytest.fixture(scope="module")
def contract(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("contract") / "contract.json"
    tsx = ROOT / "node_modules" / ".bin" / "tsx"
    subprocess.run([str(tsx), str(ROOT / "tools" / "export-model-contract.ts"), str(out)], cwd=ROOT, check=True)
    return out


@pytest.fixture(scope="module", params=sorted(MODES))
def trees(request, contract, tmp_path_factory) -> tuple[Path, Path]:
    """(published version, serving tree), published by the Job's cli.main with stand-in networks, as triton:local does."""
    root = tmp_path_factory.mktemp(request.param)
    job = [
        "--model-configs", str(ROOT / "model_repository"), "--contract", str(contract),
        "--output-root", str(root / "repository"), "--version", "v1", "--work-dir", str(root / "repository" / ".work"),
        "--min-sample-matches", "10", "--instance-kind", "cpu", *MODES[request.param],
    ]
    subprocess.run(
        [sys.executable, str(HERE / "publish_local.py"), "--serve-root", str(root / "serving"), "--stand-ins", "--", *job],
        cwd=ROOT, check=True, capture_output=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return root / "repository" / "versions" / "v1", root / "serving" / "v1"


def parse(path: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(path.read_text(encoding="utf-8"), model_config_pb2.ModelConfig())


def models(published: Path) -> list[str]:
    return sorted(p.name for p in published.iterdir() if (p / "config.pbtxt").is_file())


def test_serves_every_published_model(trees):
    published, serving = trees
    assert models(serving) == models(published)
    assert len(models(published)) == 9


def test_wrappers_differ_from_the_published_configs_only_in_backend_and_model_file(trees):
    published, serving = trees
    wrapped = 0
    for name in models(published):
        original, served = parse(published / name / "config.pbtxt"), parse(serving / name / "config.pbtxt")
        if original.platform != "onnxruntime_onnx":
            continue
        wrapped += 1
        assert (original.backend, original.default_model_filename) == ("", "model.onnx")
        assert (served.platform, served.backend, served.default_model_filename) == ("", "python", "model.py")
        for config in (original, served):
            config.ClearField("platform")
            config.ClearField("backend")
            config.ClearField("default_model_filename")
        assert served == original, name
        # What makes them comparable at all: these are the fields that shape serving.
        assert served.instance_group and served.model_warmup and served.input and served.output
    assert wrapped == 8


def test_the_ensemble_differs_only_by_model_metrics(trees):
    published, serving = trees
    original, served = parse(published / "omniglue_ensemble" / "config.pbtxt"), parse(serving / "omniglue_ensemble" / "config.pbtxt")
    assert original.HasField("model_metrics") and not served.HasField("model_metrics")
    original.ClearField("model_metrics")
    assert served == original
    assert len(served.ensemble_scheduling.step) == 14


def test_the_throughput_mode_keeps_its_batching(trees):
    published, serving = trees
    original, served = parse(published / "dinov2" / "config.pbtxt"), parse(serving / "dinov2" / "config.pbtxt")
    assert served.max_batch_size == original.max_batch_size
    assert served.dynamic_batching == original.dynamic_batching
    assert served.HasField("dynamic_batching") == (served.max_batch_size > 0)


def test_each_wrapper_runs_the_published_onnx_file_and_warm_up_data(trees):
    published, serving = trees
    for name in models(published):
        served = serving / name / "1" / "model.onnx"
        if (published / name / "1" / "model.onnx").is_file():
            assert served.resolve() == (published / name / "1" / "model.onnx").resolve()
            assert (serving / name / "1" / "model.py").read_bytes() == (HERE / "onnx_model.py").read_bytes()
        for data in (published / name / "warmup").glob("*"):
            assert (serving / name / "warmup" / data.name).read_bytes() == data.read_bytes()


def test_refuses_a_config_it_cannot_rewrite_exactly():
    text = 'name: "m"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 0\n'
    with pytest.raises(WrapperError, match='default_model_filename: "model.onnx"'):
        wrapper_config(text, "m")
    with pytest.raises(WrapperError, match="found 2"):
        wrapper_config(text + 'platform: "onnxruntime_onnx"\ndefault_model_filename: "model.onnx"\n', "m")
