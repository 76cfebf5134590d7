"""Throughput mode through the Job's command line and render_configs (fakes as in test_cli_pipeline.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from omniglue_conversion.cli import build_parser, main
from omniglue_conversion.logs import StageLogger
from omniglue_conversion.publish import ServingOptions, render_configs
from omniglue_conversion.throughput import ThroughputMode, apply_to_contract
from test_cli_pipeline import Fakes, _run, job  # noqa: F401  (job is a fixture)

FLAGS = ["--throughput-image-size", "640x480", "--throughput-max-batch-size", "4", "--throughput-max-queue-delay-microseconds", "250"]


def _manifest(tmp_path):
    return json.loads((tmp_path / "volume" / "repository" / "versions" / "abc123" / "manifest.json").read_text())


def test_the_job_in_throughput_mode_builds_fixed_glue_validates_batching_models_and_records_the_mode(tmp_path, contract, job):
    fakes = Fakes(apply_to_contract(contract, ThroughputMode(640, 480, 4, 250)))
    code, records = _run(job + FLAGS, fakes)
    assert code == 0, [r for r in records if r.get("level") == "error"]
    assert fakes.fixed_image_size == (640, 480)
    assert _manifest(tmp_path)["throughput_mode"] == {
        "image_width": 640, "image_height": 480, "max_batch_size": 4, "max_queue_delay_microseconds": 250,
    }
    contract_stage = next(r for r in records if r["stage"] == "contract" and r["event"] == "ok")
    assert contract_stage["throughput_mode"]["max_batch_size"] == 4
    published = tmp_path / "volume" / "repository" / "versions" / "abc123"
    dinov2 = (published / "dinov2" / "config.pbtxt").read_text()
    assert "max_batch_size: 4\n" in dinov2 and "max_queue_delay_microseconds: 250" in dinov2
    # SuperPoint is published as written: it does not batch (throughput.py).
    superpoint = REPO_ROOT / "model_repository" / "superpoint" / "config.pbtxt"
    assert (published / "superpoint" / "config.pbtxt").read_text() == superpoint.read_text()


def test_without_the_flags_the_job_records_no_mode_and_publishes_the_configs_as_written(tmp_path, contract, job):
    fakes = Fakes(contract)
    code, _ = _run(job, fakes)
    assert code == 0
    assert fakes.fixed_image_size is None
    assert _manifest(tmp_path)["throughput_mode"] is None
    published = tmp_path / "volume" / "repository" / "versions" / "abc123"
    for name in contract.models:
        assert (published / name / "config.pbtxt").read_text() == (REPO_ROOT / "model_repository" / name / "config.pbtxt").read_text()


def test_the_flags_parse_with_their_defaults():
    args = build_parser().parse_args(["--throughput-image-size", "320x240"])
    assert (args.throughput_image_size, args.throughput_max_batch_size, args.throughput_max_queue_delay_microseconds) == ("320x240", None, None)


@pytest.mark.parametrize("extra,message", [
    (["--throughput-max-batch-size", "4"], "--throughput-max-batch-size applies only in throughput mode; add --throughput-image-size WIDTHxHEIGHT"),
    (["--throughput-image-size", "641x13"], "--throughput-image-size 641x13: width and height must each be from 14 to 4096 pixels"),
    (["--throughput-image-size", "4096x90"], "--throughput-image-size 4096x90: the aspect ratio (longer side / shorter side) must be at most 45:1"),
    (["--throughput-image-size", "640x480", "--throughput-max-batch-size", "65"], "--throughput-max-batch-size must be from 1 to 64, got 65"),
    (["--throughput-image-size", "640x480", "--throughput-max-batch-size", "x"], "argument --throughput-max-batch-size: invalid int value: 'x'"),
])
def test_bad_throughput_flags_exit_2_naming_the_flag(job, extra, message):
    stream = io.StringIO()
    assert main(job + extra, log=StageLogger(stream)) == 2
    assert message in stream.getvalue()


def _render(out, contract_path, *extra):
    return subprocess.run(
        [sys.executable, "-m", "omniglue_conversion.render_configs", "--model-configs", str(REPO_ROOT / "model_repository"),
         "--contract", str(contract_path), "--out", str(out), *extra],
        cwd=REPO_ROOT / "scripts", capture_output=True, text=True, timeout=60,
    )


def test_render_configs_with_the_flags_writes_what_a_throughput_publish_writes(tmp_path, contract, contract_path):
    mode = ThroughputMode(640, 480, 4, 250)
    expected = tmp_path / "expected"
    render_configs(
        expected, apply_to_contract(contract, mode), REPO_ROOT / "model_repository",
        ServingOptions(tensorrt_fp16=True, trt_workspace_bytes=1 << 30, throughput=mode),
    )
    completed = _render(tmp_path / "out", contract_path, "--tensorrt-fp16", "--tensorrt-workspace-bytes", str(1 << 30), *FLAGS)
    assert completed.returncode == 0, completed.stderr
    for name in contract.models:
        assert (tmp_path / "out" / name / "config.pbtxt").read_text() == (expected / name / "config.pbtxt").read_text()
    assert "max_batch_size: 4" in (tmp_path / "out" / "dinov2" / "config.pbtxt").read_text()


def test_render_configs_refuses_a_tuning_flag_without_the_size(tmp_path, contract_path):
    completed = _render(tmp_path / "out", contract_path, "--throughput-max-queue-delay-microseconds", "10")
    assert completed.returncode == 2
    assert "--throughput-max-queue-delay-microseconds applies only in throughput mode" in completed.stderr
