"""Runs ONNX models from pytest: in-process with the Job's onnxruntime where it is installed, else with onnxruntime-node.

Debian's python3 (the unit tier) has no onnxruntime; the repository's node_modules has onnxruntime-node (the runtime
the TypeScript tests use), so there the graphs run through it, many runs in one `node` process. Tensors travel as raw
little-endian files next to a JSON list of runs, so a run of megapixel images costs no JSON. In the .venv tier
(test/engines/python/venv/), which runs these tests again on the Job's pinned toolchain, the graphs run in the Job's
own onnxruntime, the runtime of its sample inference.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pytest

try:
    import onnxruntime
except ImportError:
    onnxruntime = None

from conftest import REPO_ROOT

_DTYPES = {"float32": np.float32, "float64": np.float64, "uint8": np.uint8, "int32": np.int32, "int64": np.int64, "bool": np.bool_}

_SCRIPT = r"""
const ort = require('onnxruntime-node');
const fs = require('fs');
const path = require('path');
const dir = process.argv[1];
const runs = JSON.parse(fs.readFileSync(path.join(dir, 'runs.json'), 'utf8'));
const arrays = { float32: Float32Array, float64: Float64Array, uint8: Uint8Array, int32: Int32Array, int64: BigInt64Array, bool: Uint8Array };
(async () => {
  const sessions = new Map();
  const results = [];
  for (const [i, run] of runs.entries()) {
    if (!sessions.has(run.model)) {
      sessions.set(run.model, await ort.InferenceSession.create(run.model, { intraOpNumThreads: 1, interOpNumThreads: 1 }));
    }
    const feeds = {};
    for (const [name, feed] of Object.entries(run.feeds)) {
      const bytes = fs.readFileSync(path.join(dir, feed.file));
      const data = new arrays[feed.dtype](bytes.buffer, bytes.byteOffset, bytes.byteLength / arrays[feed.dtype].BYTES_PER_ELEMENT);
      feeds[name] = new ort.Tensor(feed.dtype, data, feed.shape);
    }
    const outputs = await sessions.get(run.model).run(feeds);
    const described = {};
    for (const [name, tensor] of Object.entries(outputs)) {
      const file = `out-${i}-${name}.bin`;
      const d = tensor.data;
      fs.writeFileSync(path.join(dir, file), Buffer.from(d.buffer, d.byteOffset, d.byteLength));
      described[name] = { file, dtype: tensor.type, shape: tensor.dims };
    }
    results.push(described);
  }
  fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify(results));
})().catch((e) => { console.error(e); process.exit(1); });
"""

Run = tuple[Path, Mapping[str, np.ndarray]]


def available() -> bool:
    return onnxruntime is not None or (
        shutil.which("node") is not None and (REPO_ROOT / "node_modules" / "onnxruntime-node").is_dir()
    )


needs_ort = pytest.mark.skipif(not available(), reason="onnxruntime, or node and onnxruntime-node, are needed to run ONNX graphs")


def _run_in_process(runs: Sequence[Run]) -> list[dict[str, np.ndarray]]:
    sessions: dict[Path, object] = {}
    results = []
    for model, feeds in runs:
        if model not in sessions:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1
            sessions[model] = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        session = sessions[model]
        names = [o.name for o in session.get_outputs()]
        results.append(dict(zip(names, session.run(names, {k: np.ascontiguousarray(v) for k, v in feeds.items()}))))
    return results


def run_models(runs: Sequence[Run]) -> list[dict[str, np.ndarray]]:
    """Each run's outputs by name, in order."""
    if onnxruntime is not None:
        return _run_in_process(runs)
    with tempfile.TemporaryDirectory(prefix="ort-node-") as tmp:
        directory = Path(tmp)
        listing = []
        for i, (model, feeds) in enumerate(runs):
            described = {}
            for name, value in feeds.items():
                value = np.ascontiguousarray(value)
                file = f"in-{i}-{name}.bin"
                (directory / file).write_bytes(value.astype(value.dtype.newbyteorder("<")).tobytes())
                described[name] = {"file": file, "dtype": value.dtype.name, "shape": list(value.shape)}
            listing.append({"model": str(model), "feeds": described})
        (directory / "runs.json").write_text(json.dumps(listing))
        completed = subprocess.run(
            ["node", "-e", _SCRIPT, str(directory)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
        )
        assert completed.returncode == 0, completed.stderr
        results = []
        for described in json.loads((directory / "results.json").read_text()):
            outputs = {}
            for name, entry in described.items():
                raw = np.frombuffer((directory / entry["file"]).read_bytes(), dtype=np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<"))
                outputs[name] = raw.reshape(entry["shape"]).astype(_DTYPES[entry["dtype"]])
            results.append(outputs)
        return results
