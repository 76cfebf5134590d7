from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from omniglue_conversion.contract import ModelSpec, TensorSpec, check_onnx_model
from omniglue_conversion.errors import ExportError
from omniglue_conversion.onnx_io import prune_outputs, rename_interface, set_interface_dims

SPEC = ModelSpec(
    name="superpoint",
    platform="onnxruntime_onnx",
    max_batch_size=0,
    inputs=(TensorSpec("image", "TYPE_FP32", (1, -1, -1, 1)),),
    outputs=(TensorSpec("prob_nms", "TYPE_FP32", (1, -1, -1)), TensorSpec("descriptors_raw", "TYPE_FP32", (1, -1, -1, 256))),
)


def _tf2onnx_like() -> onnx.ModelProto:
    """Interface spelled the way tf2onnx spells a TF1 graph, plus an output the ensemble drops."""
    x = helper.make_tensor_value_info("superpoint/image:0", TensorProto.FLOAT, ["unk__1", "unk__2", "unk__3", 1])
    outs = [
        helper.make_tensor_value_info("superpoint/prob_nms:0", TensorProto.FLOAT, ["unk__4", "unk__5", "unk__6"]),
        helper.make_tensor_value_info("descriptors_raw:0", TensorProto.FLOAT, None),
        helper.make_tensor_value_info("superpoint/descriptors:0", TensorProto.FLOAT, None),
    ]
    scale = helper.make_tensor("scale", TensorProto.FLOAT, [1], [2.0])
    nodes = [
        helper.make_node("ReduceMax", ["superpoint/image:0"], ["prob_nms_internal"], axes=[3], keepdims=0),
        helper.make_node("Identity", ["prob_nms_internal"], ["superpoint/prob_nms:0"]),
        helper.make_node("Tile", ["superpoint/image:0", "reps"], ["descriptors_raw:0"]),
        helper.make_node("Mul", ["descriptors_raw:0", "scale"], ["superpoint/descriptors:0"]),
    ]
    reps = helper.make_tensor("reps", TensorProto.INT64, [4], [1, 1, 1, 256])
    graph = helper.make_graph(nodes, "sp", [x], outs, initializer=[scale, reps])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_converted_interface_is_renamed_pruned_and_given_contract_dims():
    model = _tf2onnx_like()
    renamed = rename_interface(model, ["image"], ["prob_nms", "descriptors_raw"])
    assert renamed == {
        "superpoint/image:0": "image",
        "superpoint/prob_nms:0": "prob_nms",
        "descriptors_raw:0": "descriptors_raw",
    }
    assert prune_outputs(model, ["prob_nms", "descriptors_raw"]) == ["superpoint/descriptors:0"]
    assert [n.op_type for n in model.graph.node] == ["ReduceMax", "Identity", "Tile"]
    assert [t.name for t in model.graph.initializer] == ["reps"]
    set_interface_dims(model, {t.name: t.dims for t in SPEC.inputs + SPEC.outputs})
    onnx.checker.check_model(model)
    assert check_onnx_model(SPEC, model) == []
    dims = [d.dim_value or d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, "image_dim1", "image_dim2", 1]


def test_missing_contract_tensor_is_reported_with_what_exists():
    with pytest.raises(ExportError, match=r"graph output for contract tensor 'scores': no match among"):
        rename_interface(_tf2onnx_like(), ["image"], ["scores"])


def test_static_dim_conflicting_with_the_contract_is_refused():
    model = _tf2onnx_like()
    rename_interface(model, ["image"], ["prob_nms", "descriptors_raw"])
    with pytest.raises(ExportError, match="'image' dim 3 is 1 in the converted graph, the contract expects 3"):
        set_interface_dims(model, {"image": (1, -1, -1, 3)})
