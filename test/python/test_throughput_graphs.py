"""Throughput mode's graphs: the fixed dinov2_preprocess, the DINOv2 export for a batching contract, the stand-ins.

Every graph runs in onnxruntime-node (ort_node.py), all runs of this module in one node process.
"""

from __future__ import annotations

import dataclasses
import io
import re
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

import ort_node
from conftest import REPO_ROOT
from cv2_reference import dinov2_input
from small_dinov2 import small_dinov2
from omniglue_conversion.contract import check_onnx_model, validate_models
from omniglue_conversion.errors import ExportError
from omniglue_conversion import export_dinov2 as export_dinov2_module
from omniglue_conversion.export_dinov2 import export_for_contract
from omniglue_conversion.glue_graphs import build_glue_model
from omniglue_conversion.logs import StageLogger
from omniglue_conversion.pipeline import _default_export
from omniglue_conversion.serving import dinov2_size
from omniglue_conversion.throughput import ThroughputMode, apply_to_contract
from omniglue_conversion.weights import FetchedWeight

sys.path.insert(0, str(REPO_ROOT / "test" / "support"))
from build_onnx_fixtures import build_throughput_fixtures  # noqa: E402
from stand_in_networks import build_stand_in  # noqa: E402

pytestmark = ort_node.needs_ort

FIXED = (640, 480)  # (width, height)
# (height, width) of the images fed to the fixed graphs: exactly the size, portrait, tiny, larger, and odd sides.
IMAGE_SIZES = [(480, 640), (600, 337), (17, 23), (1333, 1000), (481, 639)]
OTHER_FIXED = (320, 1040)  # a portrait configured size above DINOv2's cap: 1040 -> 630, 320 -> 193 -> 182
# A small throughput mode for the export: DINOv2's input 42 x 70 (a 3 x 5 grid), batches of up to 4.
EXPORT_MODE = ThroughputMode(70, 42, 4)
EXPORT_BATCH = 3
STAND_IN_HW = (42, 56)


def _image(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _dims(info: onnx.ValueInfoProto) -> list:
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in info.type.tensor_type.shape.dim]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("throughput-graphs")
    paths = {}
    for label, size in (("default", None), ("fixed", FIXED), ("other", OTHER_FIXED)):
        paths[label] = directory / f"{label}-dinov2_preprocess.onnx"
        onnx.save(build_glue_model("dinov2_preprocess", fixed_image_size=size), str(paths[label]))
    return paths


@pytest.fixture(scope="module")
def vit_b_width_dinov2():
    """768 channels, the contract's `features` width, in one single-head block."""
    return small_dinov2(depth=1, heads=1, dim=768)


@pytest.fixture(scope="module")
def exports(contract, vit_b_width_dinov2, tmp_path_factory):
    """The small DINOv2 exported for the default contract and for EXPORT_MODE's: {"default"|"throughput": (spec, path)}.
    The throughput export goes through the Job's own export step (pipeline._default_export), with the small
    model in place of the downloaded ViT-B/14."""
    directory = tmp_path_factory.mktemp("dinov2-exports")
    log = StageLogger(io.StringIO())
    default_spec, throughput_spec = contract.models["dinov2"], apply_to_contract(contract, EXPORT_MODE).models["dinov2"]
    default = export_for_contract(vit_b_width_dinov2, default_spec, directory / "default.onnx", log, sample_hw=(56, 84))
    weight = FetchedWeight("dinov2", "file:///small.pth", directory / "small.pth", "0" * 64, 0, True, False)
    trace = export_dinov2_module.export_features_model
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(export_dinov2_module, "load_dinov2_vitb14", lambda path: vit_b_width_dinov2)
        # The sample size only seeds the trace (the graph's H and W are dynamic); a small one keeps this fast.
        patch.setattr(export_dinov2_module, "export_features_model", lambda model, output, *, sample_hw, batch_axis: trace(
            model, output, sample_hw=(56, 84), batch_axis=batch_axis,
        ))
        throughput = _default_export("dinov2")(weight, throughput_spec, directory / "throughput", log)
    return {"default": (default_spec, default), "throughput": (throughput_spec, throughput)}


