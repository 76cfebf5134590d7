from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from conftest import make_onnx_model, write_models
from omniglue_conversion.contract import (
    ModelSpec,
    TensorSpec,
    check_onnx_model,
    parse_contract,
    validate_models,
)
from omniglue_conversion.errors import ContractError

SPEC = ModelSpec(
    name="superpoint",
    platform="onnxruntime_onnx",
    max_batch_size=0,
    inputs=(TensorSpec("image", "TYPE_FP32", (1, -1, -1, 1)),),
    outputs=(
        TensorSpec("prob_nms", "TYPE_FP32", (1, -1, -1)),
        TensorSpec("descriptors_raw", "TYPE_FP32", (1, -1, -1, 256)),
    ),
)


def _model(inputs, outputs) -> onnx.ModelProto:
    nodes = [helper.make_node("Identity", [inputs[0].name], [o.name]) for o in outputs]
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def test_matching_model_passes():
    model = _model(
        [_vi("image", TensorProto.FLOAT, [1, "h", "w", 1])],
        [_vi("prob_nms", TensorProto.FLOAT, [1, "h", "w"]), _vi("descriptors_raw", TensorProto.FLOAT, [1, "a", "b", 256])],
    )
    assert check_onnx_model(SPEC, model) == []


def test_a_dynamic_input_dim_where_the_contract_is_fixed_is_accepted_as_triton_does():
    # onnxruntime_backend src/onnxruntime.cc ValidateInputs: CompareDimsSupported(..., compare_exact=false),
    # which skips an ONNX dim of -1.
    model = _model(
        [_vi("image", TensorProto.FLOAT, ["n", "h", "w", None])],
        [_vi("prob_nms", TensorProto.FLOAT, [1, "h", "w"]), _vi("descriptors_raw", TensorProto.FLOAT, [1, "a", "b", 256])],
    )
    assert check_onnx_model(SPEC, model) == []


def test_output_dims_must_equal_the_contract_exactly_as_triton_compares_them():
    # ValidateOutputs: compare_exact=true, so a dynamic ONNX dim only matches a config -1.
    model = _model(
        [_vi("image", TensorProto.FLOAT, [1, "h", "w", 1])],
        [_vi("prob_nms", TensorProto.FLOAT, [None, "h", "w"]), _vi("descriptors_raw", TensorProto.FLOAT, [1, "a", "b", "d"])],
    )
    assert check_onnx_model(SPEC, model) == [
        "model 'superpoint' output 'prob_nms': dim 0 expected 1, ONNX has a dynamic dim (Triton compares output dims exactly)",
        "model 'superpoint' output 'descriptors_raw': dim 3 expected 256, ONNX has a dynamic dim (Triton compares output dims exactly)",
    ]


def test_every_mismatch_is_listed_with_model_tensor_expected_and_actual():
    model = _model(
        [_vi("input_image", TensorProto.FLOAT, [1, "h", "w", 1])],
        [
            _vi("prob_nms", TensorProto.DOUBLE, [1, "h", "w"]),
            _vi("descriptors_raw", TensorProto.FLOAT, [1, "a", 256]),
        ],
    )
    problems = check_onnx_model(SPEC, model)
    text = "\n".join(problems)
    assert "inputs missing from ONNX: ['image']" in text
    assert "ONNX inputs not in the contract: ['input_image']" in text
    assert "model 'superpoint' output 'prob_nms': element type expected TYPE_FP32 (FLOAT), ONNX has DOUBLE" in text
    assert "model 'superpoint' output 'descriptors_raw': rank expected 4 [1, -1, -1, 256], ONNX has rank 3" in text
    assert len(problems) == 4


def test_static_dims_must_equal_the_contract_including_dynamic_ones():
    model = _model(
        [_vi("image", TensorProto.FLOAT, [1, 480, "w", 3])],
        [_vi("prob_nms", TensorProto.FLOAT, [1, "h", "w"]), _vi("descriptors_raw", TensorProto.FLOAT, [1, "a", "b", 128])],
    )
    problems = check_onnx_model(SPEC, model)
    assert "model 'superpoint' input 'image': dim 1 expected -1 (dynamic), ONNX has static 480" in problems
    assert "model 'superpoint' input 'image': dim 3 expected 1, ONNX has static 3" in problems
    assert "model 'superpoint' output 'descriptors_raw': dim 3 expected 256, ONNX has static 128" in problems


