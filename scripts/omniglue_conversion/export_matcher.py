"""OmniGlue matcher (TF2 SavedModel og_export, signature `serving_default`) to ONNX.

The signature's input keys are already the contract names (keypoints0, ...,
height1); tf2onnx keeps signature names for saved models, and
fit_to_contract() also accepts `name:0` spellings. Only `soft_assignment` is
kept as output.
"""

from __future__ import annotations

from pathlib import Path

from .archives import extract_archive, find_saved_model
from .contract import ModelSpec
from .logs import StageLogger
from .tf2onnx_runner import convert_saved_model
from .weights import FetchedWeight


def export_matcher(weight: FetchedWeight, spec: ModelSpec, work_dir: Path, log: StageLogger) -> Path:
    extracted = extract_archive(weight.path, weight.sha256, weight.path.parent)
    saved_model = find_saved_model(extracted, "OmniGlue")
    return convert_saved_model(
        saved_model, work_dir / "omniglue.onnx", spec, log, tag="serve", signature="serving_default"
    )
