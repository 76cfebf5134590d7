"""Image preprocessing graphs: decoded RGB (UINT8, H x W x 3) to each network's input.

Both follow the reference (google-research/omniglue superpoint_extract.py
SuperPointExtract._resize_input_image / _preprocess_image and dino_extract.py
DINOExtract._resize_input_image / _process_image): cv2.resize with INTER_LINEAR
on the uint8 image, then cv2.cvtColor(RGB2GRAY) for SuperPoint, /255 and the
ImageNet normalisation for DINOv2. The graphs reproduce OpenCV's integer
arithmetic for uint8 images bit for bit rather than interpolating in float:

* resize (OpenCV imgproc resize.cpp, cv::hal::resize for CV_8U INTER_LINEAR):
  source position (dst + 0.5) * (src / dst) - 0.5 computed in double, cast to
  float, split into floor and fraction; columns outside the image are clamped
  with fraction 0, rows only have their indices clamped. Weights are
  round(2048 * (1 - f)) and round(2048 * f) (11-bit fixed point); the horizontal
  pass sums pixel * weight exactly; the vertical pass is that of OpenCV's SIMD
  kernel (VResizeLinearVec_32s8u): ((h0 >> 4) * w0 >> 16) + ((h1 >> 4) * w1 >> 16),
  plus 2, >> 2. (An exact 2x downscale, which OpenCV hands to INTER_AREA, gives
  the same numbers.)
* RGB2GRAY (color_rgb.simd.hpp RGB2Gray<uchar>): (9798 R + 19235 G + 3735 B + 2^14) >> 15.

Checked against OpenCV 4.6.0 (Debian's python3-opencv, x86-64) on 28 random and
natural images (14 sizes from 14x14 to 1260x960), and RGB2GRAY on all 2^24
colours: no pixel differs. All integers stay below 2^31 (int32 throughout).
The DINOv2 normalisation is computed in double, as the reference does in numpy,
and cast to float32 at the end.

Throughput mode (throughput.py) builds a fixed variant of dinov2_preprocess: the
same resize and normalisation, but every image is resized straight to DINOv2's
input for one configured image size (the reference's rule applied to that size:
640 x 480 -> 630 x 462), so the output has static dims. An image that already has
the configured size gives bit for bit what the default graph gives, since both
then resize to the same target. superpoint_preprocess has no fixed variant:
SuperPoint does not batch (throughput.py says why) and keeps each image's size.
"""

from __future__ import annotations

import onnx

import numpy as np

from .glue_builder import DOUBLE, FLOAT, INT32, INT64, UINT8, GraphBuilder
from .serving import dinov2_size

SUPERPOINT_CELL = 8

DINO_PATCH = 14
# The reference caps the longer side to bound the ViT's quadratic attention cost.
DINO_MAX_SIDE = 630
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


_FIXED_ONE = 2048  # OpenCV INTER_RESIZE_COEF_SCALE
GRAY_FIXED = (9798, 19235, 3735)  # OpenCV R2Y, G2Y, B2Y with a 15-bit shift


def _axis_weights(g: GraphBuilder, src: str, dst: str, clamp_fraction: bool):
    """Per output index: the two source indices and their 11-bit weights (int64, int64, int32, int32)."""
    src_d = g.op("Cast", src, to=DOUBLE)
    scale = g.op("Div", g.const(1.0, np.float64), g.op("Div", g.op("Cast", dst, to=DOUBLE), src_d))
    index = g.op("Cast", g.op("Range", g.const(0, np.int64), g.op("Squeeze", dst, g.i64(0)), g.const(1, np.int64)), to=DOUBLE)
    position = g.op("Cast", g.op("Sub", g.op("Mul", g.op("Add", index, g.const(0.5, np.float64)), scale), g.const(0.5, np.float64)), to=FLOAT)
    floor = g.op("Floor", position)
    fraction = g.op("Sub", position, floor)
    lower = g.op("Cast", floor, to=INT64)
    last = g.op("Sub", src, g.i64(1))
    if clamp_fraction:
        zero_f = g.const(0.0)
        below = g.op("Less", lower, g.i64(0))
        fraction = g.op("Where", below, zero_f, fraction)
        lower = g.op("Where", below, g.i64(0), lower)
        beyond = g.op("GreaterOrEqual", lower, last)
        fraction = g.op("Where", beyond, zero_f, fraction)
        lower = g.op("Where", beyond, last, lower)
    one = g.const(float(_FIXED_ONE))
    weight0 = g.op("Cast", g.op("Round", g.op("Mul", g.op("Sub", g.const(1.0), fraction), one)), to=INT32)
    weight1 = g.op("Cast", g.op("Round", g.op("Mul", fraction, one)), to=INT32)

    def clamp(i: str) -> str:
        return g.op("Min", g.op("Max", i, g.i64(0)), last)

    return clamp(lower), clamp(g.op("Add", lower, g.i64(1))), weight0, weight1


