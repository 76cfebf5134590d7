"""Random-weight stand-ins for the three networks, with exactly their config.pbtxt signatures.

The end-to-end ensemble test (test/ensemble-e2e.test.ts) runs all 14 steps in
onnxruntime-node; the real networks (converted from sp_v6, DINOv2 ViT-B/14 and
og_export) need their weights and TensorFlow, which tests cannot have. These
graphs take and return the same tensors (names, element types, ranks, fixed
dims) and behave like the real ones where the glue depends on it:

* superpoint: a stride-8 detector head with 64 cell channels and a dustbin,
  softmax, depth-to-space, NMS by 9x9 max pooling and a 0.01 score floor.
  Its kernels are zero-mean, so a flat image gives no detection at all (N = 0);
  descriptors_raw comes from a stride-8 head at 1/8 resolution.
* dinov2: a one-block ViT (14 px patches, width 32, one attention head) whose
  tokens are projected to 768 channels and returned as the [1, 768, H/14, W/14] grid.
* omniglue: keypoint, descriptor, score and DINO features embedded together,
  one cross-attention round between the images (every keypoint attends over
  every keypoint of the other image, as the real matcher does), cosine
  similarities with a dustbin row and column, and a dual softmax into
  soft_assignment [1, N + 1, M + 1].

Built with onnx.helper (no torch), from a fixed seed, in well under a second.

`throughput_hw=(Hd, Wd)` builds dinov2 as throughput mode publishes it
(scripts/omniglue_conversion/throughput.py, max_batch_size > 0): a symbolic batch dim
instead of 1, and static spatial dims, pixel_values [batch, 3, Hd, Wd] -> features
[batch, 768, Hd/14, Wd/14], since Triton compares output dims exactly
(onnxruntime_backend src/onnxruntime_utils.cc CompareDimsSupported). The weights (same
seed, same draws) and the operators are the default stand-in's, and every operator is
batch-safe (no Reshape or Slice on a hard-coded batch of 1), so a batch of images
gives each image's batch-1 result. SuperPoint and the matcher never batch.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import onnx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))

from omniglue_conversion.glue_builder import FLOAT, INT32, GraphBuilder  # noqa: E402

SUPERPOINT_DUSTBIN_BIAS = 6.0
SUPERPOINT_SCORE_FLOOR = 0.01
DINO_WIDTH = 32
MATCHER_WIDTH = 64
MATCHER_TEMPERATURE = 0.05
MATCHER_DUSTBIN = 0.2


def _zero_mean_kernels(rng: np.random.Generator, channels: int, scale: float) -> np.ndarray:
    kernels = rng.normal(0.0, scale, (channels, 1, 8, 8))
    return (kernels - kernels.mean(axis=(2, 3), keepdims=True)).astype(np.float32)


def build_superpoint(rng: np.random.Generator) -> onnx.ModelProto:
    g = GraphBuilder("superpoint")
    image = g.input("image", FLOAT, [1, "height8", "width8", 1])
    nchw = g.op("Transpose", image, perm=[0, 3, 1, 2])

    detector = _zero_mean_kernels(rng, 65, 3.0)
    bias = np.zeros(65, np.float32)
    bias[64] = SUPERPOINT_DUSTBIN_BIAS
    logits = g.op("Conv", nchw, g.const(detector), g.const(bias), strides=[8, 8])
    cells = g.op("Slice", g.op("Softmax", logits, axis=1), g.i64(0), g.i64(64), g.i64(1))
    prob = g.op("DepthToSpace", cells, blocksize=8, mode="DCR")  # [B, 1, H, W]
    pooled = g.op("MaxPool", prob, kernel_shape=[9, 9], strides=[1, 1], pads=[4, 4, 4, 4])
    keep = g.op("And", g.op("Equal", prob, pooled), g.op("GreaterOrEqual", prob, g.const(SUPERPOINT_SCORE_FLOOR)))
    prob_nms = g.op("Where", keep, prob, g.const(0.0))
    g.output(g.op("Squeeze", prob_nms, g.i64(1)), "prob_nms", FLOAT, [1, "height8", "width8"])

    describe = _zero_mean_kernels(rng, 256, 1.0)
    raw = g.op("Conv", nchw, g.const(describe), g.const(np.zeros(256)), strides=[8, 8])
    g.output(g.op("Transpose", raw, perm=[0, 2, 3, 1]), "descriptors_raw", FLOAT, [1, "cells_y", "cells_x", 256])
    return g.model("Random-weight stand-in for SuperPoint v6: prob_nms [1, H, W], descriptors_raw [1, H/8, W/8, 256].")


def _linear(g: GraphBuilder, rng: np.random.Generator, x: str, fan_in: int, fan_out: int) -> str:
    weight = rng.normal(0.0, fan_in ** -0.5, (fan_in, fan_out))
    return g.op("Add", g.op("MatMul", x, g.const(weight)), g.const(rng.normal(0.0, 0.02, fan_out)))


def _layer_norm(g: GraphBuilder, x: str, width: int) -> str:
    return g.op("LayerNormalization", x, g.const(np.ones(width)), g.const(np.zeros(width)), axis=-1)


def _attend(g: GraphBuilder, queries: str, keys: str, values: str, width: int) -> str:
    logits = g.op("Div", g.op("MatMul", queries, g.op("Transpose", keys, perm=[0, 2, 1])), g.const(width ** 0.5))
    return g.op("MatMul", g.op("Softmax", logits, axis=-1), values)


def build_dinov2(rng: np.random.Generator, throughput_hw: tuple[int, int] | None = None) -> onnx.ModelProto:
    """`throughput_hw` (Hd, Wd): throughput mode's batching variant with that fixed input (module docstring)."""
    g = GraphBuilder("dinov2")
    if throughput_hw is None:
        batch, height, width, grid_h, grid_w = 1, "height14", "width14", "grid_h", "grid_w"
    else:
        height, width = throughput_hw
        if height < 14 or width < 14 or height % 14 or width % 14:
            raise ValueError(f"DINOv2's input must be positive multiples of 14 px, got {height}x{width}")
        batch, grid_h, grid_w = "batch", height // 14, width // 14
    pixels = g.input("pixel_values", FLOAT, [batch, 3, height, width])
    w = DINO_WIDTH
    patches = g.op("Conv", pixels, g.const(rng.normal(0.0, 0.05, (w, 3, 14, 14))), g.const(np.zeros(w)), strides=[14, 14])
    grid_shape = g.op("Shape", patches)  # [B, w, h, w]
    # Reshape's 0 copies the batch dim from the input (ONNX Reshape, allowzero 0), so any batch size passes.
    tokens = g.op("Transpose", g.op("Reshape", patches, g.i64(0, w, -1)), perm=[0, 2, 1])  # [B, T, w]

    normed = _layer_norm(g, tokens, w)
    q, k, v = (_linear(g, rng, normed, w, w) for _ in range(3))
    tokens = g.op("Add", tokens, _linear(g, rng, _attend(g, q, k, v, w), w, w))
    hidden = g.op("Relu", _linear(g, rng, _layer_norm(g, tokens, w), w, 2 * w))
    tokens = g.op("Add", tokens, _linear(g, rng, hidden, 2 * w, w))

    features = _linear(g, rng, _layer_norm(g, tokens, w), w, 768)  # [B, T, 768]
    grid = g.op("Concat", g.i64(0, 768), g.op("Slice", grid_shape, g.i64(2), g.i64(4), g.i64(0)), axis=0)  # [B, 768, h, w]
    g.output(g.op("Reshape", g.op("Transpose", features, perm=[0, 2, 1]), grid), "features", FLOAT, [batch, 768, grid_h, grid_w])
    return g.model("Random-weight one-block ViT stand-in for DINOv2 ViT-B/14: features [1, 768, H/14, W/14].")


