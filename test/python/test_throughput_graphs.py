"""Throughput mode's graphs: the fixed preprocessing variants, the batch-axis DINOv2 export and stand-ins.

Every graph runs in onnxruntime-node (ort_node.py), all runs of this module in one node process.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

import ort_node
from conftest import REPO_ROOT
from cv2_reference import dinov2_input, superpoint_input
from small_dinov2 import small_dinov2
from omniglue_conversion.export_dinov2 import export_features_model
from omniglue_conversion.glue_graphs import build_glue_model
from omniglue_conversion.serving import dinov2_size

sys.path.insert(0, str(REPO_ROOT / "test" / "support"))
from stand_in_networks import build_stand_in  # noqa: E402

pytestmark = ort_node.needs_ort

FIXED = (640, 480)  # (width, height)
# (height, width) of the images fed to the fixed graphs: exactly the size, portrait, tiny, larger, and odd sides.
IMAGE_SIZES = [(480, 640), (600, 337), (17, 23), (1333, 1000), (481, 639)]
OTHER_FIXED = (320, 1040)  # a portrait configured size above DINOv2's cap: 1040 -> 630, 320 -> 193 -> 182


def _image(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _dims(info: onnx.ValueInfoProto) -> list:
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in info.type.tensor_type.shape.dim]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("throughput-graphs")
    paths = {}
    for label, size in (("default", None), ("fixed", FIXED), ("other", OTHER_FIXED)):
        for name in ("superpoint_preprocess", "dinov2_preprocess"):
            paths[label, name] = directory / f"{label}-{name}.onnx"
            onnx.save(build_glue_model(name, fixed_image_size=size), str(paths[label, name]))
    return paths


@pytest.fixture(scope="module")
def tiny_dinov2():
    return small_dinov2(depth=1, heads=1)


@pytest.fixture(scope="module")
def outputs(graphs, tiny_dinov2, tmp_path_factory):
    """Every run of this module, done once: {key: outputs}."""
    directory = tmp_path_factory.mktemp("throughput-runs")
    runs: dict[tuple, tuple] = {}
    for index, (height, width) in enumerate(IMAGE_SIZES):
        image = _image(height, width, index)
        for name in ("superpoint_preprocess", "dinov2_preprocess"):
            runs["fixed", name, height, width] = (graphs["fixed", name], {"image": image})
            runs["other", name, height, width] = (graphs["other", name], {"image": image})
        if (height, width) == FIXED[::-1]:
            for name in ("superpoint_preprocess", "dinov2_preprocess"):
                runs["default", name, height, width] = (graphs["default", name], {"image": image})

    exported = export_features_model(tiny_dinov2, directory / "dinov2.onnx", sample_hw=(56, 84), batch_axis=True)
    pixels = np.random.default_rng(7).standard_normal((2, 3, 42, 70)).astype(np.float32)
    runs["dinov2", "batch"] = (exported, {"pixel_values": pixels})
    for i in range(2):
        runs["dinov2", i] = (exported, {"pixel_values": pixels[i:i + 1]})

    for name, feed, shape in (("superpoint", "image", (3, 48, 64, 1)), ("dinov2", "pixel_values", (3, 3, 42, 56))):
        batched, default = directory / f"{name}-batched.onnx", directory / f"{name}-default.onnx"
        onnx.save(build_stand_in(name, batch_axis=True), str(batched))
        onnx.save(build_stand_in(name), str(default))
        values = np.random.default_rng(11).random(shape, dtype=np.float32)
        runs["stand-in", name, "batch"] = (batched, {feed: values})
        for i in range(shape[0]):
            runs["stand-in", name, "batched", i] = (batched, {feed: values[i:i + 1]})
            runs["stand-in", name, "default", i] = (default, {feed: values[i:i + 1]})

    keys = list(runs)
    results = ort_node.run_models([runs[k] for k in keys])
    return {"results": dict(zip(keys, results)), "exported": exported, "pixels": pixels}


def test_an_image_of_the_configured_size_gives_bit_for_bit_the_default_graphs_outputs(outputs):
    results = outputs["results"]
    height, width = FIXED[::-1]
    for name in ("superpoint_preprocess", "dinov2_preprocess"):
        fixed, default = results["fixed", name, height, width], results["default", name, height, width]
        assert sorted(fixed) == sorted(default)
        for tensor in fixed:
            assert fixed[tensor].shape == default[tensor].shape, (name, tensor)
            assert fixed[tensor].tobytes() == default[tensor].tobytes(), (name, tensor)


@pytest.mark.parametrize("label,size", [("fixed", FIXED), ("other", OTHER_FIXED)])
@pytest.mark.parametrize("height,width", IMAGE_SIZES)
def test_fixed_superpoint_preprocess_is_cv2_resize_to_the_size_and_keeps_the_original_size(outputs, label, size, height, width):
    out = outputs["results"][label, "superpoint_preprocess", height, width]
    image = _image(height, width, IMAGE_SIZES.index((height, width)))
    fixed_w, fixed_h = size
    np.testing.assert_array_equal(out["image_gray"], superpoint_input(image, fixed_h, fixed_w))
    assert out["width"].tolist() == [width] and out["height"].tolist() == [height]


@pytest.mark.parametrize("label,size", [("fixed", FIXED), ("other", OTHER_FIXED)])
@pytest.mark.parametrize("height,width", IMAGE_SIZES)
def test_fixed_dinov2_preprocess_is_cv2_resize_to_the_references_size_for_the_configured_one(outputs, label, size, height, width):
    out = outputs["results"][label, "dinov2_preprocess", height, width]["pixel_values"]
    image = _image(height, width, IMAGE_SIZES.index((height, width)))
    dino_h, dino_w = dinov2_size(size[1], size[0])
    np.testing.assert_array_equal(out, dinov2_input(image, dino_h, dino_w))


def test_the_references_dinov2_rule_applied_to_the_configured_sizes():
    # dino_extract.py DINOExtract._resize_input_image: longer side capped at 630 (int(630 * short / long)), multiples of 14.
    assert dinov2_size(480, 640) == (462, 630)
    assert dinov2_size(1040, 320) == (630, 182)
    assert dinov2_size(16, 16) == (14, 14)


def test_fixed_graphs_declare_static_output_dims(graphs):
    superpoint = onnx.load(str(graphs["fixed", "superpoint_preprocess"])).graph
    assert [(o.name, _dims(o)) for o in superpoint.output] == [("image_gray", [1, 480, 640, 1]), ("width", [1]), ("height", [1])]
    assert _dims(superpoint.input[0]) == ["height", "width", 3]
    dinov2 = onnx.load(str(graphs["fixed", "dinov2_preprocess"])).graph
    assert [(o.name, _dims(o)) for o in dinov2.output] == [("pixel_values", [1, 3, 462, 630])]
    other = onnx.load(str(graphs["other", "dinov2_preprocess"])).graph
    assert _dims(other.output[0]) == [1, 3, 630, 182]


def test_glue_graphs_cli_builds_the_fixed_variants_and_refuses_a_bad_size(tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "omniglue_conversion.glue_graphs", "--out", str(tmp_path), *args],
            cwd=REPO_ROOT / "scripts", capture_output=True, text=True, timeout=60,
        )

    assert run("--fixed-image-size", "640x480").returncode == 0
    graph = onnx.load(str(tmp_path / "superpoint_preprocess" / "1" / "model.onnx")).graph
    assert _dims(graph.output[0]) == [1, 480, 640, 1]
    keypoints = onnx.load(str(tmp_path / "superpoint_keypoints" / "1" / "model.onnx"))
    assert keypoints == build_glue_model("superpoint_keypoints")  # the other glue models do not depend on the size
    refused = run("--fixed-image-size", "642x480")
    assert refused.returncode == 2
    assert "--fixed-image-size 642x480: width and height must each be a multiple of 8" in refused.stderr
    assert "--fixed-image-size must be WIDTHxHEIGHT" in run("--fixed-image-size", "640").stderr


def test_dinov2_exported_with_a_batch_axis_gives_each_image_its_own_result(outputs, tiny_dinov2):
    graph = onnx.load(str(outputs["exported"])).graph
    assert _dims(graph.input[0]) == ["batch", 3, "height", "width"]
    assert _dims(graph.output[0]) == ["batch", 32, "grid_height", "grid_width"]
    results = outputs["results"]
    batch = results["dinov2", "batch"]["features"]
    assert batch.shape == (2, 32, 3, 5)
    for i in range(2):
        np.testing.assert_allclose(batch[i:i + 1], results["dinov2", i]["features"], rtol=0, atol=1e-5)
        with torch.no_grad():
            eager = tiny_dinov2(torch.from_numpy(outputs["pixels"][i:i + 1])).numpy()
        np.testing.assert_allclose(results["dinov2", i]["features"], eager, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name,batch", [("superpoint", 3), ("dinov2", 3)])
def test_batch_axis_stand_ins_give_each_image_the_default_stand_ins_result(outputs, name, batch):
    results = outputs["results"]
    batched = results["stand-in", name, "batch"]
    for i in range(batch):
        default = results["stand-in", name, "default", i]
        alone = results["stand-in", name, "batched", i]
        for tensor, value in default.items():
            assert alone[tensor].tobytes() == value.tobytes(), (name, tensor, "batch of one")
            np.testing.assert_allclose(batched[tensor][i:i + 1], value, rtol=0, atol=1e-5, err_msg=f"{name} {tensor} image {i}")


def test_batch_axis_stand_ins_declare_a_symbolic_batch_dim_and_only_the_networks_batch():
    superpoint = build_stand_in("superpoint", batch_axis=True).graph
    assert _dims(superpoint.input[0])[0] == "batch"
    assert [_dims(o)[0] for o in superpoint.output] == ["batch", "batch"]
    dinov2 = build_stand_in("dinov2", batch_axis=True).graph
    assert _dims(dinov2.input[0])[0] == "batch" and _dims(dinov2.output[0])[0] == "batch"
    for graph in (superpoint, dinov2):
        initializers = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
        producers = {o: n for n in graph.node for o in n.output}
        for node in graph.node:
            if node.op_type == "Reshape":  # a batch of one hard-coded in a target shape would break batching
                shape = node.input[1]
                if shape not in initializers:  # built at run time: its leading part is the constant
                    assert producers[shape].op_type == "Concat", node.name
                    shape = producers[shape].input[0]
                assert initializers[shape][0] == 0, node.name
            if node.op_type == "Squeeze":
                assert initializers[node.input[1]].tolist() == [1], node.name  # the channel axis, not the batch
    with pytest.raises(ValueError, match="only superpoint, dinov2 batch; 'omniglue' has no batch axis"):
        build_stand_in("omniglue", batch_axis=True)
