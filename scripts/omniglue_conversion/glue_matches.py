"""Match extraction: OmniGlue's soft assignment to matched keypoint pairs.

Follows the reference (omniglue_extract.py FindMatches and
utils.soft_assignment_to_match_matrix): drop the dustbin row and column; (i, j)
is a match when j is the arg-max of row i, i is the arg-max of column j and the
value exceeds MATCH_THRESHOLD; matches touching a score-0 keypoint (padding)
are dropped. Ties resolve to the first index, like the reference's argmax.
Matches come out ordered by keypoint index in image 0; zero matches yields
empty [0, 2] and [0] tensors.
"""

from __future__ import annotations

import numpy as np
import onnx

from .glue_builder import FLOAT, GraphBuilder

MATCH_THRESHOLD = 1e-3


def build_omniglue_match_extraction() -> onnx.ModelProto:
    g = GraphBuilder("omniglue_match_extraction")
    soft = g.input("soft_assignment", FLOAT, [1, "n_plus_1", "m_plus_1"])
    kp0 = g.input("keypoints0", FLOAT, [1, "n", 2])
    kp1 = g.input("keypoints1", FLOAT, [1, "m", 2])
    scores0 = g.input("scores0", FLOAT, [1, "n", 1])
    scores1 = g.input("scores1", FLOAT, [1, "m", 1])

    without_dustbins = g.op("Slice", soft, g.i64(0, 0), g.i64(-1, -1), g.i64(1, 2))
    scores = g.op("Squeeze", without_dustbins, g.i64(0))  # [N, M]
    row_max = g.op("ReduceMax", scores, axes=[1], keepdims=0)
    row_best = g.op("ArgMax", scores, axis=1, keepdims=0, select_last_index=0)
    column_best = g.op("ArgMax", scores, axis=0, keepdims=0, select_last_index=0)

    row_count = g.op("Squeeze", g.dim(scores, 0), g.i64(0))
    rows = g.op("Range", g.const(0, np.int64), row_count, g.const(1, np.int64))
    mutual = g.op("Equal", g.op("Gather", column_best, row_best, axis=0), rows)
    above_threshold = g.op("Greater", row_max, g.const(MATCH_THRESHOLD))
    flat0 = g.op("Reshape", scores0, g.i64(-1))
    flat1 = g.op("Reshape", scores1, g.i64(-1))
    real0 = g.op("Greater", flat0, g.const(0.0))
    real1 = g.op("Greater", g.op("Gather", flat1, row_best, axis=0), g.const(0.0))
    keep = g.op("And", g.op("And", mutual, above_threshold), g.op("And", real0, real1))

    matched_rows = g.op("Reshape", g.op("NonZero", keep), g.i64(-1))
    matched_columns = g.op("Gather", row_best, matched_rows, axis=0)
    points0 = g.op("Squeeze", kp0, g.i64(0))
    points1 = g.op("Squeeze", kp1, g.i64(0))
    g.output(g.op("Gather", points0, matched_rows, axis=0), "matches_kp0", FLOAT, ["matches", 2])
    g.output(g.op("Gather", points1, matched_columns, axis=0), "matches_kp1", FLOAT, ["matches", 2])
    g.output(g.op("Gather", row_max, matched_rows, axis=0), "match_confidences", FLOAT, ["matches"])
    return g.model("Mutual-max matches above 1e-3 between non-padding keypoints: [K, 2], [K, 2], [K].")
