"""Throughput mode (throughput.py, throughput_config.py): flags, the contract and the config text.

TensorRT profiles, validation, the sample run and publish: test_throughput_publish.py."""

from __future__ import annotations

import dataclasses
import random
import re

import pytest

from throughput_support import MODE, config_text as _config, parse_config as _parse
from omniglue_conversion.errors import ContractError, PublishError, UsageError
from omniglue_conversion.model_config import TENSORRT_MODELS
from omniglue_conversion.serving import check_profiles, dinov2_size, tensorrt_profiles
from omniglue_conversion.throughput import (
    BATCHING_MODELS,
    THROUGHPUT_MODELS,
    ThroughputMode,
    apply_to_contract,
    parse_image_size,
    throughput_mode_from_flags,
)
from omniglue_conversion.throughput_config import apply_to_config


# --- flags and the mode itself ---------------------------------------------------------------------------------

def test_flags_give_the_mode_with_its_defaults_and_none_without_them():
    assert throughput_mode_from_flags(None, None, None) is None
    assert throughput_mode_from_flags("640x480", None, None) == ThroughputMode(640, 480, 8, 1000)
    assert throughput_mode_from_flags(" 1024X768 ", 16, 0) == ThroughputMode(1024, 768, 16, 0)
    assert parse_image_size("14x630") == (14, 630)
    assert throughput_mode_from_flags("630x14", None, None) == ThroughputMode(630, 14)  # 45:1, one patch high
    assert MODE.manifest() == {"image_width": 640, "image_height": 480, "max_batch_size": 8, "max_queue_delay_microseconds": 1000}


def test_dinov2s_input_follows_the_references_rule_and_needs_no_multiple_of_8():
    assert (MODE.dinov2_hw, MODE.dinov2_grid) == ((462, 630), (33, 45))
    portrait = ThroughputMode(480, 640)
    assert (portrait.dinov2_hw, portrait.dinov2_grid) == ((630, 462), (45, 33))
    assert ThroughputMode(641, 479).dinov2_hw == (462, 630)  # 630 * 479 // 641 = 470 -> 462
    assert ThroughputMode(900, 20).dinov2_hw == (14, 630) and ThroughputMode(14, 630).dinov2_grid == (45, 1)


@pytest.mark.parametrize("short", [14, 15, 20, 91, 1000])
def test_the_aspect_ratio_bound_is_exactly_one_dinov2_patch_on_the_shorter_side(short):
    # dinov2_size keeps at least one 14 px patch per side exactly up to 45:1 (docs/model-repository.md "Input limits").
    longest = min(45 * short, 4096)
    assert min(ThroughputMode(longest, short).dinov2_grid) >= 1 and min(ThroughputMode(short, longest).dinov2_grid) >= 1
    if 45 * short < 4096:
        assert min(dinov2_size(short, longest + 1)) == 0  # one pixel more would leave no patch
        with pytest.raises(UsageError, match=re.escape(f"got {longest + 1}:{short}")):
            ThroughputMode(longest + 1, short)


