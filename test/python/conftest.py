"""Shared fixtures: scripts/ on sys.path, the real model contract, tiny ONNX models."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest


def _missing_system_packages() -> list[str]:
    """Packages of scripts/setup/system-packages.txt whose Python module is absent (see scripts/setup/check.mjs)."""
    listing = Path(__file__).resolve().parents[2] / "scripts" / "setup" / "system-packages.txt"
    missing = []
    for line in listing.read_text().splitlines():
        fields = re.sub(r"#.*", "", line).split()
        if len(fields) >= 2 and fields[1].startswith("import:"):
            try:
                found = importlib.util.find_spec(fields[1][len("import:"):]) is not None
            except ImportError:
                found = False
            if not found:
                missing.append(fields[0])
    return missing


if _missing := _missing_system_packages():
    pytest.exit(f"Missing system package(s) for the tests: {', '.join(_missing)}. Install them with `npm run setup`.", returncode=4)

import io
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

from omniglue_conversion.contract import NUMPY_DTYPES, ONNX_ELEM_TYPES, ModelSpec, load_contract  # noqa: E402
from omniglue_conversion.logs import StageLogger  # noqa: E402

TSX = REPO_ROOT / "node_modules" / ".bin" / "tsx"


def run_tsx(args: list[str], timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(TSX), *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def contract_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    script = REPO_ROOT / "tools" / "export-model-contract.ts"
    if not script.is_file() or not TSX.exists():
        pytest.skip("tools/export-model-contract.ts or tsx is not available")
    out = tmp_path_factory.mktemp("contract") / "contract.json"
    completed = run_tsx([str(script.relative_to(REPO_ROOT)), str(out)])
    assert completed.returncode == 0, completed.stderr
    return out


@pytest.fixture(scope="session")
def contract(contract_path: Path):
    return load_contract(contract_path)


@pytest.fixture()
def log() -> StageLogger:
    return StageLogger(io.StringIO())


def _np_dtype(elem: int) -> np.dtype:
    if hasattr(helper, "tensor_dtype_to_np_dtype"):  # onnx >= 1.13
        return helper.tensor_dtype_to_np_dtype(elem)
    return onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[elem]


def make_onnx_model(spec: ModelSpec, *, fill: int = 3) -> onnx.ModelProto:
    """A valid model with `spec`'s interface whose outputs are constants (a batch of one for a batching spec,
    whose ONNX tensors have a dynamic leading batch dim that the config dims leave out)."""
    batch = [-1] if spec.max_batch_size > 0 else []

    def declared(t):
        return [d if d != -1 else f"{t.name}_{i}" for i, d in enumerate(batch + list(t.dims))]

    inputs = [helper.make_tensor_value_info(t.name, ONNX_ELEM_TYPES[t.data_type], declared(t)) for t in spec.inputs]
    outputs, nodes = [], []
    for t in spec.outputs:
        elem = ONNX_ELEM_TYPES[t.data_type]
        shape = [1] * len(batch) + [d if d != -1 else fill for d in t.dims]
        value = np.zeros(shape, dtype=_np_dtype(elem))
        nodes.append(helper.make_node("Constant", [], [t.name], value=numpy_helper.from_array(value)))
        outputs.append(helper.make_tensor_value_info(t.name, elem, declared(t)))
    graph = helper.make_graph(nodes, spec.name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_models(contract, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in contract.onnx_models:
        path = directory / f"{name}.onnx"
        onnx.save(make_onnx_model(contract.models[name]), str(path))
        paths[name] = path
    return paths


def copy_model_configs(target: Path) -> Path:
    shutil.copytree(REPO_ROOT / "model_repository", target)
    return target


class LineageSessions:
    """Fake sessions whose outputs carry the OR of their inputs' lineage bits.

    image0 is filled with 1 and image1 with 2, so a tensor derived from one
    image only carries that image's bit, and a mix-up shows as 3.
    """

    def __init__(self, contract, fill: int = 12, shape_override=None):
        self.contract = contract
        self.fill = fill
        self.shape_override = shape_override or {}
        self.calls: list[tuple[str, dict[str, int]]] = []

    def __call__(self, model_name):
        sessions = self

        class Session:
            def run(self, names, feeds):
                lineage = {k: int(np.asarray(v).flat[0]) if np.asarray(v).size else 0 for k, v in feeds.items()}
                sessions.calls.append((model_name, lineage))
                mask = 0
                for bits in lineage.values():
                    mask |= bits
                spec = sessions.contract.models[model_name]
                outputs = []
                for name in names:
                    tensor = spec.output(name)
                    shape = sessions.shape_override.get((model_name, name)) or [
                        *([1] if spec.max_batch_size > 0 else []), *(d if d != -1 else sessions.fill for d in tensor.dims)
                    ]
                    outputs.append(np.full(shape, mask, dtype=NUMPY_DTYPES[tensor.data_type]))
                return outputs

        return Session()
