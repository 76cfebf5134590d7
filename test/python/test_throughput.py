"""Throughput mode (throughput.py, throughput_config.py): flags, contract, configs, profiles, publish, sample run."""

from __future__ import annotations

import dataclasses
import io
import random
import re

import numpy as np
import onnx
import pytest
from onnx import helper

from conftest import REPO_ROOT, LineageSessions, write_models
from omniglue_conversion.contract import check_onnx_model
from omniglue_conversion.ensemble import run_ensemble
from omniglue_conversion.errors import ContractError, PublishError, SampleInferenceError, UsageError
from omniglue_conversion.logs import StageLogger
from omniglue_conversion.model_config import TENSORRT_MODELS, top_level_fields
from omniglue_conversion.publish import ServingOptions, publish_repository, verify_published
from omniglue_conversion.serving import ShapeRange, check_profiles, dinov2_size, tensorrt_profiles
from omniglue_conversion.tf2onnx_runner import fit_to_contract
from omniglue_conversion.throughput import (
    BATCHING_MODELS,
    THROUGHPUT_MODELS,
    ThroughputMode,
    apply_to_contract,
    parse_image_size,
    throughput_mode_from_flags,
)
from omniglue_conversion.throughput_config import _message_entries, apply_to_config

CONFIGS = REPO_ROOT / "model_repository"
MODE = ThroughputMode(640, 480, 8, 1000)


def _config(name: str) -> str:
    return (CONFIGS / name / "config.pbtxt").read_text()


def _value(text: str, field) -> str:
    return text[field.value_start:field.end].strip()


def _parse(text: str) -> dict:
    """What the checks need from a config, read with the same scanner Triton-bound edits use:
    {tensors: {name: dims}, max_batch_size, warmup: [(batch_size, key, dims, data_type)], delay}."""
    parsed: dict = {"tensors": {}, "warmup": [], "delay": None, "max_batch_size": None}

    def dims(value: str) -> tuple[int, ...]:
        return tuple(int(d) for d in value.strip("[] ").split(",") if d.strip())

    for field in top_level_fields(text):
        if field.name in ("input", "output"):
            for start, end in _message_entries(text, field):
                inner = {f.name: _value(text[start:end], f) for f in top_level_fields(text[start:end])}
                parsed["tensors"][inner["name"].strip('"')] = dims(inner["dims"])
        elif field.name == "max_batch_size":
            parsed["max_batch_size"] = int(_value(text, field))
        elif field.name == "dynamic_batching":
            body = text[field.body[0]:field.body[1]]
            (delay,) = [f for f in top_level_fields(body) if f.name == "max_queue_delay_microseconds"]
            parsed["delay"] = int(_value(body, delay))
        elif field.name == "model_warmup":
            for start, end in _message_entries(text, field):
                entry = text[start:end]
                fields = {f.name: f for f in top_level_fields(entry)}
                inputs = fields["inputs"]
                sample = entry[inputs.body[0]:inputs.body[1]]
                sample_fields = {f.name: f for f in top_level_fields(sample)}
                value = sample[sample_fields["value"].body[0]:sample_fields["value"].body[1]]
                value_fields = {f.name: _value(value, f) for f in top_level_fields(value)}
                parsed["warmup"].append((
                    int(_value(entry, fields["batch_size"])), _value(sample, sample_fields["key"]).strip('"'),
                    dims(value_fields["dims"]), value_fields["data_type"],
                ))
    return parsed


# --- flags and the mode itself ---------------------------------------------------------------------------------

def test_flags_give_the_mode_with_its_defaults_and_none_without_them():
    assert throughput_mode_from_flags(None, None, None) is None
    assert throughput_mode_from_flags("640x480", None, None) == ThroughputMode(640, 480, 8, 1000)
    assert throughput_mode_from_flags(" 1024X768 ", 16, 0) == ThroughputMode(1024, 768, 16, 0)
    assert parse_image_size("16x4096") == (16, 4096)
    assert MODE.manifest() == {"image_width": 640, "image_height": 480, "max_batch_size": 8, "max_queue_delay_microseconds": 1000}


