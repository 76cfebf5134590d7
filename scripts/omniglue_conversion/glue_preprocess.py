"""Image preprocessing graphs: decoded RGB (UINT8, H x W x 3) to each network's input.

Both follow the reference (google-research/omniglue superpoint_extract.py and
dino_extract.py): cv2.resize with INTER_LINEAR on the uint8 image, then the
per-network normalisation. ONNX Resize in `linear` mode with `half_pixel`
coordinates and no antialiasing is the same interpolation as cv2's INTER_LINEAR
(pixel centres aligned, source coordinates clamped at the borders). cv2 computes
it in 11-bit fixed point and stores uint8; the graphs compute in float32 and
round to integers where cv2 stores uint8, so results agree to within one grey
level on a few pixels.
"""

from __future__ import annotations

import onnx

from .glue_builder import FLOAT, INT32, UINT8, GraphBuilder

# cv2.COLOR_RGB2GRAY's weights (ITU-R BT.601), as the reference converts.
GRAY_WEIGHTS = (0.299, 0.587, 0.114)
SUPERPOINT_CELL = 8

DINO_PATCH = 14
# The reference caps the longer side to bound the ViT's quadratic attention cost.
DINO_MAX_SIDE = 630
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _image_as_nchw(g: GraphBuilder, image: str) -> str:
    hwc = g.op("Cast", image, to=FLOAT)
    return g.op("Unsqueeze", g.op("Transpose", hwc, perm=[2, 0, 1]), g.i64(0))


def _resize_like_cv2(g: GraphBuilder, nchw: str, height: str, width: str) -> str:
    """Bilinear resize to (height, width), then round as cv2 does when it writes uint8."""
    sizes = g.op("Concat", g.i64(1), g.dim(nchw, 1), height, width, axis=0)
    resized = g.op("Resize", nchw, "", "", sizes, mode="linear", coordinate_transformation_mode="half_pixel")
    return g.op("Round", resized)


def build_superpoint_preprocess() -> onnx.ModelProto:
    g = GraphBuilder("superpoint_preprocess")
    image = g.input("image", UINT8, ["height", "width", 3])
    height, width = g.dim(image, 0), g.dim(image, 1)

    # Nearest multiple of 8, rounding down below a remainder of 4 and up from 4 on.
    def to_cell_multiple(size: str) -> str:
        cells = g.op("Div", g.op("Add", size, g.i64(SUPERPOINT_CELL // 2)), g.i64(SUPERPOINT_CELL))
        return g.op("Mul", cells, g.i64(SUPERPOINT_CELL))

    resized = _resize_like_cv2(g, _image_as_nchw(g, image), to_cell_multiple(height), to_cell_multiple(width))
    weights = g.const([[[[GRAY_WEIGHTS[0]]], [[GRAY_WEIGHTS[1]]], [[GRAY_WEIGHTS[2]]]]], hint="gray_weights")
    gray = g.op("Round", g.op("ReduceSum", g.op("Mul", resized, weights), g.i64(1), keepdims=1))
    scaled = g.op("Div", gray, g.const(255.0))
    g.output(g.op("Transpose", scaled, perm=[0, 2, 3, 1]), "image_gray", FLOAT, [1, "height8", "width8", 1])
    g.output(g.op("Cast", width, to=INT32), "width", INT32, [1])
    g.output(g.op("Cast", height, to=INT32), "height", INT32, [1])
    return g.model("RGB uint8 HWC -> SuperPoint input [1, H8, W8, 1] in [0, 1], plus the original size.")


def build_dinov2_preprocess() -> onnx.ModelProto:
    g = GraphBuilder("dinov2_preprocess")
    image = g.input("image", UINT8, ["height", "width", 3])
    height, width = g.dim(image, 0), g.dim(image, 1)
    max_side = g.i64(DINO_MAX_SIDE)

    # Integer floor division reproduces the reference's int(630 * w / h) exactly for any real image size.
    taller = g.op("Greater", height, width)
    capped_h = g.op("Where", taller, max_side, g.op("Div", g.op("Mul", max_side, height), width))
    capped_w = g.op("Where", taller, g.op("Div", g.op("Mul", max_side, width), height), max_side)
    too_large = g.op("Greater", g.op("Max", height, width), max_side)
    target_h = g.op("Where", too_large, capped_h, height)
    target_w = g.op("Where", too_large, capped_w, width)
    patch = g.i64(DINO_PATCH)
    out_h = g.op("Mul", g.op("Div", target_h, patch), patch)
    out_w = g.op("Mul", g.op("Div", target_w, patch), patch)

    resized = _resize_like_cv2(g, _image_as_nchw(g, image), out_h, out_w)
    unit = g.op("Div", resized, g.const(255.0))
    mean = g.const([[[[m]] for m in IMAGENET_MEAN]], hint="imagenet_mean")
    std = g.const([[[[s]] for s in IMAGENET_STD]], hint="imagenet_std")
    normalised = g.op("Div", g.op("Sub", unit, mean), std)
    g.output(normalised, "pixel_values", FLOAT, [1, 3, "height14", "width14"])
    return g.model("RGB uint8 HWC -> DINOv2 input [1, 3, H14, W14]: longer side <= 630, multiples of 14, ImageNet-normalised.")