@pytest.fixture(scope="module")
def outputs(graphs, exports, tmp_path_factory):
    """Every run of this module, done once: {key: outputs}."""
    directory = tmp_path_factory.mktemp("throughput-runs")
    runs: dict[tuple, tuple] = {}
    for index, (height, width) in enumerate(IMAGE_SIZES):
        image = _image(height, width, index)
        for label in ("fixed", "other"):
            runs[label, height, width] = (graphs[label], {"image": image})
        if (height, width) == FIXED[::-1]:
            runs["default", height, width] = (graphs["default"], {"image": image})

    dino_h, dino_w = EXPORT_MODE.dinov2_hw
    pixels = np.random.default_rng(7).standard_normal((EXPORT_BATCH, 3, dino_h, dino_w)).astype(np.float32)
    exported = exports["throughput"][1]
    runs["dinov2", "batch"] = (exported, {"pixel_values": pixels})
    for i in range(EXPORT_BATCH):
        runs["dinov2", i] = (exported, {"pixel_values": pixels[i:i + 1]})

    batched, default = directory / "dinov2-batched.onnx", directory / "dinov2-default.onnx"
    onnx.save(build_stand_in("dinov2", throughput_hw=STAND_IN_HW), str(batched))
    onnx.save(build_stand_in("dinov2"), str(default))
    values = np.random.default_rng(11).random((3, 3, *STAND_IN_HW), dtype=np.float32)
    runs["stand-in", "batch"] = (batched, {"pixel_values": values})
    for i in range(3):
        runs["stand-in", "batched", i] = (batched, {"pixel_values": values[i:i + 1]})
        runs["stand-in", "default", i] = (default, {"pixel_values": values[i:i + 1]})

    keys = list(runs)
    results = ort_node.run_models([runs[k] for k in keys])
    return {"results": dict(zip(keys, results)), "pixels": pixels}


# --- dinov2_preprocess --------------------------------------------------------------------------------------

def test_an_image_of_the_configured_size_gives_bit_for_bit_the_default_graphs_output(outputs):
    results = outputs["results"]
    height, width = FIXED[::-1]
    fixed, default = results["fixed", height, width]["pixel_values"], results["default", height, width]["pixel_values"]
    assert fixed.shape == default.shape == (1, 3, 462, 630)
    assert fixed.tobytes() == default.tobytes()


@pytest.mark.parametrize("label,size", [("fixed", FIXED), ("other", OTHER_FIXED)])
@pytest.mark.parametrize("height,width", IMAGE_SIZES)
def test_fixed_dinov2_preprocess_is_cv2_resize_to_the_references_size_for_the_configured_one(outputs, label, size, height, width):
    out = outputs["results"][label, height, width]["pixel_values"]
    image = _image(height, width, IMAGE_SIZES.index((height, width)))
    dino_h, dino_w = dinov2_size(size[1], size[0])
    np.testing.assert_array_equal(out, dinov2_input(image, dino_h, dino_w))


def test_the_references_dinov2_rule_applied_to_the_configured_sizes():
    # dino_extract.py DINOExtract._resize_input_image: longer side capped at 630 (int(630 * short / long)), multiples of 14.
    assert dinov2_size(480, 640) == (462, 630)
    assert dinov2_size(1040, 320) == (630, 182)
    assert dinov2_size(14, 630) == (14, 630) and dinov2_size(20, 900) == (14, 630)  # 45:1, the ratio the mode allows


def test_the_fixed_graph_declares_static_output_dims_and_superpoint_preprocess_has_no_fixed_variant(graphs):
    dinov2 = onnx.load(str(graphs["fixed"])).graph
    assert [(o.name, _dims(o)) for o in dinov2.output] == [("pixel_values", [1, 3, 462, 630])]
    assert _dims(dinov2.input[0]) == ["height", "width", 3]
    assert _dims(onnx.load(str(graphs["other"])).graph.output[0]) == [1, 3, 630, 182]
    # SuperPoint keeps every image's size in throughput mode (throughput.py): the size changes nothing there.
    assert build_glue_model("superpoint_preprocess", fixed_image_size=FIXED) == build_glue_model("superpoint_preprocess")


def test_a_fixed_size_without_a_dinov2_patch_per_side_is_refused_by_the_builder():
    with pytest.raises(ValueError, match=re.escape("a fixed image size must give DINOv2 at least one 14 px patch per side, 1000x20 gives 630x0")):
        build_glue_model("dinov2_preprocess", fixed_image_size=(1000, 20))
    with pytest.raises(ValueError, match=re.escape("0x480 gives 0x0")):
        build_glue_model("dinov2_preprocess", fixed_image_size=(0, 480))


def test_glue_graphs_cli_builds_the_fixed_variant_and_refuses_a_bad_size(tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "omniglue_conversion.glue_graphs", "--out", str(tmp_path), *args],
            cwd=REPO_ROOT / "scripts", capture_output=True, text=True, timeout=60,
        )

    assert run("--fixed-image-size", "640x480").returncode == 0
    graph = onnx.load(str(tmp_path / "dinov2_preprocess" / "1" / "model.onnx")).graph
    assert _dims(graph.output[0]) == [1, 3, 462, 630]
    for name in ("superpoint_preprocess", "superpoint_keypoints"):  # the other glue models do not depend on the size
        assert onnx.load(str(tmp_path / name / "1" / "model.onnx")) == build_glue_model(name), name
    refused = run("--fixed-image-size", "13x480")
    assert refused.returncode == 2
    assert "--fixed-image-size 13x480: width and height must each be from 14 to 4096 pixels" in refused.stderr
    assert "--fixed-image-size 20x901: the aspect ratio (longer side / shorter side) must be at most 45:1" in run(
        "--fixed-image-size", "20x901"
    ).stderr
    assert "--fixed-image-size must be WIDTHxHEIGHT" in run("--fixed-image-size", "640").stderr