def test_derived_shapes_follow_superpoints_cell_and_the_references_dinov2_rule():
    assert (MODE.superpoint_hw, MODE.superpoint_cells, MODE.dinov2_hw, MODE.dinov2_grid) == (
        (480, 640), (60, 80), (462, 630), (33, 45),
    )
    portrait = ThroughputMode(480, 640)
    assert (portrait.dinov2_hw, portrait.dinov2_grid) == ((630, 462), (45, 33))


@pytest.mark.parametrize("flags,message", [
    (("640", None, None), "--throughput-image-size must be WIDTHxHEIGHT in pixels (for example 640x480), got '640'"),
    (("640x480x3", None, None), "--throughput-image-size must be WIDTHxHEIGHT"),
    (("644x480", None, None), "--throughput-image-size 644x480: width and height must each be a multiple of 8 (SuperPoint's cell) from 16 to 4096"),
    (("8x480", None, None), "--throughput-image-size 8x480: width and height must each be a multiple of 8"),
    (("640x4104", None, None), "from 16 to 4096"),
    (("640x480", 0, None), "--throughput-max-batch-size must be from 1 to 64, got 0"),
    (("640x480", 65, None), "--throughput-max-batch-size must be from 1 to 64, got 65"),
    (("640x480", None, -1), "--throughput-max-queue-delay-microseconds must be from 0 to 1,000,000, got -1"),
    (("640x480", None, 1_000_001), "--throughput-max-queue-delay-microseconds must be from 0 to 1,000,000, got 1000001"),
    ((None, 4, None), "--throughput-max-batch-size applies only in throughput mode; add --throughput-image-size WIDTHxHEIGHT"),
    ((None, 4, 10), "--throughput-max-batch-size and --throughput-max-queue-delay-microseconds apply only in throughput mode"),
])
def test_bad_flags_are_usage_errors_naming_the_flag_and_the_allowed_values(flags, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        throughput_mode_from_flags(*flags)


# --- the contract --------------------------------------------------------------------------------------------

def test_the_contract_fixes_the_preprocessing_outputs_and_batches_the_two_networks(contract):
    fixed = apply_to_contract(contract, MODE)
    models = fixed.models
    assert models["superpoint_preprocess"].output("image_gray").dims == (1, 480, 640, 1)
    assert models["superpoint_preprocess"].output("width").dims == contract.models["superpoint_preprocess"].output("width").dims
    assert (models["superpoint"].max_batch_size, models["dinov2"].max_batch_size) == (8, 8)
    assert models["superpoint"].input("image").dims == (480, 640, 1)
    assert models["superpoint"].output("prob_nms").dims == (480, 640)
    assert models["superpoint"].output("descriptors_raw").dims == (60, 80, 256)
    assert models["dinov2_preprocess"].output("pixel_values").dims == (1, 3, 462, 630)
    assert models["dinov2"].input("pixel_values").dims == (3, 462, 630)
    assert models["dinov2"].output("features").dims == (768, 33, 45)
    for name in set(contract.models) - set(THROUGHPUT_MODELS):
        assert models[name] == contract.models[name], name
    assert models["superpoint_preprocess"].max_batch_size == 0 and models["dinov2_preprocess"].max_batch_size == 0
    assert fixed.steps == contract.steps and contract.models["superpoint"].max_batch_size == 0  # the source is untouched


def _with_dims(contract, model, tensor, dims=None, max_batch_size=None):
    spec = contract.models[model]
    replace = lambda ts: tuple(dataclasses.replace(t, dims=dims) if t.name == tensor and dims else t for t in ts)  # noqa: E731
    spec = dataclasses.replace(
        spec, inputs=replace(spec.inputs), outputs=replace(spec.outputs),
        max_batch_size=spec.max_batch_size if max_batch_size is None else max_batch_size,
    )
    return dataclasses.replace(contract, models={**contract.models, model: spec})


@pytest.mark.parametrize("change,message", [
    (("superpoint", "image", (1, 480, 640, 1)), "superpoint.image has dims [1, 480, 640, 1], expected [1, -1, -1, 1]"),
    (("dinov2", "features", (1, 384, -1, -1)), "dinov2.features has dims [1, 384, -1, -1], expected [1, 768, -1, -1]"),
    (("superpoint", "image", None, 4), "model 'superpoint' has max_batch_size 4, expected 0"),
    (("omniglue_ensemble", "image0", None, 2), "the ensemble 'omniglue_ensemble' has max_batch_size 2, expected 0"),
])
def test_a_contract_that_is_not_the_expected_dynamic_one_is_refused(contract, change, message):
    with pytest.raises(ContractError, match=re.escape(message)) as raised:
        apply_to_contract(_with_dims(contract, *change), MODE)
    assert "throughput mode cannot be applied to this contract" in str(raised.value)


def test_a_contract_without_a_changed_model_is_refused(contract):
    models = {k: v for k, v in contract.models.items() if k != "dinov2_preprocess"}
    with pytest.raises(ContractError, match="model 'dinov2_preprocess' is missing"):
        apply_to_contract(dataclasses.replace(contract, models=models), MODE)


# --- the config text -----------------------------------------------------------------------------------------

def test_configs_at_640x480_batch_8_delay_1000(contract):
    fixed = apply_to_contract(contract, MODE)
    texts = {name: apply_to_config(_config(name), fixed.models[name], MODE) for name in THROUGHPUT_MODELS}
    superpoint = texts["superpoint"]
    assert "max_batch_size: 8\n" in superpoint and "max_batch_size: 0" not in superpoint
    assert 'name: "image"\n    data_type: TYPE_FP32\n    dims: [ 480, 640, 1 ]' in superpoint
    assert 'name: "prob_nms"\n    data_type: TYPE_FP32\n    dims: [ 480, 640 ]' in superpoint
    assert 'name: "descriptors_raw"\n    data_type: TYPE_FP32\n    dims: [ 60, 80, 256 ]' in superpoint
    assert superpoint.endswith("dynamic_batching {\n  max_queue_delay_microseconds: 1000\n}\n")
    assert (
        '    name: "batch_8_640x480"\n    batch_size: 8\n'
        '    inputs { key: "image" value: { data_type: TYPE_FP32 dims: [ 480, 640, 1 ] zero_data: true } }\n'
    ) in superpoint
    assert 'dims: [ 3, 462, 630 ] zero_data: true' in texts["dinov2"] and "dims: [ 768, 33, 45 ]" in texts["dinov2"]
    assert "dims: [ 1, 480, 640, 1 ]" in texts["superpoint_preprocess"]
    assert "dims: [ 1, 3, 462, 630 ]" in texts["dinov2_preprocess"]
    for name in ("superpoint_preprocess", "dinov2_preprocess"):
        assert "dims: [ -1, -1, 3 ]" in texts[name]  # any image still enters
        assert "dynamic_batching" not in texts[name] and "max_batch_size: 0" in texts[name]
        assert _parse(texts[name])["warmup"] == [(1, "image", (480, 640, 3), "TYPE_UINT8")]
    for name, text in texts.items():
        assert text.startswith("# Throughput mode (conversion --throughput-image-size, docs/conversion.md): ")
        # The operator's comments stay.
        assert all(line in text for line in _config(name).splitlines() if line.startswith("#")), name


def test_an_unchanged_model_is_returned_as_written(contract):
    fixed = apply_to_contract(contract, MODE)
    for name in set(contract.models) - set(THROUGHPUT_MODELS):
        assert apply_to_config(_config(name), fixed.models[name], MODE) == _config(name)


@pytest.mark.parametrize("seed", range(40))
def test_any_valid_mode_gives_configs_that_agree_with_the_transformed_contract_and_profiles(contract, seed):
    rng = random.Random(seed)
    mode = ThroughputMode(8 * rng.randint(2, 512), 8 * rng.randint(2, 512), rng.randint(1, 64), rng.randint(0, 1_000_000))
    fixed = apply_to_contract(contract, mode)
    dino_h, dino_w = dinov2_size(mode.image_height, mode.image_width)
    assert dino_h % 14 == dino_w % 14 == 0 and max(dino_h, dino_w) <= 630 and min(dino_h, dino_w) >= 14
    for name in THROUGHPUT_MODELS:
        spec = fixed.models[name]
        parsed = _parse(apply_to_config(_config(name), spec, mode))
        assert parsed["tensors"] == {t.name: t.dims for t in spec.inputs + spec.outputs}, name
        assert parsed["max_batch_size"] == spec.max_batch_size
        if name in BATCHING_MODELS:
            assert parsed["delay"] == mode.max_queue_delay_microseconds
            (tensor,) = spec.inputs
            assert parsed["warmup"] == [(b, tensor.name, tensor.dims, tensor.data_type) for b in sorted({1, mode.max_batch_size})]
        else:
            assert parsed["delay"] is None
            assert parsed["warmup"] == [(1, "image", (mode.image_height, mode.image_width, 3), "TYPE_UINT8")]
    profiles = tensorrt_profiles(1920, 1024, mode)
    for name in TENSORRT_MODELS:
        check_profiles(fixed.models[name], profiles[name])
    assert profiles["dinov2"]["pixel_values"].max == (mode.max_batch_size, 3, dino_h, dino_w)


def test_a_tensor_whose_dims_cannot_be_replaced_exactly_once_fails(contract):
    fixed = apply_to_contract(contract, MODE)
    twice = _config("superpoint").replace("dims: [ 1, -1, -1, 1 ]", "dims: [ 1, -1, -1, 1 ]\n    dims: [ 1, -1, -1, 1 ]")
    with pytest.raises(PublishError, match=r"model 'superpoint': throughput mode sets the dims of input 'image', and found 2 `dims` fields"):
        apply_to_config(twice, fixed.models["superpoint"], MODE)
    missing = _config("dinov2").replace('name: "features"', 'name: "feature_map"')
    with pytest.raises(PublishError, match=r"dims of output 'features', and found 0 `dims` fields for it in config.pbtxt where exactly one"):
        apply_to_config(missing, fixed.models["dinov2"], MODE)


@pytest.mark.parametrize("edit,message", [
    (("max_batch_size: 0", "max_batch_size: 4"), "model 'superpoint': throughput mode expects `max_batch_size: 0` in config.pbtxt to replace"),
    (("max_batch_size: 0\n", ""), "expects `max_batch_size: 0`"),
    (("platform:", "dynamic_batching { }\nplatform:"), "model 'superpoint': config.pbtxt already has `dynamic_batching`; throughput mode sets it"),
    (("platform:", "max_batch_size: 0\nplatform:"), "model 'superpoint': config.pbtxt has 2 top-level `max_batch_size` fields"),
])
def test_config_errors_name_the_model_and_the_field(contract, edit, message):
    fixed = apply_to_contract(contract, MODE)
    with pytest.raises(PublishError, match=re.escape(message)):
        apply_to_config(_config("superpoint").replace(*edit, 1), fixed.models["superpoint"], MODE)


def test_a_contract_that_was_not_transformed_is_refused_by_the_config_edit(contract):
    with pytest.raises(PublishError, match=r"model 'superpoint': the contract declares 'image' \[1, -1, -1, 1\], expected \[480, 640, 1\]"):
        apply_to_config(_config("superpoint"), contract.models["superpoint"], MODE)


def test_a_config_without_warmup_gets_one(contract):
    fixed = apply_to_contract(contract, MODE)
    text = _config("dinov2")
    without = text[:text.index("# Warm-up")]
    parsed = _parse(apply_to_config(without, fixed.models["dinov2"], MODE))
    assert [w[0] for w in parsed["warmup"]] == [1, 8]


# --- TensorRT profiles ---------------------------------------------------------------------------------------

def test_tensorrt_profiles_range_over_the_batch_only(contract):
    profiles = tensorrt_profiles(1920, 1024, MODE)
    assert profiles["superpoint"] == {"image": ShapeRange((1, 480, 640, 1), (8, 480, 640, 1), (8, 480, 640, 1))}
    assert profiles["dinov2"] == {"pixel_values": ShapeRange((1, 3, 462, 630), (8, 3, 462, 630), (8, 3, 462, 630))}
    assert profiles["omniglue"] == tensorrt_profiles(1920, 1024)["omniglue"]


def test_profiles_of_a_batching_model_are_checked_against_its_full_dims(contract):
    fixed = apply_to_contract(contract, MODE)
    unbatched = {"image": ShapeRange((480, 640, 1), (480, 640, 1), (480, 640, 1))}
    with pytest.raises(PublishError, match=r"TensorRT min shape \[480, 640, 1\] of 'image' does not fit its dims \[-1, 480, 640, 1\]"):
        check_profiles(fixed.models["superpoint"], unbatched)
    other_size = {"image": ShapeRange((1, 240, 320, 1), (8, 240, 320, 1), (8, 240, 320, 1))}
    with pytest.raises(PublishError, match=r"min shape \[1, 240, 320, 1\] of 'image' does not fit its dims \[-1, 480, 640, 1\]"):
        check_profiles(fixed.models["superpoint"], other_size)


# --- validation, sample run, export and publish --------------------------------------------------------------

def test_batching_onnx_models_validate_and_the_sample_run_checks_full_dims(contract, tmp_path):
    fixed = apply_to_contract(contract, MODE)
    for name in BATCHING_MODELS:
        assert check_onnx_model(fixed.models[name], onnx.load(str(write_models(fixed, tmp_path / name)[name]))) == []
    image = np.ones((480, 640, 3), np.uint8)
    sessions = LineageSessions(fixed, shape_override={
        ("superpoint_preprocess", "image_gray"): [1, 480, 640, 1], ("dinov2_preprocess", "pixel_values"): [1, 3, 462, 630],
    })
    outputs = run_ensemble(fixed, {"image0": image, "image1": image * 2}, sessions)
    assert set(outputs) == {t.name for t in fixed.ensemble_spec.outputs}
    unbatched = LineageSessions(fixed, shape_override={
        ("superpoint_preprocess", "image_gray"): [1, 480, 640, 1], ("superpoint", "prob_nms"): [480, 640],
    })
    with pytest.raises(SampleInferenceError, match=r"superpoint output 'prob_nms': rank expected 3 \[-1, 480, 640\], got shape \[480, 640\]"):
        run_ensemble(fixed, {"image0": image, "image1": image}, unbatched)


def test_tf2onnx_output_is_declared_with_a_dynamic_batch_dim_for_a_batching_spec(contract, tmp_path, log):
    spec = apply_to_contract(contract, MODE).models["superpoint"]
    unknown = lambda name: helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)  # noqa: E731
    nodes = [helper.make_node("Identity", ["image"], ["prob_nms"]), helper.make_node("Identity", ["image"], ["descriptors_raw"])]
    graph = helper.make_graph(nodes, "converted", [unknown("image")], [unknown("prob_nms"), unknown("descriptors_raw")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "superpoint.onnx"))
    fit_to_contract(tmp_path / "superpoint.onnx", spec, log)
    fitted = onnx.load(str(tmp_path / "superpoint.onnx")).graph
    declared = lambda info: [d.dim_value or d.dim_param for d in info.type.tensor_type.shape.dim]  # noqa: E731
    assert declared(fitted.input[0]) == ["image_dim0", 480, 640, 1]
    assert [declared(o) for o in fitted.output] == [["prob_nms_dim0", 480, 640], ["descriptors_raw_dim0", 60, 80, 256]]