def build_omniglue(rng: np.random.Generator) -> onnx.ModelProto:
    g = GraphBuilder("omniglue")
    d = MATCHER_WIDTH
    per_image = []
    weights = {
        "descriptors": rng.normal(0.0, 1.0, (256, d)),
        "dino": rng.normal(0.0, 768 ** -0.5, (768, d)) * 0.2,
        "position": rng.normal(0.0, 1.0, (3, d)) * 0.5,
    }
    for i in (0, 1):
        keypoints = g.input(f"keypoints{i}", FLOAT, [1, f"n{i}", 2])
        descriptors = g.input(f"descriptors{i}", FLOAT, [1, f"n{i}", 256])
        scores = g.input(f"scores{i}", FLOAT, [1, f"n{i}", 1])
        dino = g.input(f"descriptors{i}_dino", FLOAT, [1, f"n{i}", 768])
        per_image.append((keypoints, descriptors, scores, dino))
    sizes = {}
    for i in (0, 1):
        sizes[f"width{i}"] = g.input(f"width{i}", INT32, [1])
        sizes[f"height{i}"] = g.input(f"height{i}", INT32, [1])

    embedded = []
    for i, (keypoints, descriptors, scores, dino) in enumerate(per_image):
        size = g.op("Cast", g.op("Concat", sizes[f"width{i}"], sizes[f"height{i}"], axis=0), to=FLOAT)
        normalised = g.op("Div", g.op("Sub", keypoints, g.op("Div", size, g.const(2.0))), g.op("ReduceMax", size, keepdims=1))
        position = g.op("MatMul", g.op("Concat", normalised, scores, axis=2), g.const(weights["position"]))
        features = g.op("MatMul", descriptors, g.const(weights["descriptors"]))
        features = g.op("Add", g.op("Add", features, g.op("MatMul", dino, g.const(weights["dino"]))), position)
        embedded.append(features)
    f0, f1 = embedded
    # A small cross-attention residual: every keypoint's feature depends on all keypoints of the other image.
    residual = g.const(0.1)
    f0, f1 = (
        g.op("Add", f0, g.op("Mul", residual, _attend(g, f0, f1, f1, d))),
        g.op("Add", f1, g.op("Mul", residual, _attend(g, f1, f0, f0, d))),
    )

    def unit(x: str) -> str:
        return g.op("Div", x, g.op("Sqrt", g.op("ReduceSum", g.op("Mul", x, x), g.i64(2), keepdims=1)))

    similarity = g.op("Div", g.op("MatMul", unit(f0), g.op("Transpose", unit(f1), perm=[0, 2, 1])), g.const(MATCHER_TEMPERATURE))
    with_dustbins = g.op("Pad", similarity, g.i64(0, 0, 0, 0, 1, 1), g.const(MATCHER_DUSTBIN / MATCHER_TEMPERATURE), mode="constant")
    soft = g.op("Mul", g.op("Softmax", with_dustbins, axis=2), g.op("Softmax", with_dustbins, axis=1))
    g.output(soft, "soft_assignment", FLOAT, [1, "n0_plus_1", "n1_plus_1"])
    return g.model("Random-weight stand-in for the OmniGlue matcher: soft_assignment [1, N + 1, M + 1] (dustbins last).")


