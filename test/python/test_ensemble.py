from __future__ import annotations

import numpy as np
import pytest

from conftest import LineageSessions
from omniglue_conversion.contract import parse_contract
from omniglue_conversion.ensemble import order_steps, run_ensemble
from omniglue_conversion.errors import SampleInferenceError


def _images():
    return {"image0": np.full((40, 48, 3), 1, np.uint8), "image1": np.full((36, 30, 3), 2, np.uint8)}


def test_steps_run_in_dependency_order_and_never_mix_the_images(contract):
    sessions = LineageSessions(contract)
    outputs = run_ensemble(contract, _images(), sessions)

    assert len(sessions.calls) == len(contract.steps) == 14
    order = [model for model, _ in sessions.calls]
    assert order.index("omniglue") > max(i for i, m in enumerate(order) if m == "dinov2_keypoint_sampler")
    assert order[-1] == "omniglue_match_extraction"
    for model, lineage in sessions.calls:
        if model in ("omniglue", "omniglue_match_extraction"):
            continue
        assert len(set(lineage.values())) == 1, (model, lineage)
        assert set(lineage.values()) <= {1, 2}
    omniglue_feeds = sessions.calls[order.index("omniglue")][1]
    assert omniglue_feeds == {
        f"{name}{i}{suffix}": i + 1
        for i in (0, 1)
        for name, suffix in (("keypoints", ""), ("descriptors", ""), ("scores", ""), ("descriptors", "_dino"), ("width", ""), ("height", ""))
    }
    assert sorted(outputs) == ["match_confidences", "matches_kp0", "matches_kp1"]
    assert outputs["matches_kp0"].shape == (12, 2)


def test_a_produced_tensor_contradicting_a_fixed_dim_fails(contract):
    sessions = LineageSessions(contract, shape_override={("superpoint_keypoints", "keypoints"): [1, 1000, 2]})
    with pytest.raises(SampleInferenceError) as info:
        run_ensemble(contract, _images(), sessions)
    assert "superpoint_keypoints output 'keypoints': dim 1 expected 1024, got 1000" in str(info.value)


def test_wrong_dtype_of_an_ensemble_input_is_reported(contract):
    images = _images()
    images["image1"] = images["image1"].astype(np.float32)
    with pytest.raises(SampleInferenceError, match="ensemble input 'image1': dtype expected TYPE_UINT8"):
        run_ensemble(contract, images, LineageSessions(contract))


def _mini(steps):
    tensor = {"name": "x", "dataType": "TYPE_FP32", "dims": [-1]}
    out = {"name": "y", "dataType": "TYPE_FP32", "dims": [-1]}
    models = {
        "e": {"platform": "ensemble", "maxBatchSize": 0, "inputs": [tensor], "outputs": [out]},
        "a": {"platform": "onnxruntime_onnx", "maxBatchSize": 0, "inputs": [tensor], "outputs": [out]},
        "b": {"platform": "onnxruntime_onnx", "maxBatchSize": 0, "inputs": [tensor], "outputs": [out]},
    }
    return parse_contract({"ensemble": "e", "models": models, "steps": steps})


def test_steps_are_ordered_regardless_of_their_listing_order():
    contract = _mini([
        {"modelName": "b", "inputMap": {"x": "t"}, "outputMap": {"y": "y"}},
        {"modelName": "a", "inputMap": {"x": "x"}, "outputMap": {"y": "t"}},
    ])
    assert [s.model_name for s in order_steps(contract)] == ["a", "b"]


def test_a_step_waiting_for_a_tensor_nobody_produces_is_reported():
    contract = _mini([
        {"modelName": "a", "inputMap": {"x": "x"}, "outputMap": {"y": "t"}},
        {"modelName": "b", "inputMap": {"x": "u"}, "outputMap": {"y": "y"}},
    ])
    with pytest.raises(SampleInferenceError, match=r"b waits for \['u'\]"):
        order_steps(contract)


def test_a_tensor_produced_twice_is_reported():
    contract = _mini([
        {"modelName": "a", "inputMap": {"x": "x"}, "outputMap": {"y": "y"}},
        {"modelName": "b", "inputMap": {"x": "x"}, "outputMap": {"y": "y"}},
    ])
    with pytest.raises(SampleInferenceError, match="'y' is produced twice"):
        order_steps(contract)
