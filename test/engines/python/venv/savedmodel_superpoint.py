"""SuperPoint as rpautrat/SuperPoint exports sp_v6: a TF1 SavedModel with tag `serve`, here with random weights.

Run as a script (`python savedmodel_superpoint.py OUT_DIR [--input-key K] [--input-dtype D]`): it switches the process
to TF1 graph behaviour, as the TF 1.x that wrote sp_v6 had it (reference variables, v1 while loops for tf.map_fn).
Everything below follows upstream (rpautrat/SuperPoint, read at commit 1411bbd), each piece naming where:
- superpoint/export_model.py: `simple_save(sess, dir, inputs=net.pred_in, outputs=net.pred_out)` (tag serve, key
  serving_default, devices cleared), the model built channels_last with data_shape {'image': [None, None, None, 1]};
- superpoint/models/base_model.py: all under variable scope `superpoint` (the class name); `_build_graph` makes the
  placeholder `image`; `_gpu_tower` unstacks and restacks the batch (pred_batch_size 1) and builds the net under name
  scope `pred_tower0`; `_pred_graph` names each output with `tf.identity(p, name=key)`;
- superpoint/models/super_point.py `SuperPoint._model`: backbone, both heads, box NMS through tf.map_fn when `nms` is
  set, `pred` = int32(prob_nms >= detection_threshold);
- superpoint/models/backbones/vgg.py `vgg_block`, `vgg_backbone`; superpoint/models/utils.py `detector_head`,
  `descriptor_head`, `box_nms`.
NMS settings: 4 px boxes, IoU 0.1, score floor 0.01 (shared/design/models.md, from the exported graph).
"""

from __future__ import annotations

import argparse

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1
GRID = 8
DESCRIPTOR_SIZE = 256
NMS_BOX = 4
NMS_IOU = 0.1
DETECTION_THRESHOLD = 0.01


# Each batch norm's input and its variable scope, in build order (_randomise calibrates them one by one).
_NORMALISED: list = []


def _conv_bn(x, filters: int, kernel: int, name: str, *, relu: bool):
    # vgg_block: conv (its activation inside the layer), then inference-mode fused batch norm. Its l2 regulariser
    # has scale 0 at export and adds nothing to the graph.
    with tf1.variable_scope(name, reuse=tf1.AUTO_REUSE) as scope:
        x = tf1.layers.conv2d(x, filters, kernel, padding="same", activation=tf.nn.relu if relu else None, name="conv")
        _NORMALISED.append((x, f"{scope.name}/bn"))
        return tf1.layers.batch_normalization(x, training=False, fused=True, axis=-1, name="bn")


def _backbone(image):
    with tf1.variable_scope("vgg", reuse=tf1.AUTO_REUSE):
        x = image
        for stage, filters in enumerate((64, 64, 128, 128), start=1):
            x = _conv_bn(x, filters, 3, f"conv{stage}_1", relu=True)
            x = _conv_bn(x, filters, 3, f"conv{stage}_2", relu=True)
            if stage < 4:
                x = tf1.layers.max_pooling2d(x, 2, 2, padding="same", name=f"pool{stage}")
        return x


def _heads(features) -> dict:
    with tf1.variable_scope("detector", reuse=tf1.AUTO_REUSE):
        logits = _conv_bn(_conv_bn(features, 256, 3, "conv1", relu=True), 1 + GRID * GRID, 1, "conv2", relu=False)
        prob = tf.nn.softmax(logits, axis=-1)[:, :, :, :-1]  # the last channel is the "no keypoint" dustbin
        prob = tf.squeeze(tf1.depth_to_space(prob, GRID, data_format="NHWC"), axis=-1)
    with tf1.variable_scope("descriptor", reuse=tf1.AUTO_REUSE):
        raw = _conv_bn(_conv_bn(features, 256, 3, "conv1", relu=True), DESCRIPTOR_SIZE, 1, "conv2", relu=False)
        dense = tf1.image.resize_bilinear(raw, GRID * tf.shape(raw)[1:3])
        dense = tf.nn.l2_normalize(dense, -1)
    return {"logits": logits, "prob": prob, "descriptors_raw": raw, "descriptors": dense}