BUILDERS = {"superpoint": build_superpoint, "dinov2": build_dinov2, "omniglue": build_omniglue}
# The network throughput mode batches (scripts/omniglue_conversion/throughput.py); SuperPoint and the matcher never do.
BATCHING_STAND_IN = "dinov2"


def build_stand_in(name: str, seed: int = 8, throughput_hw: tuple[int, int] | None = None) -> onnx.ModelProto:
    """One stand-in; each model keeps its own seed (seed + its position in BUILDERS) whatever else is built.
    `throughput_hw` (DINOv2's fixed input, height and width) builds dinov2's batching variant."""
    if throughput_hw is not None and name != BATCHING_STAND_IN:
        raise ValueError(f"only {BATCHING_STAND_IN} batches in throughput mode; {name!r} has no batching variant")
    rng = np.random.default_rng(seed + list(BUILDERS).index(name))
    return BUILDERS[name](rng) if throughput_hw is None else BUILDERS[name](rng, throughput_hw)


def build_stand_ins(out_dir: pathlib.Path, seed: int = 8, throughput_hw: tuple[int, int] | None = None) -> dict[str, pathlib.Path]:
    """Writes <out_dir>/<model>/1/model.onnx for the three networks, or only dinov2's batching variant when
    `throughput_hw` is given; returns the paths by model name."""
    written = {}
    for name in BUILDERS if throughput_hw is None else (BATCHING_STAND_IN,):
        path = pathlib.Path(out_dir) / name / "1" / "model.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(build_stand_in(name, seed, throughput_hw), str(path))
        written[name] = path
    return written