@pytest.mark.parametrize("flags,message", [
    (("640", None, None), "--throughput-image-size must be WIDTHxHEIGHT in pixels (for example 640x480), got '640'"),
    (("640x480x3", None, None), "--throughput-image-size must be WIDTHxHEIGHT"),
    (("13x480", None, None), "--throughput-image-size 13x480: width and height must each be from 14 to 4096 pixels"),
    (("640x4097", None, None), "--throughput-image-size 640x4097: width and height must each be from 14 to 4096 pixels"),
    (("0x0", None, None), "--throughput-image-size 0x0: width and height must each be from 14 to 4096"),
    (("901x20", None, None), "--throughput-image-size 901x20: the aspect ratio (longer side / shorter side) must be at most 45:1, "
     "so that DINOv2's input keeps at least one 14 px patch per side; got 901:20"),
    (("14x631", None, None), "--throughput-image-size 14x631: the aspect ratio (longer side / shorter side) must be at most 45:1"),
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

def test_the_contract_fixes_dinov2s_input_and_batches_dinov2_only(contract):
    fixed = apply_to_contract(contract, MODE)
    models = fixed.models
    assert models["dinov2_preprocess"].output("pixel_values").dims == (1, 3, 462, 630)
    assert models["dinov2_preprocess"].input("image").dims == contract.models["dinov2_preprocess"].input("image").dims
    assert models["dinov2"].max_batch_size == 8
    assert models["dinov2"].input("pixel_values").dims == (3, 462, 630)
    assert models["dinov2"].output("features").dims == (768, 33, 45)
    assert THROUGHPUT_MODELS == ("dinov2_preprocess", "dinov2") and BATCHING_MODELS == ("dinov2",)
    # SuperPoint, its preprocessing, the keypoint step, the sampler, the matcher and match extraction: as by default.
    for name in set(contract.models) - set(THROUGHPUT_MODELS):
        assert models[name] == contract.models[name], name
    assert models["dinov2_preprocess"].max_batch_size == 0 and models["superpoint"].max_batch_size == 0
    assert fixed.steps == contract.steps and contract.models["dinov2"].max_batch_size == 0  # the source is untouched


def _with_dims(contract, model, tensor, dims=None, max_batch_size=None):
    spec = contract.models[model]
    replace = lambda ts: tuple(dataclasses.replace(t, dims=dims) if t.name == tensor and dims else t for t in ts)  # noqa: E731
    spec = dataclasses.replace(
        spec, inputs=replace(spec.inputs), outputs=replace(spec.outputs),
        max_batch_size=spec.max_batch_size if max_batch_size is None else max_batch_size,
    )
    return dataclasses.replace(contract, models={**contract.models, model: spec})


@pytest.mark.parametrize("change,message", [
    (("dinov2_preprocess", "pixel_values", (1, 3, 462, 630)), "dinov2_preprocess.pixel_values has dims [1, 3, 462, 630], expected [1, 3, -1, -1]"),
    (("dinov2", "features", (1, 384, -1, -1)), "dinov2.features has dims [1, 384, -1, -1], expected [1, 768, -1, -1]"),
    (("dinov2", "pixel_values", None, 4), "model 'dinov2' has max_batch_size 4, expected 0"),
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
    dinov2 = texts["dinov2"]
    assert "max_batch_size: 8\n" in dinov2 and "max_batch_size: 0" not in dinov2
    assert 'name: "pixel_values"\n    data_type: TYPE_FP32\n    dims: [ 3, 462, 630 ]' in dinov2
    assert 'name: "features"\n    data_type: TYPE_FP32\n    dims: [ 768, 33, 45 ]' in dinov2
    assert dinov2.endswith("dynamic_batching {\n  max_queue_delay_microseconds: 1000\n}\n")
    assert (
        '    name: "batch_8_640x480"\n    batch_size: 8\n'
        '    inputs { key: "pixel_values" value: { data_type: TYPE_FP32 dims: [ 3, 462, 630 ] zero_data: true } }\n'
    ) in dinov2
    assert dinov2.startswith(
        "# Throughput mode (conversion --throughput-image-size, docs/conversion.md): "
        "fixed input 630 x 462 (DINOv2's for 640 x 480 images), batches of up to 8.\n"
    )
    preprocess = texts["dinov2_preprocess"]
    assert "dims: [ 1, 3, 462, 630 ]" in preprocess
    assert "dims: [ -1, -1, 3 ]" in preprocess  # any image still enters
    assert "dynamic_batching" not in preprocess and "max_batch_size: 0" in preprocess
    assert _parse(preprocess)["warmup"] == [(1, "image", (480, 640, 3), "TYPE_UINT8")]
    assert preprocess.startswith(
        "# Throughput mode (conversion --throughput-image-size, docs/conversion.md): "
        "every image is resized to 630 x 462, DINOv2's input for 640 x 480 images.\n"
    )
    for name, text in texts.items():
        # The operator's comments stay.
        assert all(line in text for line in _config(name).splitlines() if line.startswith("#")), name


def test_an_unchanged_model_is_returned_as_written(contract):
    fixed = apply_to_contract(contract, MODE)
    for name in set(contract.models) - set(THROUGHPUT_MODELS):
        assert apply_to_config(_config(name), fixed.models[name], MODE) == _config(name)


@pytest.mark.parametrize("seed", range(40))
def test_any_valid_mode_gives_configs_that_agree_with_the_transformed_contract_and_profiles(contract, seed):
    rng = random.Random(seed)
    # Any side from 14 to 4096 and any aspect ratio up to 45:1, either orientation; the first seeds take the extremes.
    extremes = [(14, 630), (4096, 4096), (14, 14), (91, 4095)]  # (shorter, longer)
    short = extremes[seed][0] if seed < len(extremes) else rng.randint(14, 4096)
    long = extremes[seed][1] if seed < len(extremes) else rng.randint(short, min(4096, 45 * short))
    width, height = (long, short) if rng.random() < 0.5 else (short, long)
    mode = ThroughputMode(width, height, rng.randint(1, 64), rng.randint(0, 1_000_000))
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
    twice = _config("dinov2").replace("dims: [ 1, 3, -1, -1 ]", "dims: [ 1, 3, -1, -1 ]\n    dims: [ 1, 3, -1, -1 ]")
    with pytest.raises(PublishError, match=r"model 'dinov2': throughput mode sets the dims of input 'pixel_values', and found 2 `dims` fields"):
        apply_to_config(twice, fixed.models["dinov2"], MODE)
    missing = _config("dinov2").replace('name: "features"', 'name: "feature_map"')
    with pytest.raises(PublishError, match=r"dims of output 'features', and found 0 `dims` fields for it in config.pbtxt where exactly one"):
        apply_to_config(missing, fixed.models["dinov2"], MODE)


@pytest.mark.parametrize("edit,message", [
    (("max_batch_size: 0", "max_batch_size: 4"), "model 'dinov2': throughput mode expects `max_batch_size: 0` in config.pbtxt to replace"),
    (("max_batch_size: 0\n", ""), "expects `max_batch_size: 0`"),
    (("platform:", "dynamic_batching { }\nplatform:"), "model 'dinov2': config.pbtxt already has `dynamic_batching`; throughput mode sets it"),
    (("platform:", "max_batch_size: 0\nplatform:"), "model 'dinov2': config.pbtxt has 2 top-level `max_batch_size` fields"),
])
def test_config_errors_name_the_model_and_the_field(contract, edit, message):
    fixed = apply_to_contract(contract, MODE)
    with pytest.raises(PublishError, match=re.escape(message)):
        apply_to_config(_config("dinov2").replace(*edit, 1), fixed.models["dinov2"], MODE)


def test_a_contract_that_was_not_transformed_is_refused_by_the_config_edit(contract):
    with pytest.raises(PublishError, match=r"model 'dinov2': the contract declares 'pixel_values' \[1, 3, -1, -1\], expected \[3, 462, 630\]"):
        apply_to_config(_config("dinov2"), contract.models["dinov2"], MODE)


def test_a_config_without_warmup_gets_one(contract):
    fixed = apply_to_contract(contract, MODE)
    text = _config("dinov2")
    without = text[:text.index("# Warm-up")]
    parsed = _parse(apply_to_config(without, fixed.models["dinov2"], MODE))
    assert [w[0] for w in parsed["warmup"]] == [1, 8]
