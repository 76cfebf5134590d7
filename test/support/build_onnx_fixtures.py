"""Builds every ONNX model the TypeScript tests run, into one directory.

    /usr/bin/python3 test/support/build_onnx_fixtures.py OUT_DIR

OUT_DIR/models/<model>/1/model.onnx: the five glue graphs as
`python3 -m omniglue_conversion.glue_graphs` builds them (K = 1024) and the three
random-weight stand-in networks (stand_in_networks.py); OUT_DIR/k8/...: the glue
graphs with K = 8, for selection tests on small maps; OUT_DIR/throughput/...: throughput
mode's models at 640 x 480 (scripts/omniglue_conversion/throughput.py): the two fixed
preprocessing graphs and the superpoint and dinov2 stand-ins with a batch axis.
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
from stand_in_networks import build_stand_ins  # noqa: E402

# The typical image (docs/performance.md), as (width, height).
THROUGHPUT_IMAGE_SIZE = (640, 480)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = pathlib.Path(argv[0])
    build_glue_models(out / "models")
    build_stand_ins(out / "models")
    build_glue_models(out / "k8", keypoint_count=8)
    for name in ("superpoint_preprocess", "dinov2_preprocess"):
        path = out / "throughput" / name / "1" / "model.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(build_glue_model(name, fixed_image_size=THROUGHPUT_IMAGE_SIZE), str(path))
    build_stand_ins(out / "throughput", batch_axis=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
