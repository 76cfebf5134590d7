"""Runs tf2onnx on a SavedModel and fits the result to its contract entry (onnx_io.fit_to_contract).

tf2onnx runs as `python -m tf2onnx.convert` in a child process: its Python API
has no saved-model entry point (the CLI's `--saved-model` path is the supported
one), and a child process returns TensorFlow's memory to the system before
DINOv2 is exported in the same Job.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Sequence

from .contract import ModelSpec
from .errors import ExportError
from .logs import StageLogger
from .onnx_io import fit_to_contract

OPSET = 17
_TAIL_CHARS = 4000


def tf2onnx_command(saved_model: Path, output: Path, *, tag: str, signature: str, opset: int = OPSET) -> list[str]:
    return [
        sys.executable, "-m", "tf2onnx.convert",
        "--saved-model", str(saved_model),
        "--tag", tag,
        "--signature_def", signature,
        "--opset", str(opset),
        "--output", str(output),
    ]


def run_tf2onnx(command: Sequence[str], what: str, log: StageLogger, timeout_s: float) -> None:
    try:
        completed = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except FileNotFoundError as exc:
        raise ExportError(f"cannot start tf2onnx for {what}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise ExportError(f"tf2onnx for {what} did not finish within {timeout_s:.0f} s") from exc
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout or "")[-_TAIL_CHARS:]
        raise ExportError(
            f"tf2onnx failed for {what} (exit {completed.returncode}): {' '.join(command)}\n{tail}",
            hint="check that tensorflow-cpu and tf2onnx match scripts/requirements-conversion.txt",
        )
    log.event("export", "tf2onnx-done", model=what)


def convert_saved_model(
    saved_model: Path,
    output: Path,
    spec: ModelSpec,
    log: StageLogger,
    *,
    tag: str,
    signature: str,
    timeout_s: float = 3600.0,
) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    run_tf2onnx(tf2onnx_command(saved_model, output, tag=tag, signature=signature), spec.name, log, timeout_s)
    if not output.is_file():
        raise ExportError(f"tf2onnx reported success for {spec.name} but wrote no {output}")
    fit_to_contract(output, spec, log)
    return output
