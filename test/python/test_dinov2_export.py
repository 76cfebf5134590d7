"""DINOv2 export, exercised on a tiny random-weight stand-in of ViT-B/14.

The stand-in is the production DinoV2Features class with small dims (32-d,
2 blocks, a 5x5 position grid); only the size differs from ViT-B/14.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

import ort_node
from omniglue_conversion.errors import ExportError
from omniglue_conversion.export_dinov2 import DinoV2Features, export_features_model, load_dinov2_vitb14
from small_dinov2 import small_dinov2

SIZES = [(70, 70), (56, 98), (112, 42), (28, 28)]


@pytest.fixture(scope="module")
def stand_in() -> DinoV2Features:
    return small_dinov2(depth=2, heads=2)


@pytest.fixture(scope="module")
def exported(stand_in, tmp_path_factory):
    return export_features_model(stand_in, tmp_path_factory.mktemp("dino") / "dinov2.onnx", sample_hw=(56, 84))


def _reference_position_embedding(model, height, width):
    """DINOv2's interpolate_pos_encoding as the OmniGlue reference ships it."""
    pos = model.pos_embed
    n, dim = pos.shape[1] - 1, pos.shape[-1]
    rows, cols = height // 14, width // 14
    if rows * cols == n and height == width:
        return pos
    side = int(math.sqrt(n))
    grid = pos[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=((rows + 0.1) / side, (cols + 0.1) / side), mode="bicubic")
    return torch.cat((pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, dim)), dim=1)


@pytest.mark.parametrize("height,width", SIZES)
def test_position_embedding_matches_the_reference_interpolation(stand_in, height, width):
    pixels = torch.zeros(1, 3, height, width)
    torch.testing.assert_close(stand_in.position_embedding(pixels), _reference_position_embedding(stand_in, height, width))


def test_features_are_the_patch_grid(stand_in):
    with torch.no_grad():
        assert stand_in(torch.randn(1, 3, 56, 98)).shape == (1, 32, 4, 7)


def test_export_has_dynamic_height_and_width(exported):
    model = onnx.load(str(exported))
    onnx.checker.check_model(model)
    dims = lambda info: [d.dim_value or d.dim_param for d in info.type.tensor_type.shape.dim]  # noqa: E731
    assert [i.name for i in model.graph.input] == ["pixel_values"]
    assert dims(model.graph.input[0]) == [1, 3, "height", "width"]
    assert dims(model.graph.output[0]) == [1, 32, "grid_height", "grid_width"]
    assert model.opset_import[0].version == 17


def test_position_grid_resize_scales_come_from_the_input_shape(exported):
    graph = onnx.load(str(exported)).graph
    constants = {i.name for i in graph.initializer} | {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    resizes = [n for n in graph.node if n.op_type == "Resize"]
    assert len(resizes) == 1
    (resize,) = resizes
    assert resize.input[2] not in constants  # traced floats would make this a constant
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in resize.attribute}
    assert attrs["mode"] == b"cubic" and attrs["coordinate_transformation_mode"] == b"half_pixel"
    assert attrs["cubic_coeff_a"] == pytest.approx(-0.75)


def test_state_dict_of_another_layout_is_refused(tmp_path):
    path = tmp_path / "wrong.pth"
    torch.save({"patch_embed.proj.weight": torch.zeros(1)}, path)
    with pytest.raises(ExportError, match="does not fit ViT-B/14 without registers"):
        load_dinov2_vitb14(path)


def test_parameter_names_follow_the_dinov2_checkpoint(stand_in):
    names = set(stand_in.state_dict())
    assert {"cls_token", "pos_embed", "mask_token", "patch_embed.proj.weight", "norm.weight"} <= names
    assert {"blocks.1.attn.qkv.weight", "blocks.1.ls1.gamma", "blocks.1.mlp.fc2.bias", "blocks.1.ls2.gamma"} <= names


@ort_node.needs_ort
def test_exported_graph_matches_eager_at_several_sizes(stand_in, exported):
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((1, 3, h, w)).astype(np.float32) for h, w in SIZES]
    results = ort_node.run_models([(exported, {"pixel_values": x}) for x in inputs])
    for x, result in zip(inputs, results):
        with torch.no_grad():
            expected = stand_in(torch.from_numpy(x)).numpy()
        assert result["features"].shape == expected.shape
        np.testing.assert_allclose(result["features"], expected, atol=1e-4)
