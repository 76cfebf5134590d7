"""Keypoint graphs: SuperPoint top-k extraction and DINOv2 sampling at the keypoints.

Keypoint selection follows omniglue superpoint_extract.py
SuperPointExtract._extract_superpoint_output as FindMatches calls it
(num_features=1024, pad_random_features=False): the pixels with probability
> 0 (NaN is not), sorted ascending by score, the last min(N, K) of them. No padding: the
keypoint dimension is N, between 0 and K. The reference sorts with numpy's
default (unstable) argsort, so its order among equal scores is unspecified;
here ties are ordered as a stable sort orders them (row-major pixel index), so
selection and order are fully determined. They are computed from values
only (a threshold from TopK's K-th value, a reverse cumulative count of ties,
pairwise ranks), never from TopK's indices, whose order among equal values
ONNX leaves open and ONNX Runtime's CUDA provider does not fix.

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

from .glue_builder import FLOAT, INT32, INT64, GraphBuilder

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


def _select_top_scores(g: GraphBuilder, flat: str, k: int) -> str:
    """Flat indices of the top min(#positive, k) scores, ascending by score, ties by index (int64 [N])."""
    # K zeros appended so TopK is valid on maps smaller than K pixels; only its
    # K-th value is used, which is the same whatever order TopK gives ties.
    padded = g.op("Concat", flat, g.const(np.zeros(k)), axis=0)
    top_values, _ = g.op("TopK", padded, g.i64(k), axis=0, largest=1, sorted=1, outputs=2)
    kth = g.op("Slice", top_values, g.i64(k - 1), g.i64(k), g.i64(0))
    # kth >= 0 always (the appended zeros), so `flat > kth` implies a positive score.
    above = g.op("Greater", flat, kth)
    ties = g.op("And", g.op("Equal", flat, kth), g.op("Greater", flat, g.const(0.0)))
    needed = g.op("Sub", g.i64(k), g.op("ReduceSum", g.op("Cast", above, to=INT64), keepdims=1))
    # A stable ascending sort keeps, of the tied pixels at the cut, the last ones in row-major order.
    ties_from_end = g.op("CumSum", g.op("Cast", ties, to=INT64), g.const(0, np.int64), reverse=1)
    keep = g.op("Or", above, g.op("And", ties, g.op("LessOrEqual", ties_from_end, needed)))
    selected = g.op("Reshape", g.op("NonZero", keep), g.i64(-1))  # ascending pixel index

    # Rank among the selected: lower scores first, equal scores by pixel index.
    scores = g.op("Gather", flat, selected, axis=0)
    column = g.op("Unsqueeze", scores, g.i64(0))
    row = g.op("Unsqueeze", scores, g.i64(1))
    count = g.op("Squeeze", g.dim(selected, 0), g.i64(0))
    positions = g.op("Range", g.const(0, np.int64), count, g.const(1, np.int64))
    earlier = g.op("Less", g.op("Unsqueeze", positions, g.i64(0)), g.op("Unsqueeze", positions, g.i64(1)))
    before = g.op("Or", g.op("Less", column, row), g.op("And", g.op("Equal", column, row), earlier))
    rank = g.op("ReduceSum", g.op("Cast", before, to=INT64), g.i64(1), keepdims=0)
    # Invert the permutation without Scatter: output slot p takes the element whose rank is p.
    at_slot = g.op("Equal", g.op("Unsqueeze", rank, g.i64(0)), g.op("Unsqueeze", positions, g.i64(1)))
    order = g.op("ReduceSum", g.op("Mul", g.op("Cast", at_slot, to=INT64), g.op("Unsqueeze", positions, g.i64(0))), g.i64(1), keepdims=0)
    return g.op("Gather", selected, order, axis=0)


def build_superpoint_keypoints(keypoint_count: int) -> onnx.ModelProto:
    g = GraphBuilder("superpoint_keypoints")
    prob = g.input("prob_nms", FLOAT, [1, "height8", "width8"])
    raw = g.input("descriptors_raw", FLOAT, [1, "cells_y", "cells_x", DESCRIPTOR_SIZE])
    width = g.input("width", INT32, [1])
    height = g.input("height", INT32, [1])

    map_h, map_w = g.dim(prob, 1), g.dim(prob, 2)
    # The reference keeps the pixels with keypoint_map > 0 (np.where), which NaN fails: a NaN pixel is no
    # detection. As 0 it is never selected, and TopK never sees a NaN, whose order ONNX leaves open.
    raw_flat = g.op("Reshape", prob, g.i64(-1))
    flat = g.op("Where", g.op("IsNaN", raw_flat), g.const(0.0), raw_flat)
    index = _select_top_scores(g, flat, keypoint_count)
    scores = g.op("Gather", flat, index, axis=0)
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
    g.output(g.op("Unsqueeze", keypoints, g.i64(0)), "keypoints", FLOAT, [1, "keypoints", 2])
    g.output(g.op("Unsqueeze", descriptors, g.i64(0)), "descriptors", FLOAT, [1, "keypoints", DESCRIPTOR_SIZE])
    g.output(g.op("Reshape", scores, g.i64(1, -1, 1)), "scores", FLOAT, [1, "keypoints", 1])
    return g.model(
        f"The min(N, {keypoint_count}) highest-scoring SuperPoint detections, ascending by score (x, y in original "
        "pixels), L2-normalised descriptors, scores; no padding."
    )


def _filler_if_empty(g: GraphBuilder, tensor: str, count_is_zero: str, value: list[float]) -> str:
    """`tensor` [1, N, C] unchanged when N > 0; the one row `value` [1, 1, C] when N = 0."""
    filler = g.const([[value]], hint="filler")
    rows = g.op("Cast", count_is_zero, to=INT64)
    return g.op("Concat", tensor, g.op("Slice", filler, g.i64(0), rows, g.i64(1)), axis=1)


def build_dinov2_keypoint_sampler(keypoint_count: int) -> onnx.ModelProto:
    """Samples DINOv2 features at the keypoints and assembles the matcher's per-image inputs.

    `keypoint_count` only documents the upper bound; every keypoint dim is dynamic.
    With N = 0 keypoints the matcher inputs get one filler keypoint with score 0
    (at (0, 0), a unit descriptor): whether a converted matcher runs on empty tensors
    cannot be checked without its weights (ONNX Reshape cannot infer -1 from an empty
    tensor, for one), and a score-0 keypoint never yields a match
    (omniglue_match_extraction drops it, as FindMatches does), so the result is zero
    matches either way. With N > 0 the matcher gets exactly the N keypoints.
    """
    g = GraphBuilder("dinov2_keypoint_sampler")
    features = g.input("features", FLOAT, [1, DINO_FEATURE_SIZE, "grid_h", "grid_w"])
    keypoints = g.input("keypoints", FLOAT, [1, "keypoints", 2])
    descriptors = g.input("descriptors", FLOAT, [1, "keypoints", DESCRIPTOR_SIZE])
    scores = g.input("scores", FLOAT, [1, "keypoints", 1])
    width = g.input("width", INT32, [1])
    height = g.input("height", INT32, [1])

    empty = g.op("Equal", g.dim(keypoints, 1), g.i64(0))
    matcher_keypoints = _filler_if_empty(g, keypoints, empty, [0.0, 0.0])
    matcher_descriptors = _filler_if_empty(g, descriptors, empty, [DESCRIPTOR_SIZE ** -0.5] * DESCRIPTOR_SIZE)
    matcher_scores = _filler_if_empty(g, scores, empty, [0.0])

    grid_h, grid_w = g.dim(features, 2), g.dim(features, 3)
    points = g.op("Squeeze", matcher_keypoints, g.i64(0))

    def to_grid(axis: int, image_size: str, grid_size: str) -> str:
        coordinate = g.op("Gather", points, g.const(axis, np.int64), axis=1)
        return g.op("Mul", g.op("Div", coordinate, g.op("Cast", image_size, to=FLOAT)), g.op("Cast", grid_size, to=FLOAT))

    table = g.op("Reshape", features, g.i64(0, 0, -1))  # [1, C, grid_h * grid_w]
    sampled = _bilinear(g, table, 2, to_grid(0, width, grid_w), to_grid(1, height, grid_h), grid_w, grid_h, zero_outside=True)
    g.output(g.op("Transpose", sampled, perm=[0, 2, 1]), "descriptors_dino", FLOAT, [1, "matcher_keypoints", DINO_FEATURE_SIZE])
    g.output(matcher_keypoints, "matcher_keypoints", FLOAT, [1, "matcher_keypoints", 2])
    g.output(matcher_descriptors, "matcher_descriptors", FLOAT, [1, "matcher_keypoints", DESCRIPTOR_SIZE])
    g.output(matcher_scores, "matcher_scores", FLOAT, [1, "matcher_keypoints", 1])
    return g.model(
        "DINOv2 patch features bilinearly sampled at the keypoints [1, N, 768], and the matcher's keypoints, "
        "descriptors and scores (N >= 1: one score-0 filler keypoint when the image has no keypoint)."
    )
