"""SuperPoint v6 (TF1 SavedModel, tag `serve`) to ONNX.

rpautrat's export_model.py writes the SavedModel with `simple_save`, whose
`serving_default` signature exposes the input `image` and the outputs
`descriptors`, `descriptors_raw`, `logits`, `pred`, `prob`, `prob_nms`. The
ensemble keeps `prob_nms` and `descriptors_raw`; pruning the rest removes the
full-resolution descriptor upsampling (~315 MB per 640x480 image) from the graph.
"""

from __future__ import annotations

from pathlib import Path

from .archives import extract_archive, find_saved_model
from .contract import ModelSpec
from .logs import StageLogger
from .tf2onnx_runner import convert_saved_model
from .weights import FetchedWeight


def export_superpoint(weight: FetchedWeight, spec: ModelSpec, work_dir: Path, log: StageLogger) -> Path:
    extracted = extract_archive(weight.path, weight.sha256, weight.path.parent)
    saved_model = find_saved_model(extracted, "SuperPoint")
    return convert_saved_model(
        saved_model, work_dir / "superpoint.onnx", spec, log, tag="serve", signature="serving_default"
    )
