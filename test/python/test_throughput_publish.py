"""Throughput mode's TensorRT profiles, validation, sample run, interface fitting and publish."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest
from onnx import helper

from conftest import LineageSessions, write_models
from throughput_support import CONFIGS, MODE, parse_config as _parse
from omniglue_conversion.contract import check_onnx_model
from omniglue_conversion.ensemble import run_ensemble
from omniglue_conversion.errors import PublishError, SampleInferenceError
from omniglue_conversion.logs import StageLogger
from omniglue_conversion.onnx_io import fit_to_contract
from omniglue_conversion.publish import ServingOptions, publish_repository, verify_published
from omniglue_conversion.serving import ShapeRange, check_profiles, tensorrt_profiles
from omniglue_conversion.throughput import THROUGHPUT_MODELS, apply_to_contract


# --- TensorRT profiles ---------------------------------------------------------------------------------------

def test_tensorrt_profiles_range_over_dinov2s_batch_only(contract):
    profiles = tensorrt_profiles(1920, 1024, MODE)
    assert profiles["dinov2"] == {"pixel_values": ShapeRange((1, 3, 462, 630), (8, 3, 462, 630), (8, 3, 462, 630))}
    default = tensorrt_profiles(1920, 1024)
    assert profiles["superpoint"] == default["superpoint"] and profiles["omniglue"] == default["omniglue"]


def test_profiles_of_a_batching_model_are_checked_against_its_full_dims(contract):
    fixed = apply_to_contract(contract, MODE)
    unbatched = {"pixel_values": ShapeRange((3, 462, 630), (3, 462, 630), (3, 462, 630))}
    with pytest.raises(PublishError, match=r"TensorRT min shape \[3, 462, 630\] of 'pixel_values' does not fit its dims \[-1, 3, 462, 630\]"):
        check_profiles(fixed.models["dinov2"], unbatched)
    other_size = {"pixel_values": ShapeRange((1, 3, 238, 322), (8, 3, 238, 322), (8, 3, 238, 322))}
    with pytest.raises(PublishError, match=r"min shape \[1, 3, 238, 322\] of 'pixel_values' does not fit its dims \[-1, 3, 462, 630\]"):
        check_profiles(fixed.models["dinov2"], other_size)


# --- validation, sample run, export and publish --------------------------------------------------------------

def test_the_batching_onnx_model_validates_and_the_sample_run_checks_full_dims(contract, tmp_path):
    fixed = apply_to_contract(contract, MODE)
    assert check_onnx_model(fixed.models["dinov2"], onnx.load(str(write_models(fixed, tmp_path)["dinov2"]))) == []
    image = np.ones((480, 640, 3), np.uint8)
    sessions = LineageSessions(fixed, shape_override={("dinov2_preprocess", "pixel_values"): [1, 3, 462, 630]})
    outputs = run_ensemble(fixed, {"image0": image, "image1": image * 2}, sessions)
    assert set(outputs) == {t.name for t in fixed.ensemble_spec.outputs}
    unbatched = LineageSessions(fixed, shape_override={
        ("dinov2_preprocess", "pixel_values"): [1, 3, 462, 630], ("dinov2", "features"): [768, 33, 45],
    })
    with pytest.raises(SampleInferenceError, match=r"dinov2 output 'features': rank expected 4 \[-1, 768, 33, 45\], got shape \[768, 33, 45\]"):
        run_ensemble(fixed, {"image0": image, "image1": image}, unbatched)


def test_fit_to_contract_declares_a_dynamic_batch_dim_and_the_fixed_dims_for_a_batching_spec(contract, tmp_path, log):
    spec = apply_to_contract(contract, MODE).models["dinov2"]
    unknown = lambda name: helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)  # noqa: E731
    nodes = [helper.make_node("Identity", ["dinov2/pixel_values:0"], ["dinov2/features:0"])]
    graph = helper.make_graph(nodes, "exported", [unknown("dinov2/pixel_values:0")], [unknown("dinov2/features:0")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "dinov2.onnx"))
    fit_to_contract(tmp_path / "dinov2.onnx", spec, log)
    fitted = onnx.load(str(tmp_path / "dinov2.onnx"))
    declared = lambda info: [d.dim_value or d.dim_param for d in info.type.tensor_type.shape.dim]  # noqa: E731
    assert declared(fitted.graph.input[0]) == ["pixel_values_dim0", 3, 462, 630]
    assert declared(fitted.graph.output[0]) == ["features_dim0", 768, 33, 45]
    assert check_onnx_model(spec, fitted) == []


def test_publish_in_throughput_mode_with_tensorrt_on_cpu_instances(contract, tmp_path, log):
    fixed = apply_to_contract(contract, MODE)
    models = write_models(fixed, tmp_path / "build")
    final = publish_repository(
        tmp_path / "out", "v1", fixed, models, CONFIGS, {}, log,
        ServingOptions(tensorrt_fp16=True, trt_workspace_bytes=1 << 30, throughput=MODE),
    )
    assert verify_published(final, fixed) == (True, "ok")
    dinov2 = (final / "dinov2" / "config.pbtxt").read_text()
    assert 'key: "trt_profile_opt_shapes" value: "pixel_values:8x3x462x630"' in dinov2
    assert _parse(dinov2)["max_batch_size"] == 8 and _parse(dinov2)["delay"] == 1000
    default = publish_repository(
        tmp_path / "default", "v1", contract, write_models(contract, tmp_path / "default-build"), CONFIGS, {},
        StageLogger(io.StringIO()), ServingOptions(tensorrt_fp16=True, trt_workspace_bytes=1 << 30),
    )
    for name in set(contract.models) - set(THROUGHPUT_MODELS):  # SuperPoint's TensorRT profile included
        assert (final / name / "config.pbtxt").read_text() == (default / name / "config.pbtxt").read_text(), name
    cpu = publish_repository(
        tmp_path / "cpu", "v1", fixed, models, CONFIGS, {}, StageLogger(io.StringIO()),
        ServingOptions(trt_workspace_bytes=1 << 30, instance_kind="cpu", throughput=MODE),
    )
    for name in THROUGHPUT_MODELS:
        text = (cpu / name / "config.pbtxt").read_text()
        assert "KIND_GPU" not in text and "KIND_CPU" in text
        assert _parse(text) == _parse((final / name / "config.pbtxt").read_text())
