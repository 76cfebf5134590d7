"""The Job converts real TensorFlow SavedModels (random weights, upstream signatures) with tf2onnx at its own settings,
on its own pinned toolchain, and publishes models that compute what TensorFlow computes.

Tolerances: SuperPoint's prob_nms keeps exactly TensorFlow's keypoints (same non-zero positions) with values within
1e-4, and descriptors_raw is within 1e-4 (measured: 1e-5 to 2e-5, float32 convolutions summed in another order); the
matcher's soft_assignment is within a relative 1e-4 (measured: 1e-6 absolute at values up to ~500 in the dustbins).
"""

from __future__ import annotations

import importlib.metadata
import json
import re

import numpy as np
import onnxruntime
import pytest
import tensorflow as tf
from PIL import Image

from conftest import REPO_ROOT
from job_run import run_job
from omniglue_conversion.contract import session_interface_problems
from savedmodels import saved_model

SUPERPOINT_SIZES = [(64, 80), (120, 160), (320, 168), (480, 640)]  # (H, W), multiples of 8 as superpoint_preprocess makes
KEYPOINT_COUNTS = [(1, 1), (7, 5), (300, 200), (1024, 1024)]


def job_pins() -> dict[str, str]:
    text = (REPO_ROOT / "scripts" / "requirements-conversion.txt").read_text()
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.MULTILINE))


@pytest.fixture(scope="session")
def savedmodels():
    return {"superpoint": saved_model("superpoint"), "matcher": saved_model("matcher")}


@pytest.fixture(scope="session")
def job(tmp_path_factory, contract_path, savedmodels):
    return run_job(tmp_path_factory.mktemp("job"), contract_path, savedmodels["superpoint"], savedmodels["matcher"])


def _session(job, model: str) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(str(job.published / model / "1" / "model.onnx"), providers=["CPUExecutionProvider"])


def test_the_toolchain_is_the_jobs_pinned_one_wherever_pypi_serves_the_pin():
    pins = job_pins()
    served = {name: version for name, version in pins.items() if "+" not in version}
    assert set(pins) - set(served) == {"torch"}
    assert {name: importlib.metadata.version(name) for name in served} == served


def test_the_job_converts_validates_tries_and_publishes_both_savedmodels(job):
    assert job.code == 0, job.records[-1]
    stages = [(r["stage"], r.get("model")) for r in job.records if r["event"] == "ok"]
    assert ("export", "superpoint") in stages and ("export", "omniglue") in stages
    assert [s for s, _ in stages][-4:] == ["validate", "sample-inference", "publish", "job"]
    tools = json.loads((job.published / "manifest.json").read_text())["tools"]
    pins = job_pins()
    recorded = {"tensorflow": "tensorflow-cpu", "tf2onnx": "tf2onnx", "onnx": "onnx", "onnxruntime": "onnxruntime", "numpy": "numpy", "pillow": "pillow"}
    assert {tool: tools[tool] for tool in recorded} == {tool: pins[name] for tool, name in recorded.items()}
    assert tools["torch"].startswith("1.13.")  # Debian's, in place of torch==2.4.1+cpu (docs/conversion-toolchain.md)
    sample = next(r for r in job.records if r["stage"] == "sample-inference" and r["event"] == "ok")
    assert sample["matches_above_0_02"] >= 10


def test_the_published_graphs_are_pruned_to_the_contracts_interface(job, contract):
    for model in ("superpoint", "omniglue"):
        session = _session(job, model)
        assert session_interface_problems(contract.models[model], session) == []
    assert [o.name for o in _session(job, "superpoint").get_outputs()] == ["descriptors_raw", "prob_nms"]