# --- the DINOv2 export ----------------------------------------------------------------------------------------

def test_dinov2_exported_for_either_contract_passes_tritons_exact_output_check(exports):
    for label, (spec, path) in exports.items():
        assert check_onnx_model(spec, onnx.load(str(path))) == [], label
    throughput = onnx.load(str(exports["throughput"][1])).graph
    (pixel_values,), (features,) = throughput.input, throughput.output
    assert isinstance(_dims(pixel_values)[0], str) and _dims(pixel_values)[1:] == [3, 42, 70]
    assert isinstance(_dims(features)[0], str) and _dims(features)[1:] == [768, 3, 5]
    default = onnx.load(str(exports["default"][1])).graph
    assert [d for d in _dims(default.output[0]) if not isinstance(d, str)] == [1, 768]


def test_dinov2_exported_for_a_batching_contract_gives_each_image_its_own_result(outputs, vit_b_width_dinov2):
    results = outputs["results"]
    batch = results["dinov2", "batch"]["features"]
    assert batch.shape == (EXPORT_BATCH, 768, 3, 5)
    for i in range(EXPORT_BATCH):
        alone = results["dinov2", i]["features"]
        assert alone.shape == (1, 768, 3, 5)
        np.testing.assert_allclose(batch[i:i + 1], alone, rtol=0, atol=1e-5, err_msg=f"image {i}")
        with torch.no_grad():
            eager = vit_b_width_dinov2(torch.from_numpy(outputs["pixels"][i:i + 1])).numpy()
        np.testing.assert_allclose(alone, eager, rtol=0, atol=1e-4, err_msg=f"image {i}")


def test_an_export_that_contradicts_the_contract_fails_naming_the_tensor(contract, tmp_path, log):
    narrow = small_dinov2(depth=1, heads=1)  # 32 channels where the contract says 768
    with pytest.raises(ExportError, match=re.escape("tensor 'features' dim 1 is 32 in the converted graph, the contract expects 768")):
        export_for_contract(narrow, contract.models["dinov2"], tmp_path / "dinov2.onnx", log, sample_hw=(28, 42))


# --- stand-ins and the fixtures the TypeScript tests read -----------------------------------------------------

def test_the_batching_dinov2_stand_in_gives_each_image_the_default_stand_ins_result(outputs):
    results = outputs["results"]
    batched = results["stand-in", "batch"]["features"]
    assert batched.shape == (3, 768, 3, 4)
    for i in range(3):
        default = results["stand-in", "default", i]["features"]
        # Not bit for bit: with static dims ONNX Runtime may pick other kernels, so the last float bit can differ.
        np.testing.assert_allclose(results["stand-in", "batched", i]["features"], default, rtol=0, atol=1e-5, err_msg=f"alone, image {i}")
        np.testing.assert_allclose(batched[i:i + 1], default, rtol=0, atol=1e-5, err_msg=f"image {i}")


def test_the_batching_dinov2_stand_in_declares_a_symbolic_batch_and_static_spatial_dims():
    graph = build_stand_in("dinov2", throughput_hw=(462, 630)).graph
    assert _dims(graph.input[0]) == ["batch", 3, 462, 630]
    assert _dims(graph.output[0]) == ["batch", 768, 33, 45]
    initializers = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    for node in graph.node:
        if node.op_type == "Reshape":  # a batch of one hard-coded in a target shape would break batching
            shape = node.input[1]
            if shape not in initializers:  # built at run time: its leading part is the constant
                assert producers[shape].op_type == "Concat", node.name
                shape = producers[shape].input[0]
            assert initializers[shape][0] == 0, node.name


@pytest.mark.parametrize("name,hw,message", [
    ("superpoint", (462, 630), "only dinov2 batches in throughput mode; 'superpoint' has no batching variant"),
    ("omniglue", (462, 630), "only dinov2 batches in throughput mode; 'omniglue' has no batching variant"),
    ("dinov2", (460, 630), "DINOv2's input must be positive multiples of 14 px, got 460x630"),
])
def test_a_stand_in_without_a_batching_variant_or_with_a_bad_size_is_refused(name, hw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build_stand_in(name, throughput_hw=hw)


def test_the_default_stand_ins_pass_the_exact_check(contract):
    for name in ("superpoint", "dinov2", "omniglue"):
        assert check_onnx_model(contract.models[name], build_stand_in(name)) == [], name


def test_the_throughput_fixtures_validate_against_the_throughput_contract(contract, tmp_path):
    fixed = apply_to_contract(contract, ThroughputMode(*FIXED))
    paths = build_throughput_fixtures(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths.values()) == [
        "dinov2/1/model.onnx", "dinov2_preprocess/1/model.onnx",
    ]
    only_these = {name: fixed.models[name] for name in (fixed.ensemble, *paths)}
    validate_models(dataclasses.replace(fixed, models=only_these), paths)