def _box_nms(prob):
    """One [H, W] map: boxes of NMS_BOX px around every pixel above the floor, suppressed at NMS_IOU, scattered back."""
    with tf1.name_scope("box_nms"):
        points = tf1.to_float(tf1.where(tf.greater_equal(prob, DETECTION_THRESHOLD)))
        half = tf.constant(NMS_BOX / 2.0)
        boxes = tf.concat([points - half, points + half], axis=1)
        scores = tf.gather_nd(prob, tf1.to_int32(points))
        keep = tf.image.non_max_suppression(boxes, scores, tf.shape(boxes)[0], NMS_IOU)
        points, scores = tf.gather(points, keep), tf.gather(scores, keep)
        return tf.scatter_nd(tf1.to_int32(points), scores, tf.shape(prob))


def _model(image) -> dict:
    results = _heads(_backbone(image))
    results["prob_nms"] = tf.map_fn(_box_nms, results["prob"])
    results["pred"] = tf1.to_int32(tf.greater_equal(results["prob_nms"], DETECTION_THRESHOLD))
    return results


def _randomise(session, image, calibration: np.ndarray, rng: np.random.Generator) -> None:
    """Random He-scaled kernels, then each batch norm's moving statistics measured on `calibration`, layer after layer,
    so every layer's output is normalised as in a trained net and responds to the image. The detector's logits get a
    spread of 2 and the dustbin a lead of 12.4, which makes about 0.3 % of the pixels candidates for the NMS: sparse
    detections, as a trained model's, and an NMS that stays fast on megapixel images."""
    variables = {var.op.name: var for var in tf1.global_variables()}
    for name, var in variables.items():
        shape = var.shape.as_list()
        if name.endswith("/kernel"):
            value = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[:-1])), shape)
        elif name.endswith("/gamma"):
            value = rng.uniform(0.8, 1.2, shape)
        elif name.endswith("/moving_variance"):
            value = np.ones(shape)
        else:  # bias, beta, moving_mean
            value = rng.normal(0.0, 0.1, shape) if not name.endswith("/moving_mean") else np.zeros(shape)
        if name == "superpoint/detector/conv2/bn/gamma":
            value = np.full(shape, 2.0)
        if name == "superpoint/detector/conv2/bn/beta":
            value = np.zeros(shape)
            value[-1] = 12.4
        var.load(value.astype(var.dtype.as_numpy_dtype), session)
    for tensor, scope in _NORMALISED:
        activations = session.run(tensor, {image: calibration})
        variables[f"{scope}/moving_mean"].load(activations.mean(axis=(0, 1, 2)), session)
        variables[f"{scope}/moving_variance"].load(activations.var(axis=(0, 1, 2)) + 1e-3, session)


def build(out_dir: str, calibration: np.ndarray, *, input_key: str = "image", input_dtype: str = "float32", seed: int = 0) -> None:
    """`calibration`: a [1, H, W, 1] float32 image in [0, 1]."""
    tf1.disable_v2_behavior()
    graph = tf1.Graph()
    with graph.as_default(), tf1.Session(graph=graph) as session:
        with tf1.variable_scope("superpoint", reuse=tf1.AUTO_REUSE):
            image = tf1.placeholder(tf.as_dtype(input_dtype), [None, None, None, 1], name="image")
            with tf1.name_scope("pred_data_sharding"):
                shard = tf.stack(tf.unstack(tf1.to_float(image) if input_dtype != "float32" else image, num=1))
            with tf1.name_scope("pred_tower0"):
                outputs = _model(shard)
            outputs = {key: tf.identity(tf.stack(tf.unstack(value, num=1)), name=key) for key, value in outputs.items()}
        session.run(tf1.global_variables_initializer())
        _randomise(session, image, calibration.astype(input_dtype), np.random.default_rng(seed))
        tf1.saved_model.simple_save(session, out_dir, inputs={input_key: image}, outputs=outputs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--calibration", required=True, help="an image file; grayscale, resized to 320 x 240")
    parser.add_argument("--input-key", default="image")
    parser.add_argument("--input-dtype", default="float32")
    args = parser.parse_args()
    from PIL import Image

    gray = np.asarray(Image.open(args.calibration).convert("L").resize((320, 240)), np.float32) / 255.0
    build(args.out_dir, gray[None, :, :, None], input_key=args.input_key, input_dtype=args.input_dtype)
