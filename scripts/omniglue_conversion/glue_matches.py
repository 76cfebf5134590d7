"""Match extraction: OmniGlue's soft assignment to matched keypoint pairs.

Follows the reference (omniglue omniglue_extract.py OmniGlue.FindMatches and
utils.soft_assignment_to_match_matrix): drop the dustbin row and column; (i, j)
is a match when j is the arg-max of row i, i is the arg-max of column j and the
row maximum exceeds MATCH_THRESHOLD; matches touching a keypoint with score 0
are dropped. Matches come out ordered by keypoint index in image 0, as
np.argwhere orders them; zero matches yields empty [0, 2] and [0] tensors.

Arg-max ties resolve to the lowest index (numpy's and TensorFlow's CPU rule),
computed as the smallest index holding the maximum (ReduceMin over a mask)
rather than with ArgMax, so no execution provider's tie order can change it.
An image with no keypoint (N or M = 0), for which the reference's arg-max over
an empty axis has no value, gives zero matches: a -inf row and column are
appended so that every reduction has at least one element, and a -inf maximum
never passes the threshold.

NaN follows numpy's rule (np.max and np.argmax take NaN as the maximum, the
first NaN for argmax); TensorFlow, in which the reference computes the arg-max,
documents none, and Eigen's CPU arg-max depends on its reduction order. So a
row or column holding a NaN has its arg-max on a NaN and its maximum NaN, which
fails the threshold: it has no match, and the other rows and columns match as
they would without it. Computed without feeding NaN to any reduction (whose NaN
handling differs between execution providers): NaN becomes -inf, and rows and
columns that held one are dropped afterwards.
"""

from __future__ import annotations

import numpy as np
import onnx

from .glue_builder import FLOAT, INT64, GraphBuilder

MATCH_THRESHOLD = 1e-3


def _first_index_of_max(g: GraphBuilder, scores: str, maxima: str, axis: int, positions: str) -> str:
    """For each row (axis 1) or column (axis 0) of `scores`, the lowest index holding its maximum."""
    at_max = g.op("Equal", scores, g.op("Unsqueeze", maxima, g.i64(axis)))
    along = g.op("Unsqueeze", positions, g.i64(1 - axis))
    beyond = g.const(np.iinfo(np.int64).max, np.int64)
    return g.op("ReduceMin", g.op("Where", at_max, along, beyond), axes=[axis], keepdims=0)


def build_omniglue_match_extraction() -> onnx.ModelProto:
    g = GraphBuilder("omniglue_match_extraction")
    soft = g.input("soft_assignment", FLOAT, [1, "n_plus_1", "m_plus_1"])
    kp0 = g.input("keypoints0", FLOAT, [1, "n", 2])
    kp1 = g.input("keypoints1", FLOAT, [1, "m", 2])
    scores0 = g.input("scores0", FLOAT, [1, "n", 1])
    scores1 = g.input("scores1", FLOAT, [1, "m", 1])

    without_dustbins = g.op("Squeeze", g.op("Slice", soft, g.i64(0, 0), g.i64(-1, -1), g.i64(1, 2)), g.i64(0))  # [N, M]
    nan = g.op("IsNaN", without_dustbins)
    finite_or_inf = g.op("Where", nan, g.const(-np.inf), without_dustbins)
    # One -inf row and column: [N + 1, M + 1]; index N / M is "none".
    guarded = g.op("Pad", finite_or_inf, g.i64(0, 0, 1, 1), g.const(-np.inf), mode="constant")
    nan_padded = g.op("Pad", g.op("Cast", nan, to=FLOAT), g.i64(0, 0, 1, 1), g.const(0.0), mode="constant")
    row_has_nan = g.op("Greater", g.op("ReduceMax", nan_padded, axes=[1], keepdims=0), g.const(0.0))  # [N + 1]
    column_has_nan = g.op("Greater", g.op("ReduceMax", nan_padded, axes=[0], keepdims=0), g.const(0.0))  # [M + 1]
    row_max = g.op("ReduceMax", guarded, axes=[1], keepdims=0)  # [N + 1]
    column_max = g.op("ReduceMax", guarded, axes=[0], keepdims=0)  # [M + 1]
    rows = g.op("Range", g.const(0, np.int64), g.op("Squeeze", g.dim(guarded, 0), g.i64(0)), g.const(1, np.int64))
    columns = g.op("Range", g.const(0, np.int64), g.op("Squeeze", g.dim(guarded, 1), g.i64(0)), g.const(1, np.int64))
    row_best = _first_index_of_max(g, guarded, row_max, 1, columns)  # [N + 1], in 0..M
    column_best = _first_index_of_max(g, guarded, column_max, 0, rows)  # [M + 1], in 0..N

    mutual = g.op("Equal", g.op("Gather", column_best, row_best, axis=0), rows)
    above_threshold = g.op("Greater", row_max, g.const(MATCH_THRESHOLD))
    zero = g.const([0.0])
    flat0 = g.op("Concat", g.op("Reshape", scores0, g.i64(-1)), zero, axis=0)  # [N + 1]
    flat1 = g.op("Concat", g.op("Reshape", scores1, g.i64(-1)), zero, axis=0)  # [M + 1]
    real0 = g.op("Greater", flat0, g.const(0.0))
    real1 = g.op("Greater", g.op("Gather", flat1, row_best, axis=0), g.const(0.0))
    keep = g.op("And", g.op("And", mutual, above_threshold), g.op("And", real0, real1))
    no_nan = g.op("Not", g.op("Or", row_has_nan, g.op("Gather", column_has_nan, row_best, axis=0)))
    keep = g.op("And", keep, no_nan)

    matched_rows = g.op("Reshape", g.op("NonZero", keep), g.i64(-1))
    matched_columns = g.op("Gather", row_best, matched_rows, axis=0)
    no_point = g.const([[0.0, 0.0]])
    points0 = g.op("Concat", g.op("Squeeze", kp0, g.i64(0)), no_point, axis=0)
    points1 = g.op("Concat", g.op("Squeeze", kp1, g.i64(0)), no_point, axis=0)
    g.output(g.op("Gather", points0, matched_rows, axis=0), "matches_kp0", FLOAT, ["matches", 2])
    g.output(g.op("Gather", points1, matched_columns, axis=0), "matches_kp1", FLOAT, ["matches", 2])
    g.output(g.op("Gather", row_max, matched_rows, axis=0), "match_confidences", FLOAT, ["matches"])
    return g.model("Mutual-max matches above 1e-3 between keypoints with a score > 0: [K, 2], [K, 2], [K].")
