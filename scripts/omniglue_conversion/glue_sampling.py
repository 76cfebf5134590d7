"""Keypoint graphs: SuperPoint top-k extraction and DINOv2 sampling at the keypoints.

Both sample a coarse feature grid bilinearly at fractional positions with four
Gathers, each of the two with the border rule of its reference:

* SuperPoint's descriptor for a pixel is what its own dense head would give
  there (rpautrat/SuperPoint models/utils.py descriptor_head): the 1/8-resolution
  `descriptors_raw` upsampled by TF1 `resize_bilinear` (source = pixel / 8, no
  half-pixel offset, neighbours clamped to the last row/column), then L2-normalised.
  Sampling `descriptors_raw` at the keypoints gives the same vectors without
  materialising the full-resolution map (~315 MB at 640x480).
* DINOv2 descriptors follow omniglue's utils.lookup_descriptor_bilinear: grid
  position = keypoint * grid_size / image_size, no half-cell offset, and no
  neighbour beyond the last row/column, i.e. cells outside the grid weigh zero.
"""

from __future__ import annotations

import numpy as np
import onnx

from .glue_builder import FLOAT, INT32, GraphBuilder

SUPERPOINT_CELL = 8
DESCRIPTOR_SIZE = 256
DINO_FEATURE_SIZE = 768
# tf.nn.l2_normalize's floor on the squared norm.
L2_EPSILON = 1e-12


def _axis_taps(g: GraphBuilder, position: str, size: str, zero_outside: bool):
    """Lower/upper grid indices (int64, clamped into the grid) and their bilinear weights."""
    lower_f = g.op("Floor", position)
    upper_weight = g.op("Sub", position, lower_f)
    lower_weight = g.op("Sub", g.const(1.0), upper_weight)
    lower = g.op("Cast", lower_f, to=onnx.TensorProto.INT64)
    upper = g.op("Add", lower, g.i64(1))
    last = g.op("Sub", size, g.i64(1))
    if zero_outside:
        def inside(index: str) -> str:
            return g.op("And", g.op("GreaterOrEqual", index, g.i64(0)), g.op("LessOrEqual", index, last))

        zero = g.const(0.0)
        lower_weight = g.op("Where", inside(lower), lower_weight, zero)
        upper_weight = g.op("Where", inside(upper), upper_weight, zero)

    def clamp(index: str) -> str:
        return g.op("Min", g.op("Max", index, g.i64(0)), last)

    return clamp(lower), clamp(upper), lower_weight, upper_weight


def _bilinear(g: GraphBuilder, table: str, axis: int, x: str, y: str, width: str, height: str, zero_outside: bool) -> str:
    """Samples `table` at (x, y) in grid units; `table` holds the grid cells row-major along `axis`.

    axis 0: table [cells, C] -> [K, C]; last axis: table [.., C, cells] -> [.., C, K].
    """
    x0, x1, wx0, wx1 = _axis_taps(g, x, width, zero_outside)
    y0, y1, wy0, wy1 = _axis_taps(g, y, height, zero_outside)
    total = None
    for yi, wy in ((y0, wy0), (y1, wy1)):
        for xi, wx in ((x0, wx0), (x1, wx1)):
            cell = g.op("Add", g.op("Mul", yi, width), xi)
            weight = g.op("Mul", wy, wx)
            if axis == 0:
                weight = g.op("Unsqueeze", weight, g.i64(1))
            term = g.op("Mul", g.op("Gather", table, cell, axis=axis), weight)
            total = term if total is None else g.op("Add", total, term)
    return total


