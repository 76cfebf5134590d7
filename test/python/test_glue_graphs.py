"""`python3 -m omniglue_conversion.glue_graphs --out DIR`: the command tools outside the tests use."""

from __future__ import annotations

import subprocess
import sys

import onnx
import pytest

from conftest import REPO_ROOT

# Step (model) names and tensor names as tools outside the repository call them; the sampler's
# descriptors/scores inputs and matcher_* outputs were added when padding was removed (issue 8).
INTERFACES = {
    "superpoint_preprocess": (["image"], ["image_gray", "width", "height"]),
    "superpoint_keypoints": (["prob_nms", "descriptors_raw", "width", "height"], ["keypoints", "descriptors", "scores"]),
    "dinov2_preprocess": (["image"], ["pixel_values"]),
    "dinov2_keypoint_sampler": (
        ["features", "keypoints", "descriptors", "scores", "width", "height"],
        ["descriptors_dino", "matcher_keypoints", "matcher_descriptors", "matcher_scores"],
    ),
    "omniglue_match_extraction": (
        ["soft_assignment", "keypoints0", "keypoints1", "scores0", "scores1"],
        ["matches_kp0", "matches_kp1", "match_confidences"],
    ),
}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "omniglue_conversion.glue_graphs", *args],
        cwd=REPO_ROOT / "scripts", capture_output=True, text=True, timeout=60,
    )


def test_writes_every_glue_model_with_its_step_and_tensor_names(tmp_path):
    completed = _run("--out", str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == [f"{name}: {tmp_path / name / '1' / 'model.onnx'}" for name in INTERFACES]
    for name, (inputs, outputs) in INTERFACES.items():
        graph = onnx.load(str(tmp_path / name / "1" / "model.onnx")).graph
        assert ([i.name for i in graph.input], [o.name for o in graph.output]) == (inputs, outputs), name


def test_keypoint_dims_are_symbolic_whatever_the_keypoint_count(tmp_path):
    assert _run("--out", str(tmp_path), "--keypoint-count", "8").returncode == 0
    outputs = onnx.load(str(tmp_path / "superpoint_keypoints" / "1" / "model.onnx")).graph.output
    assert [o.type.tensor_type.shape.dim[1].HasField("dim_param") for o in outputs] == [True, True, True]


def test_a_keypoint_count_below_one_is_refused():
    completed = _run("--out", "/nonexistent", "--keypoint-count", "0")
    assert completed.returncode == 2
    assert "keypoint_count must be at least 1, got 0" in completed.stderr