def _resize_like_cv2(g: GraphBuilder, image: str, height: str, width: str) -> str:
    """cv2.resize(image, (width, height), interpolation=INTER_LINEAR) of a uint8 HWC image, as int32 HWC."""
    pixels = g.op("Cast", image, to=INT32)
    x0, x1, wx0, wx1 = _axis_weights(g, g.dim(image, 1), width, clamp_fraction=True)
    y0, y1, wy0, wy1 = _axis_weights(g, g.dim(image, 0), height, clamp_fraction=False)

    def column_weight(w: str) -> str:
        return g.op("Unsqueeze", w, g.i64(0, 2))

    rows = g.op(
        "Add",
        g.op("Mul", g.op("Gather", pixels, x0, axis=1), column_weight(wx0)),
        g.op("Mul", g.op("Gather", pixels, x1, axis=1), column_weight(wx1)),
    )  # [H, width, 3], pixel * 2048 scale

    def vertical_tap(index: str, weight: str) -> str:
        shifted = g.op("Div", g.op("Gather", rows, index, axis=0), g.const(16, np.int32))
        return g.op("Div", g.op("Mul", shifted, g.op("Unsqueeze", weight, g.i64(1, 2))), g.const(65536, np.int32))

    total = g.op("Add", vertical_tap(y0, wy0), vertical_tap(y1, wy1))
    return g.op("Div", g.op("Add", total, g.const(2, np.int32)), g.const(4, np.int32))


FixedSize = tuple[int, int]  # (width, height), as --throughput-image-size reads