def test_publish_in_throughput_mode_with_tensorrt_on_cpu_instances(contract, tmp_path, log):
    fixed = apply_to_contract(contract, MODE)
    models = write_models(fixed, tmp_path / "build")
    final = publish_repository(
        tmp_path / "out", "v1", fixed, models, CONFIGS, {}, log, tensorrt_fp16=True, trt_workspace_bytes=1 << 30,
        serving=ServingOptions(throughput=MODE),
    )
    assert verify_published(final, fixed) == (True, "ok")
    superpoint = (final / "superpoint" / "config.pbtxt").read_text()
    assert 'key: "trt_profile_opt_shapes" value: "image:8x480x640x1"' in superpoint
    assert _parse(superpoint)["max_batch_size"] == 8 and _parse(superpoint)["delay"] == 1000
    cpu = publish_repository(
        tmp_path / "cpu", "v1", fixed, models, CONFIGS, {}, StageLogger(io.StringIO()),
        trt_workspace_bytes=1 << 30, serving=ServingOptions(instance_kind="cpu", throughput=MODE),
    )
    for name in THROUGHPUT_MODELS:
        text = (cpu / name / "config.pbtxt").read_text()
        assert "KIND_GPU" not in text and "KIND_CPU" in text
        assert _parse(text) == _parse((final / name / "config.pbtxt").read_text())