def test_batching_models_need_a_dynamic_leading_dim():
    spec = ModelSpec("m", "onnxruntime_onnx", 8, (TensorSpec("x", "TYPE_FP32", (3,)),), (TensorSpec("y", "TYPE_FP32", (3,)),))
    good = _model([_vi("x", TensorProto.FLOAT, ["b", 3])], [_vi("y", TensorProto.FLOAT, ["b", 3])])
    bad = _model([_vi("x", TensorProto.FLOAT, [1, 3])], [_vi("y", TensorProto.FLOAT, ["b", 3])])
    assert check_onnx_model(spec, good) == []
    assert check_onnx_model(spec, bad) == ["model 'm' input 'x': maxBatchSize 8 needs a dynamic leading batch dim, ONNX has [1, 3]"]
    bad_output = _model([_vi("x", TensorProto.FLOAT, ["b", 3])], [_vi("y", TensorProto.FLOAT, [1, 3])])
    assert check_onnx_model(spec, bad_output) == [
        "model 'm' output 'y': maxBatchSize 8 needs a dynamic leading batch dim, ONNX has [1, 3]"
    ]


def test_a_batching_models_output_after_the_batch_dim_is_compared_exactly():
    # The DINOv2 case of throughput mode: config features [768, 33, 45], full dims [-1, 768, 33, 45].
    spec = ModelSpec(
        "dinov2", "onnxruntime_onnx", 8,
        (TensorSpec("pixel_values", "TYPE_FP32", (3, 462, 630)),), (TensorSpec("features", "TYPE_FP32", (768, 33, 45)),),
    )
    loose = _model(
        [_vi("pixel_values", TensorProto.FLOAT, ["b", 3, "h", "w"])], [_vi("features", TensorProto.FLOAT, ["b", 768, "gh", "gw"])]
    )
    assert check_onnx_model(spec, loose) == [
        f"model 'dinov2' output 'features': dim {axis} expected {want}, ONNX has a dynamic dim (Triton compares output dims exactly)"
        for axis, want in ((1, 33), (2, 45))
    ]
    exact = _model(
        [_vi("pixel_values", TensorProto.FLOAT, ["b", 3, "h", "w"])], [_vi("features", TensorProto.FLOAT, ["b", 768, 33, 45])]
    )
    assert check_onnx_model(spec, exact) == []


def test_validate_models_raises_naming_every_model(tmp_path, contract):
    paths = write_models(contract, tmp_path)
    validate_models(contract, paths)

    broken = make_onnx_model(contract.models["dinov2"])
    broken.graph.output[0].name = "patch_tokens"
    broken.graph.node[0].output[0] = "patch_tokens"
    onnx.save(broken, str(paths["dinov2"]))
    del paths["superpoint"]
    with pytest.raises(ContractError) as info:
        validate_models(contract, paths)
    text = str(info.value)
    assert "model 'dinov2': outputs missing from ONNX: ['features']" in text
    assert "model 'superpoint': no ONNX file was produced for it" in text
    assert info.value.exit_code == 6


def test_malformed_contract_is_reported():
    with pytest.raises(ContractError, match="not a model contract"):
        parse_contract({"ensemble": "e", "models": {}}, "c.json")
    with pytest.raises(ContractError, match="ensemble 'e' is not among its models"):
        parse_contract({"ensemble": "e", "models": {}, "steps": []}, "c.json")


def test_glue_models_from_glue_graphs_satisfy_the_contract(tmp_path, contract):
    glue_graphs = pytest.importorskip("omniglue_conversion.glue_graphs")
    paths = glue_graphs.build_glue_models(tmp_path, keypoint_count=1024)
    assert sorted(paths) == sorted(n for n in contract.onnx_models if n not in ("superpoint", "dinov2", "omniglue"))
    for name, path in paths.items():
        assert check_onnx_model(contract.models[name], onnx.load(str(path))) == [], name


def test_a_keypoint_step_with_a_static_keypoint_count_is_refused(contract):
    glue_graphs = pytest.importorskip("omniglue_conversion.glue_graphs")
    model = glue_graphs.build_glue_model("superpoint_keypoints")
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[1].Clear()
        output.type.tensor_type.shape.dim[1].dim_value = 1024
    problems = check_onnx_model(contract.models["superpoint_keypoints"], model)
    assert "model 'superpoint_keypoints' output 'keypoints': dim 1 expected -1 (dynamic), ONNX has static 1024" in problems
    assert len(problems) == 3
