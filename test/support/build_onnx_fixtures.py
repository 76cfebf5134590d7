"""Builds every ONNX model the TypeScript tests run, into one directory.

    /usr/bin/python3 test/support/build_onnx_fixtures.py OUT_DIR

OUT_DIR/models/<model>/1/model.onnx: the five glue graphs as
`python3 -m omniglue_conversion.glue_graphs` builds them (K = 1024) and the three
random-weight stand-in networks (stand_in_networks.py); OUT_DIR/k8/...: the glue
graphs with K = 8, for selection tests on small maps; OUT_DIR/throughput/...: the two
models throughput mode changes, for 640 x 480 images (scripts/omniglue_conversion/throughput.py):
dinov2_preprocess resizing every image to DINOv2's 630 x 462, and the dinov2 stand-in
with a batch axis and that fixed input.
test/support/onnx-fixtures.ts
calls this once per change of its sources and caches OUT_DIR.
"""

from __future__ import annotations

import pathlib
import sys

import onnx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from omniglue_conversion.glue_graphs import build_glue_model, build_glue_models  # noqa: E402
from omniglue_conversion.serving import dinov2_size  # noqa: E402
from stand_in_networks import build_stand_ins  # noqa: E402

# The typical image (docs/performance.md), as (width, height).
THROUGHPUT_IMAGE_SIZE = (640, 480)


def build_throughput_fixtures(out: pathlib.Path, image_size: tuple[int, int] = THROUGHPUT_IMAGE_SIZE) -> dict[str, pathlib.Path]:
    """out/{dinov2_preprocess,dinov2}/1/model.onnx for images of `image_size` (width, height); the paths by model."""
    path = out / "dinov2_preprocess" / "1" / "model.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(build_glue_model("dinov2_preprocess", fixed_image_size=image_size), str(path))
    width, height = image_size
    return {"dinov2_preprocess": path, **build_stand_ins(out, throughput_hw=dinov2_size(height, width))}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = pathlib.Path(argv[0])
    build_glue_models(out / "models")
    build_stand_ins(out / "models")
    build_glue_models(out / "k8", keypoint_count=8)
    build_throughput_fixtures(out / "throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
