"""The conversion Job run in-process through its command line (omniglue_conversion.cli.main), as the stack starts it,
on weights served from file:// URLs: the test SavedModels packed as the upstream archives."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO_ROOT, make_onnx_model
from omniglue_conversion.cli import main
from omniglue_conversion.export_dinov2 import export_for_contract
from omniglue_conversion.logs import StageLogger
from omniglue_conversion.pipeline import Steps
from savedmodels import pack
from small_dinov2 import small_dinov2

import onnx

VERSION = "toolchain"


def dinov2_stand_in(weight, spec, out_dir: Path, log: StageLogger) -> Path:
    """The Job's DINOv2 export (export_for_contract: torch.onnx, opset 17, the contract's dims) of a one-block 768-wide
    ViT with random weights: ViT-B/14's twelve blocks would add minutes and a 346 MB state dict for no further coverage
    of the TensorFlow path (test_dinov2_export.py covers the loader and the export)."""
    return export_for_contract(small_dinov2(depth=1, heads=4, dim=768), spec, out_dir / "dinov2.onnx", log, sample_hw=(56, 84))


def constant_export(weight, spec, out_dir: Path, log: StageLogger) -> Path:
    """A graph with the contract's interface and constant outputs, for runs that test another model's conversion."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{spec.name}.onnx"
    onnx.save(make_onnx_model(spec), str(path))
    return path


@dataclass
class JobRun:
    code: int
    records: list[dict]
    output_root: Path

    @property
    def published(self) -> Path:
        return self.output_root / "versions" / VERSION

    @property
    def error(self) -> dict:
        return next(r for r in self.records if r["event"] == "error")


def run_job(tmp: Path, contract_path: Path, superpoint: Path, matcher: Path, *, replaced: dict | None = None,
            args: tuple[str, ...] = ()) -> JobRun:
    """One Job run converting `superpoint` and `matcher` (SavedModel directories); `replaced` maps export names to
    stand-in exports (DINOv2's always is one)."""
    mirror = tmp / "mirror"
    sources = {
        "superpoint": pack(superpoint, mirror / "sp_v6.tgz", "sp_v6"),
        "omniglue": pack(matcher, mirror / "og_export.zip", "og_export"),
        "dinov2": mirror / "dinov2_vitb14_pretrain.pth",
    }
    sources["dinov2"].write_bytes(b"unused: the DINOv2 export is a stand-in")
    argv = [
        "--model-configs", str(REPO_ROOT / "model_repository"),
        "--contract", str(contract_path),
        "--output-root", str(tmp / "volume" / "repository"),
        "--version", VERSION,
        "--work-dir", str(tmp / "volume" / "work"),
        *[f"--weights-url={name}={path.as_uri()}" for name, path in sources.items()],
        *args,
    ]
    steps = Steps()
    steps.exports = {**steps.exports, "dinov2": dinov2_stand_in, **(replaced or {})}
    stream = io.StringIO()
    code = main(argv, log=StageLogger(stream), steps=steps)
    return JobRun(code, [json.loads(line) for line in stream.getvalue().splitlines()], tmp / "volume" / "repository")