def build_superpoint_keypoints(keypoint_count: int) -> onnx.ModelProto:
    g = GraphBuilder("superpoint_keypoints")
    prob = g.input("prob_nms", FLOAT, [1, "height8", "width8"])
    raw = g.input("descriptors_raw", FLOAT, [1, "cells_y", "cells_x", DESCRIPTOR_SIZE])
    width = g.input("width", INT32, [1])
    height = g.input("height", INT32, [1])
    k = keypoint_count

    map_h, map_w = g.dim(prob, 1), g.dim(prob, 2)
    # Padding the flattened map with k zeros lets TopK return k entries even on maps
    # smaller than k pixels. Ties go to the lower index, so real pixels come first;
    # padding entries wrap onto real pixels and keep score 0, like the reference's
    # optional padding (score 0 never matches).
    flat = g.op("Concat", g.op("Reshape", prob, g.i64(-1)), g.const(np.zeros(k)), axis=0)
    scores, index = g.op("TopK", flat, g.i64(k), axis=0, largest=1, sorted=1, outputs=2)
    index = g.op("Mod", index, g.op("Mul", map_h, map_w))
    col = g.op("Cast", g.op("Mod", index, map_w), to=FLOAT)
    row = g.op("Cast", g.op("Div", index, map_w), to=FLOAT)

    cell = g.const(float(SUPERPOINT_CELL))
    table = g.op("Reshape", raw, g.i64(-1, DESCRIPTOR_SIZE))
    sampled = _bilinear(g, table, 0, g.op("Div", col, cell), g.op("Div", row, cell), g.dim(raw, 2), g.dim(raw, 1), zero_outside=False)
    squared_norm = g.op("ReduceSum", g.op("Mul", sampled, sampled), g.i64(1), keepdims=1)
    descriptors = g.op("Div", sampled, g.op("Sqrt", g.op("Max", squared_norm, g.const(L2_EPSILON))))

    # Back to original-image pixels with the reference's per-axis factor (original - 1) / (resized - 1).
    def rescale(coordinate: str, original: str, resized: str) -> str:
        original_f = g.op("Cast", original, to=FLOAT)
        resized_f = g.op("Cast", resized, to=FLOAT)
        one = g.const(1.0)
        return g.op("Div", g.op("Mul", coordinate, g.op("Sub", original_f, one)), g.op("Sub", resized_f, one))

    x = g.op("Unsqueeze", rescale(col, width, map_w), g.i64(1))
    y = g.op("Unsqueeze", rescale(row, height, map_h), g.i64(1))
    keypoints = g.op("Concat", x, y, axis=1)
    g.output(g.op("Unsqueeze", keypoints, g.i64(0)), "keypoints", FLOAT, [1, k, 2])
    g.output(g.op("Unsqueeze", descriptors, g.i64(0)), "descriptors", FLOAT, [1, k, DESCRIPTOR_SIZE])
    g.output(g.op("Reshape", scores, g.i64(1, k, 1)), "scores", FLOAT, [1, k, 1])
    return g.model(f"Top {k} SuperPoint keypoints (x, y in original pixels, score-0 padding), L2-normalised descriptors, scores.")


def build_dinov2_keypoint_sampler(keypoint_count: int) -> onnx.ModelProto:
    g = GraphBuilder("dinov2_keypoint_sampler")
    features = g.input("features", FLOAT, [1, DINO_FEATURE_SIZE, "grid_h", "grid_w"])
    keypoints = g.input("keypoints", FLOAT, [1, keypoint_count, 2])
    width = g.input("width", INT32, [1])
    height = g.input("height", INT32, [1])

    grid_h, grid_w = g.dim(features, 2), g.dim(features, 3)
    points = g.op("Squeeze", keypoints, g.i64(0))

    def to_grid(axis: int, image_size: str, grid_size: str) -> str:
        coordinate = g.op("Gather", points, g.const(axis, np.int64), axis=1)
        return g.op("Mul", g.op("Div", coordinate, g.op("Cast", image_size, to=FLOAT)), g.op("Cast", grid_size, to=FLOAT))

    table = g.op("Reshape", features, g.i64(0, 0, -1))  # [1, C, grid_h * grid_w]
    sampled = _bilinear(g, table, 2, to_grid(0, width, grid_w), to_grid(1, height, grid_h), grid_w, grid_h, zero_outside=True)
    g.output(g.op("Transpose", sampled, perm=[0, 2, 1]), "descriptors_dino", FLOAT, [1, keypoint_count, DINO_FEATURE_SIZE])
    return g.model("DINOv2 patch features bilinearly sampled at the keypoints: [1, K, 768].")