def build_superpoint_preprocess() -> onnx.ModelProto:
    """Each image keeps its size, rounded to SuperPoint's 8 px cell (the reference runs SuperPoint at full resolution)."""
    g = GraphBuilder("superpoint_preprocess")
    image = g.input("image", UINT8, ["height", "width", 3])
    height, width, _ = checked_image_size(g, image)

    # Nearest multiple of 8, rounding down below a remainder of 4 and up from 4 on.
    def to_cell_multiple(size: str) -> str:
        cells = g.op("Div", g.op("Add", size, g.i64(SUPERPOINT_CELL // 2)), g.i64(SUPERPOINT_CELL))
        return g.op("Mul", cells, g.i64(SUPERPOINT_CELL))

    out_h, out_w, out_dims = to_cell_multiple(height), to_cell_multiple(width), ["height8", "width8"]
    resized = _resize_like_cv2(g, image, out_h, out_w)  # [H8, W8, 3]
    weights = g.const(GRAY_FIXED, np.int32, hint="gray_weights")
    weighted = g.op("ReduceSum", g.op("Mul", resized, weights), g.i64(2), keepdims=1)
    gray = g.op("Div", g.op("Add", weighted, g.const(1 << 14, np.int32)), g.const(1 << 15, np.int32))  # [H8, W8, 1]
    scaled = g.op("Div", g.op("Cast", gray, to=FLOAT), g.const(255.0))
    g.output(g.op("Unsqueeze", scaled, g.i64(0)), "image_gray", FLOAT, [1, *out_dims, 1])
    g.output(g.op("Cast", width, to=INT32), "width", INT32, [1])
    g.output(g.op("Cast", height, to=INT32), "height", INT32, [1])
    return g.model("RGB uint8 HWC -> SuperPoint input [1, H8, W8, 1] in [0, 1], plus the original size.")


def dinov2_fixed_size(fixed_size: FixedSize) -> tuple[int, int]:
    """(height, width) of DINOv2's input for images of `fixed_size` (width, height): the rule of the graph below.
    Both sides must keep at least one patch (throughput.ThroughputMode checks the user's size with a message)."""
    width, height = fixed_size
    dino_h, dino_w = dinov2_size(height, width) if width > 0 and height > 0 else (0, 0)
    if min(dino_h, dino_w) < DINO_PATCH:
        raise ValueError(
            f"a fixed image size must give DINOv2 at least one {DINO_PATCH} px patch per side, "
            f"{width}x{height} gives {dino_w}x{dino_h}"
        )
    return dino_h, dino_w


def build_dinov2_preprocess(fixed_size: FixedSize | None = None) -> onnx.ModelProto:
    """`fixed_size` (width, height): every image is resized straight to DINOv2's input for that size
    (throughput mode); None derives it from each image's size."""
    g = GraphBuilder("dinov2_preprocess")
    image = g.input("image", UINT8, ["height", "width", 3])
    height, width, guard = checked_image_size(g, image)
    if fixed_size is not None:
        out_h_value, out_w_value = dinov2_fixed_size(fixed_size)
        out_h, out_w = g.op("Add", g.i64(out_h_value), guard), g.op("Add", g.i64(out_w_value), guard)
        return _dinov2_normalise(g, image, out_h, out_w, [out_h_value, out_w_value])
    out_h, out_w = _dinov2_input_size(g, height, width)
    return _dinov2_normalise(g, image, out_h, out_w, ["height14", "width14"])


def _dinov2_input_size(g: GraphBuilder, height: str, width: str) -> tuple[str, str]:
    """DINOv2's input (height, width) for an image: dino_extract.py DINOExtract._resize_input_image."""
    max_side = g.i64(DINO_MAX_SIDE)
    # Integer floor division reproduces the reference's int(630 * w / h) exactly for any real image size; the
    # divisor is at least 1 so that an image with a zero side reaches checked_image_size's error, not Div's.
    taller = g.op("Greater", height, width)
    capped_h = g.op("Where", taller, max_side, g.op("Div", g.op("Mul", max_side, height), g.op("Max", width, g.i64(1))))
    capped_w = g.op("Where", taller, g.op("Div", g.op("Mul", max_side, width), g.op("Max", height, g.i64(1))), max_side)
    too_large = g.op("Greater", g.op("Max", height, width), max_side)
    target_h = g.op("Where", too_large, capped_h, height)
    target_w = g.op("Where", too_large, capped_w, width)
    patch = g.i64(DINO_PATCH)
    return g.op("Mul", g.op("Div", target_h, patch), patch), g.op("Mul", g.op("Div", target_w, patch), patch)


# ONNX has no assertion operator, so the check is a Reshape that fails, and ONNX Runtime's error names the failing
# node ("... running Reshape node. Name:'<this>' Status Message: ..."), which Triton returns to the client.
IMAGE_TOO_SMALL = (
    f"image too small for OmniGlue: each side must be at least {DINO_PATCH} px, and the longer side at most "
    f"{DINO_MAX_SIDE // DINO_PATCH} times the shorter when it exceeds {DINO_MAX_SIDE} px, so that DINOv2 gets one "
    f"{DINO_PATCH} px patch per side (google-research/omniglue dino_extract.py fails on such images too)"
)


def checked_image_size(g: GraphBuilder, image: str) -> tuple[str, str, str]:
    """(height, width, guard) of an HWC image: int64 [1] each. guard is a zero the caller adds into everything
    it computes, so that an image the reference cannot take fails the run first, with IMAGE_TOO_SMALL.

    The reference's cv2.resize raises for an image whose DINOv2 input would have a zero side
    (dino_extract.py _resize_input_image); SuperPoint's minimum (4 px, superpoint_extract.py) is below that.
    """
    raw_h, raw_w = g.dim(image, 0), g.dim(image, 1)
    dino_h, dino_w = _dinov2_input_size(g, raw_h, raw_w)
    patch = g.i64(DINO_PATCH)
    fits = g.op("And", g.op("GreaterOrEqual", dino_h, patch), g.op("GreaterOrEqual", dino_w, patch))
    one_or_two = g.op("Where", fits, g.i64(1), g.i64(2))
    guard = g.op("Reshape", g.i64(0), one_or_two, node_name=IMAGE_TOO_SMALL)  # [1] -> [2] fails
    return g.op("Add", raw_h, guard), g.op("Add", raw_w, guard), guard


def _dinov2_normalise(g: GraphBuilder, image: str, out_h: str, out_w: str, out_dims: list) -> onnx.ModelProto:
    resized = g.op("Cast", _resize_like_cv2(g, image, out_h, out_w), to=DOUBLE)  # [H14, W14, 3]
    unit = g.op("Div", resized, g.const(255.0, np.float64))
    normalised_hwc = g.op("Div", g.op("Sub", unit, g.const(IMAGENET_MEAN, np.float64)), g.const(IMAGENET_STD, np.float64))
    normalised = g.op("Unsqueeze", g.op("Transpose", g.op("Cast", normalised_hwc, to=FLOAT), perm=[2, 0, 1]), g.i64(0))
    g.output(normalised, "pixel_values", FLOAT, [1, 3, *out_dims])
    return g.model("RGB uint8 HWC -> DINOv2 input [1, 3, H14, W14]: longer side <= 630, multiples of 14, ImageNet-normalised.")
