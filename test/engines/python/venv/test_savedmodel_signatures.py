"""The test SavedModels have the signatures the Job converts in production, as the reference calls them: what the
conversion tests prove holds for sp_v6 and og_export only as far as these match upstream."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from savedmodels import saved_model

SUPERPOINT_OUTPUTS = {  # rpautrat/SuperPoint: SuperPoint._model's results with nms set, each named by _pred_graph
    "descriptors": (tf.float32, 4), "descriptors_raw": (tf.float32, 4), "logits": (tf.float32, 4),
    "pred": (tf.int32, 3), "prob": (tf.float32, 3), "prob_nms": (tf.float32, 3),
}


@pytest.fixture(scope="module")
def superpoint_meta_graph():
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(saved_model("superpoint")))
        image = np.zeros((1, 64, 80, 1), np.float32)
        # The tensors google-research/omniglue's superpoint_extract.py fetches by name.
        fetched = session.run(
            [graph.get_tensor_by_name("superpoint/prob_nms:0"), graph.get_tensor_by_name("superpoint/descriptors:0")],
            {graph.get_tensor_by_name("superpoint/image:0"): image},
        )
    return meta, fetched


def test_superpoint_serves_image_under_tag_serve_as_simple_save_writes_it(superpoint_meta_graph):
    meta, _ = superpoint_meta_graph
    assert list(meta.signature_def) == ["serving_default"]
    signature = meta.signature_def["serving_default"]
    assert signature.method_name == "tensorflow/serving/predict"
    assert list(signature.inputs) == ["image"]
    image = signature.inputs["image"]
    assert (image.name, tf.as_dtype(image.dtype)) == ("superpoint/image:0", tf.float32)
    assert [d.size for d in image.tensor_shape.dim] == [-1, -1, -1, 1]
    outputs = {key: (tf.as_dtype(info.dtype), len(info.tensor_shape.dim)) for key, info in signature.outputs.items()}
    assert outputs == SUPERPOINT_OUTPUTS
    assert {info.name for info in signature.outputs.values()} == {f"superpoint/{key}:0" for key in SUPERPOINT_OUTPUTS}
    # _gpu_tower restacks exactly pred_batch_size (1) images: the static 1 that keeps SuperPoint off batching (throughput.py).
    assert {key: info.tensor_shape.dim[0].size for key, info in signature.outputs.items()} == dict.fromkeys(SUPERPOINT_OUTPUTS, 1)


def test_superpoint_runs_as_the_reference_feeds_it(superpoint_meta_graph):
    _, (prob_nms, descriptors) = superpoint_meta_graph
    assert prob_nms.shape == (1, 64, 80)
    assert descriptors.shape == (1, 64, 80, 256)
    np.testing.assert_allclose(np.linalg.norm(descriptors, axis=-1), 1.0, rtol=1e-5)


def test_superpoint_graph_has_the_vgg_backbone_heads_and_in_graph_nms(superpoint_meta_graph):
    meta, _ = superpoint_meta_graph
    nodes = {node.name: node.op for node in meta.graph_def.node}
    convs = sorted(name for name, op in nodes.items() if op == "Conv2D")
    assert len(convs) == 12
    assert {n.split("/")[2] for n in convs} == {"vgg", "detector", "descriptor"}
    assert "NonMaxSuppressionV3" in nodes.values() and "TensorArrayV3" in nodes.values()  # box_nms through tf.map_fn
    assert sum(op == "FusedBatchNormV3" for op in nodes.values()) == 12


def test_matcher_serving_default_has_the_inputs_the_reference_passes():
    signature = tf.saved_model.load(str(saved_model("matcher"))).signatures["serving_default"]
    _, inputs = signature.structured_input_signature
    got = {name: (spec.dtype, spec.shape.rank) for name, spec in inputs.items()}
    expected = {}
    for i in (0, 1):
        expected |= {f"keypoints{i}": (tf.float32, 3), f"descriptors{i}": (tf.float32, 3), f"scores{i}": (tf.float32, 3),
                     f"descriptors{i}_dino": (tf.float32, 3), f"width{i}": (tf.int32, 1), f"height{i}": (tf.int32, 1)}
    assert got == expected
    assert {name: spec.shape[-1] for name, spec in inputs.items() if spec.shape.rank == 3} == {
        f"{stem}{i}{suffix}": width for i in (0, 1)
        for stem, suffix, width in (("keypoints", "", 2), ("descriptors", "", 256), ("scores", "", 1), ("descriptors", "_dino", 768))
    }
    assert list(signature.structured_outputs) == ["soft_assignment"]
