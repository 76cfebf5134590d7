"""TensorRT shape profiles, warm-up data files and CPU-only instance groups (serving.py)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import struct
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, write_models
from omniglue_conversion import glue_preprocess
from omniglue_conversion.cli import main
from omniglue_conversion.errors import PublishError
from omniglue_conversion.logs import StageLogger
from omniglue_conversion.model_config import TENSORRT_MODELS, top_level_fields
from omniglue_conversion.publish import ServingOptions, publish_repository, verify_published
from omniglue_conversion.serving import (
    DEFAULT_KEYPOINT_COUNT,
    DEFAULT_MAX_IMAGE_SIDE,
    MIN_IMAGE_SIDE,
    TYPICAL_IMAGE_HW,
    WARMUP_DATA_FILES,
    ShapeRange,
    check_profiles,
    dinov2_size,
    profile_parameters,
    superpoint_side,
    tensorrt_profiles,
    warmup_files,
    with_instance_kind,
    GPU_PLACEMENT_COMMENT,
    CPU_PLACEMENT_COMMENT,
)

CONFIGS = REPO_ROOT / "model_repository"


def _publish(tmp_path, contract, log, tensorrt_fp16=False, serving=ServingOptions()):
    models = write_models(contract, tmp_path / "build")
    serving = dataclasses.replace(serving, tensorrt_fp16=tensorrt_fp16, trt_workspace_bytes=1 << 30)
    return publish_repository(tmp_path / "out", "v1", contract, models, CONFIGS, {}, log, serving)


def test_every_dynamic_input_of_every_tensorrt_model_has_a_profile_that_fits_its_dims(contract):
    profiles = tensorrt_profiles(DEFAULT_MAX_IMAGE_SIDE, DEFAULT_KEYPOINT_COUNT)
    assert sorted(profiles) == sorted(TENSORRT_MODELS)
    for name in TENSORRT_MODELS:
        check_profiles(contract.models[name], profiles[name])
        dynamic = {t.name for t in contract.models[name].inputs if -1 in t.dims}
        assert dynamic <= set(profiles[name])


def test_profiles_follow_the_glue_graphs_and_the_clients_limits():
    # The same constants the preprocessing graphs and the match client use.
    assert (glue_preprocess.SUPERPOINT_CELL, glue_preprocess.DINO_PATCH, glue_preprocess.DINO_MAX_SIDE) == (8, 14, 630)
    client = (REPO_ROOT / "scripts" / "match" / "images.ts").read_text()
    assert re.search(r"MIN_SIDE = (\d+)", client).group(1) == str(MIN_IMAGE_SIDE)
    profiles = tensorrt_profiles(1920, 1024)
    assert profiles["superpoint"]["image"] == ShapeRange((1, 16, 16, 1), (1, 480, 640, 1), (1, 1920, 1920, 1))
    assert profiles["dinov2"]["pixel_values"] == ShapeRange((1, 3, 14, 14), (1, 3, 462, 630), (1, 3, 630, 630))
    assert profiles["omniglue"]["descriptors1_dino"] == ShapeRange((1, 1, 768), (1, 1024, 768), (1, 1024, 768))


@pytest.mark.parametrize("max_side", [640, 1000, 1920, 4096])
def test_every_documented_image_size_lands_inside_the_profiles(max_side):
    profiles = tensorrt_profiles(max_side, DEFAULT_KEYPOINT_COUNT)
    sp, dino = profiles["superpoint"]["image"], profiles["dinov2"]["pixel_values"]
    sides = sorted({MIN_IMAGE_SIDE, 15, 17, 19, 20, 27, 28, 479, 480, 631, 632, 640, max_side - 1, max_side})
    for height, width in itertools.product(sides, repeat=2):
        dh, dw = dinov2_size(height, width)
        if min(dh, dw) < 14:
            continue  # beyond the documented 45:1 aspect limit: no DINOv2 patch fits, the ensemble cannot serve it
        shape = (1, superpoint_side(height), superpoint_side(width), 1)
        assert all(lo <= d <= hi for lo, d, hi in zip(sp.min, shape, sp.max)), (height, width)
        assert all(lo <= d <= hi for lo, d, hi in zip(dino.min, (1, 3, dh, dw), dino.max)), (height, width)
    assert (1, 3, *dinov2_size(*TYPICAL_IMAGE_HW)) == dino.opt


def test_sizes_match_the_reference_rounding():
    assert [superpoint_side(s) for s in (14, 19, 20, 480, 483, 484)] == [16, 16, 24, 480, 480, 488]
    assert dinov2_size(480, 640) == (462, 630)
    assert dinov2_size(640, 480) == (630, 462)
    assert dinov2_size(100, 29) == (98, 28)


def test_profiles_are_written_in_the_backends_format():
    params = profile_parameters({"b": ShapeRange((1, 2), (1, 3), (1, 4)), "a": ShapeRange((5,), (6,), (7,))})
    assert params == {
        "trt_profile_min_shapes": "a:5,b:1x2",
        "trt_profile_opt_shapes": "a:6,b:1x3",
        "trt_profile_max_shapes": "a:7,b:1x4",
    }


def test_profile_errors_name_the_model_and_input(contract):
    spec = contract.models["dinov2"]
    good = tensorrt_profiles(DEFAULT_MAX_IMAGE_SIDE, DEFAULT_KEYPOINT_COUNT)["dinov2"]["pixel_values"]
    with pytest.raises(PublishError, match=r"dynamic input 'pixel_values' \[1, 3, -1, -1\] has no TensorRT profile"):
        check_profiles(spec, {})
    with pytest.raises(PublishError, match=r"TensorRT profile for undeclared inputs \['image'\]"):
        check_profiles(spec, {"pixel_values": good, "image": good})
    with pytest.raises(PublishError, match=r"TensorRT min shape \[1, 1, 14, 14\] of 'pixel_values' does not fit its dims"):
        check_profiles(spec, {"pixel_values": dataclasses.replace(good, min=(1, 1, 14, 14))})
    with pytest.raises(PublishError, match=r"TensorRT opt shape \[3, 14, 14\]"):
        check_profiles(spec, {"pixel_values": dataclasses.replace(good, opt=(3, 14, 14))})
    with pytest.raises(PublishError, match=r"profile of 'pixel_values' is not min <= opt <= max"):
        check_profiles(spec, {"pixel_values": dataclasses.replace(good, opt=(1, 3, 700, 14))})
    with pytest.raises(PublishError, match=r"largest image side for TensorRT \(600\) must be at least 640"):
        tensorrt_profiles(600, 1024)
    with pytest.raises(PublishError, match="keypoint count must be at least 1, got 0"):
        tensorrt_profiles(1920, 0)


def test_published_tensorrt_configs_carry_the_profiles(tmp_path, contract, log):
    final = _publish(tmp_path, contract, log, tensorrt_fp16=True, serving=ServingOptions(tensorrt_max_image_side=1280))
    for name in TENSORRT_MODELS:
        text = (final / name / "config.pbtxt").read_text()
        for key, value in profile_parameters(tensorrt_profiles(1280, 1024)[name]).items():
            assert f'parameters {{ key: "{key}" value: "{value}" }}' in text
    assert "image:1x1280x1280x1" in (final / "superpoint" / "config.pbtxt").read_text()


def test_every_model_but_the_ensemble_warms_up_and_gets_its_data_files(tmp_path, contract, log):
    final = _publish(tmp_path, contract, log)
    assert verify_published(final, contract) == (True, "ok")
    for name in contract.models:
        text = (final / name / "config.pbtxt").read_text()
        assert ("model_warmup" in [f.name for f in top_level_fields(text)]) == (name != contract.ensemble)
    for name in ("superpoint_keypoints", "dinov2_keypoint_sampler", "omniglue"):
        assert (final / name / "warmup" / "typical_width_int32").read_bytes() == struct.pack("<i", 640)
        assert (final / name / "warmup" / "typical_height_int32").read_bytes() == struct.pack("<i", 480)
    assert not (final / "superpoint" / "warmup").exists()
    manifest = json.loads((final / "manifest.json").read_text())
    assert "omniglue/warmup/typical_width_int32" in manifest["files"]


def test_an_unknown_warmup_file_fails_the_publish():
    assert warmup_files('input_data_file: "typical_width_int32"', "m") == {"typical_width_int32": WARMUP_DATA_FILES["typical_width_int32"]}
    with pytest.raises(PublishError, match=r"model 'm': model_warmup names input_data_file 'photo.raw'"):
        warmup_files('inputs { key: "x" value: { input_data_file: "photo.raw" } }', "m")


def test_cpu_only_publish_has_no_gpu_instance_group_and_is_otherwise_identical(tmp_path, contract, log):
    final = _publish(tmp_path, contract, log, serving=ServingOptions(instance_kind="cpu"))
    for name in contract.models:
        text = (final / name / "config.pbtxt").read_text()
        original = (CONFIGS / name / "config.pbtxt").read_text()
        assert "KIND_GPU" not in text
        # Only the kind changes, and the comment that explained the GPU placement says why it is the CPU now.
        expected = original.replace("KIND_GPU", "KIND_CPU").replace(GPU_PLACEMENT_COMMENT, CPU_PLACEMENT_COMMENT)
        assert text == expected
        assert "On the GPU" not in text
        if name != contract.ensemble:
            assert "kind: KIND_CPU" in text


def test_instance_kind_errors_name_the_model():
    with pytest.raises(PublishError, match="instance kind must be one of gpu, cpu, got 'tpu'"):
        with_instance_kind('instance_group [ { kind: KIND_GPU } ]', "m", "tpu")
    with pytest.raises(PublishError, match="model 'm': config has no instance_group to place on the CPU"):
        with_instance_kind('name: "m"', "m", "cpu")
    with pytest.raises(PublishError, match="model 'm': an instance_group lists `gpus`"):
        with_instance_kind('instance_group [ { kind: KIND_GPU gpus: [ 0 ] } ]', "m", "cpu")
    text = '# KIND_GPU in a comment\ninstance_group [ { kind: KIND_GPU }, { kind: KIND_AUTO } ]\n'
    assert with_instance_kind(text, "m", "cpu") == '# KIND_GPU in a comment\ninstance_group [ { kind: KIND_CPU }, { kind: KIND_CPU } ]\n'


def test_cli_refuses_tensorrt_on_cpu_instances_and_a_too_small_profile(tmp_path, contract_path):
    base = ["--model-configs", str(CONFIGS), "--contract", str(contract_path), "--output-root", str(tmp_path / "o"),
            "--version", "v", "--work-dir", str(tmp_path / "w")]
    for extra, message in (
        (["--instance-kind", "cpu", "--tensorrt-fp16"], "--tensorrt-fp16 needs GPU instances"),
        (["--tensorrt-max-image-side", "320"], "--tensorrt-max-image-side must be at least 640 (the typical image), got 320"),
        (["--instance-kind", "tpu"], "argument --instance-kind: invalid choice: 'tpu'"),
    ):
        stream = __import__("io").StringIO()
        assert main(base + extra, log=StageLogger(stream)) == 2
        assert message in stream.getvalue()


def test_render_configs_writes_what_the_job_publishes(tmp_path, contract, contract_path, log):
    final = _publish(tmp_path, contract, log, tensorrt_fp16=True)
    out = tmp_path / "rendered"
    completed = subprocess.run(
        [sys.executable, "-m", "omniglue_conversion.render_configs", "--model-configs", str(CONFIGS),
         "--contract", str(contract_path), "--out", str(out), "--tensorrt-fp16", "--tensorrt-workspace-bytes", str(1 << 30)],
        cwd=REPO_ROOT / "scripts", capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    for name in contract.models:
        assert (out / name / "config.pbtxt").read_text() == (final / name / "config.pbtxt").read_text()