@pytest.fixture(scope="module")
def superpoint_tf(savedmodels):
    """Loaded as google-research/omniglue's SuperPointExtract loads sp_v6 (superpoint_extract.py: a TF1 session,
    saved_model.loader.load with tag serve, tensors fetched by name)."""
    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph)
    with graph.as_default():
        tf.compat.v1.saved_model.loader.load(session, [tf.compat.v1.saved_model.tag_constants.SERVING], str(savedmodels["superpoint"]))
    fetch = {name: graph.get_tensor_by_name(f"superpoint/{name}:0") for name in ("prob_nms", "descriptors_raw")}
    image = graph.get_tensor_by_name("superpoint/image:0")
    yield lambda pixels: session.run(fetch, {image: pixels})
    session.close()


@pytest.mark.parametrize("height,width", SUPERPOINT_SIZES)
def test_superpoint_onnx_equals_tensorflow(job, superpoint_tf, height, width):
    gray = Image.open(REPO_ROOT / "assets" / "demo2.jpg").convert("L").resize((width, height), Image.BILINEAR)
    pixels = (np.asarray(gray, np.float32) / 255.0)[None, :, :, None]
    expected = superpoint_tf(pixels)
    got = dict(zip(["descriptors_raw", "prob_nms"], _session(job, "superpoint").run(["descriptors_raw", "prob_nms"], {"image": pixels})))
    assert got["prob_nms"].shape == (1, height, width)
    assert got["descriptors_raw"].shape == (1, height // 8, width // 8, 256)
    assert np.count_nonzero(expected["prob_nms"]) > 0
    np.testing.assert_array_equal(np.nonzero(got["prob_nms"]), np.nonzero(expected["prob_nms"]))
    np.testing.assert_allclose(got["prob_nms"], expected["prob_nms"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(got["descriptors_raw"], expected["descriptors_raw"], atol=1e-4, rtol=0)


def test_superpoint_onnx_finds_no_keypoint_where_tensorflow_finds_none(job, superpoint_tf):
    """No pixel above the NMS floor: the in-graph NMS runs on zero boxes (an empty NonMaxSuppression in ONNX)."""
    pixels = np.full((1, 8, 8, 1), 0.5, np.float32)
    assert np.count_nonzero(superpoint_tf(pixels)["prob_nms"]) == 0
    (prob_nms,) = _session(job, "superpoint").run(["prob_nms"], {"image": pixels})
    assert prob_nms.shape == (1, 8, 8) and np.count_nonzero(prob_nms) == 0


def _matcher_feeds(n: int, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    feeds = {}
    for i, count, (width, height) in ((0, n, (640, 480)), (1, m, (1000, 664))):
        feeds[f"keypoints{i}"] = (rng.random((1, count, 2)) * [width, height]).astype(np.float32)
        descriptors = rng.normal(size=(1, count, 256))
        feeds[f"descriptors{i}"] = (descriptors / np.linalg.norm(descriptors, axis=-1, keepdims=True)).astype(np.float32)
        feeds[f"scores{i}"] = rng.random((1, count, 1)).astype(np.float32)
        feeds[f"descriptors{i}_dino"] = rng.normal(size=(1, count, 768)).astype(np.float32)
        feeds[f"width{i}"], feeds[f"height{i}"] = np.array([width], np.int32), np.array([height], np.int32)
    return feeds


@pytest.fixture(scope="module")
def matcher_tf(savedmodels):
    """Loaded and called as google-research/omniglue calls og_export (omniglue_extract.py, OmniGlue.__init__ and
    FindMatches: tf.saved_model.load, signatures['serving_default'](**inputs)['soft_assignment'])."""
    signature = tf.saved_model.load(str(savedmodels["matcher"])).signatures["serving_default"]
    return lambda feeds: signature(**{k: tf.convert_to_tensor(v) for k, v in feeds.items()})["soft_assignment"].numpy()


@pytest.mark.parametrize("n,m", KEYPOINT_COUNTS)
def test_matcher_onnx_equals_tensorflow(job, matcher_tf, n, m):
    feeds = _matcher_feeds(n, m, np.random.default_rng(n * 7919 + m))
    expected = matcher_tf(feeds)
    (got,) = _session(job, "omniglue").run(["soft_assignment"], feeds)
    assert got.shape == (1, n + 1, m + 1)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
