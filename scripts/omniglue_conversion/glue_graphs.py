"""Builds the weight-free glue models of omniglue_ensemble as ONNX files.

    python3 -m omniglue_conversion.glue_graphs --out DIR [--keypoint-count K] [--fixed-image-size WxH]

(run from scripts/, or with scripts/ on PYTHONPATH) writes DIR/<model>/1/model.onnx
for each glue model. Tensor names, types and ranks match model_repository/*/config.pbtxt.
--keypoint-count is the most keypoints kept per image (the reference's num_features,
1024); the keypoint dimension itself is dynamic, so the configs do not depend on it.
--fixed-image-size builds throughput mode's dinov2_preprocess, which resizes every image to
DINOv2's input for that image size (throughput.py); the other glue models do not depend on it.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Callable

import onnx

from .glue_matches import build_omniglue_match_extraction
from .errors import UsageError
from .glue_preprocess import FixedSize, build_dinov2_preprocess, build_superpoint_preprocess
from .glue_sampling import build_dinov2_keypoint_sampler, build_superpoint_keypoints
from .serving import MIN_IMAGE_SIDE
from .throughput import MAX_ASPECT_RATIO, MAX_IMAGE_SIDE, SIZE_FLAG, ThroughputMode, parse_image_size

DEFAULT_KEYPOINT_COUNT = 1024

# Each builder gets the keypoint count and the fixed image size (None: every image keeps its size).
_BUILDERS: dict[str, Callable[[int, FixedSize | None], onnx.ModelProto]] = {
    "superpoint_preprocess": lambda _k, _size: build_superpoint_preprocess(),
    "superpoint_keypoints": lambda k, _size: build_superpoint_keypoints(k),
    "dinov2_preprocess": lambda _k, size: build_dinov2_preprocess(size),
    "dinov2_keypoint_sampler": lambda k, _size: build_dinov2_keypoint_sampler(k),
    "omniglue_match_extraction": lambda _k, _size: build_omniglue_match_extraction(),
}

GLUE_MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def build_glue_model(
    name: str, keypoint_count: int = DEFAULT_KEYPOINT_COUNT, fixed_image_size: FixedSize | None = None
) -> onnx.ModelProto:
    if name not in _BUILDERS:
        raise ValueError(f"unknown glue model {name!r}; glue models are {', '.join(GLUE_MODEL_NAMES)}")
    return _BUILDERS[name](keypoint_count, fixed_image_size)


def build_glue_models(
    out_dir: pathlib.Path, keypoint_count: int = DEFAULT_KEYPOINT_COUNT, fixed_image_size: FixedSize | None = None
) -> dict[str, pathlib.Path]:
    """Writes <out_dir>/<model>/1/model.onnx for every glue model; returns the paths by model name.

    `fixed_image_size` (width, height) builds throughput mode's dinov2_preprocess."""
    if keypoint_count < 1:
        raise ValueError(f"keypoint_count must be at least 1, got {keypoint_count}")
    written: dict[str, pathlib.Path] = {}
    for name in GLUE_MODEL_NAMES:
        path = pathlib.Path(out_dir) / name / "1" / "model.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(build_glue_model(name, keypoint_count, fixed_image_size), str(path))
        written[name] = path
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m omniglue_conversion.glue_graphs", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, required=True, help="model repository directory to write into")
    parser.add_argument(
        "--keypoint-count",
        type=int,
        default=DEFAULT_KEYPOINT_COUNT,
        help=f"most keypoints kept per image (default {DEFAULT_KEYPOINT_COUNT}, the reference's num_features)",
    )
    parser.add_argument(
        "--fixed-image-size",
        metavar="WIDTHxHEIGHT",
        help="build throughput mode's dinov2_preprocess, which resizes every image to DINOv2's input for this "
        f"image size (each side {MIN_IMAGE_SIDE}-{MAX_IMAGE_SIDE}, aspect ratio at most {MAX_ASPECT_RATIO}:1; "
        "conversion --throughput-image-size)",
    )
    args = parser.parse_args(argv)
    try:
        fixed = None
        if args.fixed_image_size is not None:
            mode = ThroughputMode(*parse_image_size(args.fixed_image_size, "--fixed-image-size"))
            fixed = (mode.image_width, mode.image_height)
        for name, path in build_glue_models(args.out, args.keypoint_count, fixed).items():
            print(f"{name}: {path}")
    except UsageError as err:
        parser.error(err.message.replace(SIZE_FLAG, "--fixed-image-size"))
    except ValueError as err:
        parser.error(str(err))
    return 0


if __name__ == "__main__":
    sys.exit(main())
