"""NaN and infinities in SuperPoint's probability map and in the matcher's soft assignment, against the reference's
rules written with numpy itself: np.where(keypoint_map > 0) and argsort (superpoint_extract.py
_extract_superpoint_output), np.max/np.argmax for the mutual maxima (utils.py soft_assignment_to_match_matrix, whose
TensorFlow arg-max documents no NaN rule). A seeded fuzz of placements; all runs in one node process (ort_node.py)."""

from __future__ import annotations

import numpy as np
import pytest

import ort_node
from omniglue_conversion.glue_graphs import build_glue_models

pytestmark = ort_node.needs_ort

K = 8
MAP_H, MAP_W, WIDTH, HEIGHT = 8, 12, 13, 9
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5], np.float32)


def _values(rng: np.random.Generator, shape) -> np.ndarray:
    """Random float32 values with NaN, infinities, zeros and ties in random places."""
    values = rng.uniform(-1, 1, shape).astype(np.float32)
    special = rng.random(shape) < rng.choice([0.05, 0.3, 0.9])
    values[special] = rng.choice(SPECIAL, int(special.sum()))
    return values


def reference_keypoints(prob: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and (x, y) of the kept keypoints; ties as a stable sort orders them (docs/ensemble-design.md)."""
    rows, cols = np.where(prob > 0)
    scores = prob[rows, cols]
    kept = np.argsort(scores, kind="stable")[len(scores) - min(k, len(scores)):]
    x = cols[kept] * np.float32(WIDTH - 1) / np.float32(MAP_W - 1)
    y = rows[kept] * np.float32(HEIGHT - 1) / np.float32(MAP_H - 1)
    return scores[kept], np.stack([x, y], axis=-1)


def reference_matches(soft: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and confidences of the matches (every keypoint has a score > 0 here)."""
    s = soft[:-1, :-1]
    n, m = s.shape
    if n == 0 or m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    row_best, column_best, row_max = np.argmax(s, axis=1), np.argmax(s, axis=0), np.max(s, axis=1)
    keep = (column_best[row_best] == np.arange(n)) & (row_max > np.float32(1e-3))
    rows = np.flatnonzero(keep)
    return rows, row_best[rows], row_max[rows]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return build_glue_models(tmp_path_factory.mktemp("glue"), keypoint_count=K)


def test_fuzz_nan_and_infinities_give_the_reference_keypoints_and_matches(models):
    rng = np.random.default_rng(20261204)
    raw = rng.uniform(-1, 1, (1, 1, 2, 256)).astype(np.float32)
    maps = [_values(rng, (MAP_H, MAP_W)) for _ in range(60)]
    softs = [_values(rng, (rng.integers(1, 9), rng.integers(1, 9))) for _ in range(60)]
    runs = [
        (models["superpoint_keypoints"], {"prob_nms": p[None], "descriptors_raw": raw,
                                          "width": np.array([WIDTH], np.int32), "height": np.array([HEIGHT], np.int32)})
        for p in maps
    ] + [
        (models["omniglue_match_extraction"], {
            "soft_assignment": s[None],
            "keypoints0": np.arange(2 * (s.shape[0] - 1), dtype=np.float32).reshape(1, -1, 2),
            "keypoints1": np.arange(2 * (s.shape[1] - 1), dtype=np.float32).reshape(1, -1, 2),
            "scores0": np.ones((1, s.shape[0] - 1, 1), np.float32),
            "scores1": np.ones((1, s.shape[1] - 1, 1), np.float32),
        })
        for s in softs
    ]
    outputs = ort_node.run_models(runs)
    wrong = []
    for case, (prob, out) in enumerate(zip(maps, outputs[: len(maps)])):
        scores, points = reference_keypoints(prob, K)
        if not (np.array_equal(out["scores"].reshape(-1), scores) and np.allclose(out["keypoints"].reshape(-1, 2), points, atol=1e-4)):
            wrong.append(("keypoints", case))
    for case, (soft, out) in enumerate(zip(softs, outputs[len(maps):])):
        rows, columns, confidences = reference_matches(soft)
        got = (out["matches_kp0"][:, 0] / 2, out["matches_kp1"][:, 0] / 2, out["match_confidences"])
        if not all(np.array_equal(a, b) for a, b in zip(got, (rows, columns, confidences))):
            wrong.append(("matches", case))
    print(f"FUZZ glue non-finite (python): cases={len(runs)} crashes=0 accepted-but-wrong={len(wrong)}")
    assert wrong == []
