from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import LineageSessions
from omniglue_conversion.contract import parse_contract
from omniglue_conversion.ensemble import onnxruntime_sessions, order_steps, run_ensemble, session_providers
from omniglue_conversion.errors import ContractError, SampleInferenceError


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
    sessions = LineageSessions(contract, shape_override={("superpoint_keypoints", "keypoints"): [1, 1000, 3]})
    with pytest.raises(SampleInferenceError) as info:
        run_ensemble(contract, _images(), sessions)
    assert "superpoint_keypoints output 'keypoints': dim 2 expected 2, got 3" in str(info.value)


def test_any_keypoint_count_passes_including_zero(contract):
    for count in (0, 1, 1000, 1024):
        override = {("superpoint_keypoints", name): [1, count, width] for name, width in (("keypoints", 2), ("descriptors", 256), ("scores", 1))}
        outputs = run_ensemble(contract, _images(), LineageSessions(contract, shape_override=override))
        assert sorted(outputs) == ["match_confidences", "matches_kp0", "matches_kp1"]


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


class _FakeOnnxRuntime:
    """Stands in for the onnxruntime module: records sessions, drops CUDA when told to."""

    def __init__(self, available, cuda_works=True):
        self.available = available
        self.cuda_works = cuda_works
        self.created = []

    def get_available_providers(self):
        return list(self.available)

    def InferenceSession(self, path, providers):  # noqa: N802 - mirrors onnxruntime
        runtime = self
        runtime.created.append((path, list(providers)))

        class Session:
            def get_providers(self):
                return [p for p in providers if runtime.cuda_works or p != "CUDAExecutionProvider"]

        return Session()


def _sessions_with(monkeypatch, runtime, log):
    monkeypatch.setitem(sys.modules, "onnxruntime", runtime)
    return onnxruntime_sessions({"superpoint": Path("/m/superpoint.onnx"), "dinov2": Path("/m/dinov2.onnx")}, log)


def test_sessions_use_cuda_then_cpu_when_onnxruntime_offers_cuda(monkeypatch, log):
    runtime = _FakeOnnxRuntime(["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    session_for = _sessions_with(monkeypatch, runtime, log)
    assert session_for("superpoint") is session_for("superpoint")
    session_for("dinov2")
    assert runtime.created == [
        ("/m/superpoint.onnx", ["CUDAExecutionProvider", "CPUExecutionProvider"]),
        ("/m/dinov2.onnx", ["CUDAExecutionProvider", "CPUExecutionProvider"]),
    ]
    logged = [r for r in log.records if r["event"] == "session"]
    assert [(r["model"], r["providers"]) for r in logged] == [
        ("superpoint", ["CUDAExecutionProvider", "CPUExecutionProvider"]),
        ("dinov2", ["CUDAExecutionProvider", "CPUExecutionProvider"]),
    ]
    assert not [r for r in log.records if r["level"] == "warning"]


def test_sessions_use_cpu_only_without_cuda(monkeypatch, log):
    runtime = _FakeOnnxRuntime(["CPUExecutionProvider"])
    _sessions_with(monkeypatch, runtime, log)("dinov2")
    assert runtime.created == [("/m/dinov2.onnx", ["CPUExecutionProvider"])]
    assert log.records[-1]["providers"] == ["CPUExecutionProvider"]
    assert session_providers(["AzureExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_a_session_that_fell_back_from_cuda_to_cpu_is_a_warning(monkeypatch, log):
    runtime = _FakeOnnxRuntime(["CUDAExecutionProvider", "CPUExecutionProvider"], cuda_works=False)
    _sessions_with(monkeypatch, runtime, log)("superpoint")
    warning = log.records[-1]
    assert warning["level"] == "warning" and warning["event"] == "cuda-unavailable"
    assert warning["providers"] == ["CPUExecutionProvider"]


def test_a_model_without_an_onnx_file_is_reported(monkeypatch, log):
    session_for = _sessions_with(monkeypatch, _FakeOnnxRuntime(["CPUExecutionProvider"]), log)
    with pytest.raises(SampleInferenceError, match="no ONNX file for ensemble step 'omniglue'"):
        session_for("omniglue")


class _Arg:
    def __init__(self, name, shape):
        self.name, self.shape = name, shape


class _ReportingSessions(LineageSessions):
    """Lineage sessions that also report their interface, as onnxruntime.InferenceSession does after loading."""

    def __init__(self, contract, reported=None):
        super().__init__(contract)
        self.reported = reported or {}

    def __call__(self, model_name):
        session = super().__call__(model_name)
        spec = self.contract.models[model_name]

        def args(tensors):
            batch = ["batch"] if spec.max_batch_size > 0 else []
            return [
                _Arg(t.name, self.reported.get((model_name, t.name), batch + [d if d != -1 else f"d{i}" for i, d in enumerate(t.dims)]))
                for t in tensors
            ]

        session.get_inputs = lambda: args(spec.inputs)
        session.get_outputs = lambda: args(spec.outputs)
        return session


def test_loaded_interfaces_that_match_the_configs_pass(contract):
    outputs = run_ensemble(contract, _images(), _ReportingSessions(contract))
    assert sorted(outputs) == ["match_confidences", "matches_kp0", "matches_kp1"]


def test_an_output_dim_fixed_by_onnxruntime_where_the_config_says_dynamic_fails_as_triton_would(contract):
    # Triton reads the session's interface (onnxruntime_backend src/onnxruntime.cc) and compares outputs exactly.
    sessions = _ReportingSessions(contract, reported={("dinov2", "features"): [1, 768, 30, 45]})
    with pytest.raises(ContractError) as info:
        run_ensemble(contract, _images(), sessions)
    assert "model 'dinov2' output 'features' (as ONNX Runtime loads it): dim 2 expected -1 (dynamic), ONNX has static 30" in str(info.value)
    assert info.value.exit_code == 6


def test_a_dynamic_input_dim_where_the_config_is_fixed_is_accepted_as_triton_does(contract):
    # Inputs are compared loosely (compare_exact=false): a dynamic ONNX dim takes any config dim.
    sessions = _ReportingSessions(contract, reported={("superpoint_keypoints", "descriptors_raw"): [1, "h", "w", "c"]})
    assert sorted(run_ensemble(contract, _images(), sessions)) == ["match_confidences", "matches_kp0", "matches_kp1"]
