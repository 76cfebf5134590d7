"""The model contract (written by tools/export-model-contract.ts) and ONNX validation.

Validation mirrors what Triton's ONNX Runtime backend checks when it loads a
model, so a repository that passes here does not fail at server start
(triton-inference-server/onnxruntime_backend src/onnxruntime_utils.cc
CompareDimsSupported, called from src/onnxruntime.cc
ModelInstanceState::ValidateInputs with compare_exact=false and
ModelInstanceState::ValidateOutputs with compare_exact=true):
- input and output names: the same sets;
- element types equal;
- ranks equal; with maxBatchSize > 0 the ONNX shape is [-1] + config dims, so
  its first dim must be dynamic;
- inputs: a static ONNX dim must equal the config dim (a config -1 against a
  static ONNX dim is refused); a dynamic ONNX dim accepts any config dim, and
  the sample inference then checks every produced tensor's actual dims;
- outputs: every ONNX dim must equal the config dim exactly, a dynamic ONNX dim
  only where the config says -1 and a static one only where it gives that size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import onnx

from . import bounded_json
from .errors import ContractError

# The contract of the ensemble is ~20 KiB.
MAX_CONTRACT_BYTES = 4 << 20

# Triton data types (model_config.proto) to ONNX element types.
ONNX_ELEM_TYPES: Mapping[str, int] = {
    "TYPE_BOOL": onnx.TensorProto.BOOL,
    "TYPE_UINT8": onnx.TensorProto.UINT8,
    "TYPE_UINT16": onnx.TensorProto.UINT16,
    "TYPE_UINT32": onnx.TensorProto.UINT32,
    "TYPE_UINT64": onnx.TensorProto.UINT64,
    "TYPE_INT8": onnx.TensorProto.INT8,
    "TYPE_INT16": onnx.TensorProto.INT16,
    "TYPE_INT32": onnx.TensorProto.INT32,
    "TYPE_INT64": onnx.TensorProto.INT64,
    "TYPE_FP16": onnx.TensorProto.FLOAT16,
    "TYPE_FP32": onnx.TensorProto.FLOAT,
    "TYPE_FP64": onnx.TensorProto.DOUBLE,
    "TYPE_BF16": onnx.TensorProto.BFLOAT16,
    "TYPE_STRING": onnx.TensorProto.STRING,
}

# Same mapping to numpy dtype names, for checking tensors produced at run time.
NUMPY_DTYPES: Mapping[str, str] = {
    "TYPE_BOOL": "bool",
    "TYPE_UINT8": "uint8",
    "TYPE_UINT16": "uint16",
    "TYPE_UINT32": "uint32",
    "TYPE_UINT64": "uint64",
    "TYPE_INT8": "int8",
    "TYPE_INT16": "int16",
    "TYPE_INT32": "int32",
    "TYPE_INT64": "int64",
    "TYPE_FP16": "float16",
    "TYPE_FP32": "float32",
    "TYPE_FP64": "float64",
    "TYPE_STRING": "object",
}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    data_type: str
    dims: tuple[int, ...]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    platform: str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def input(self, name: str) -> TensorSpec:
        return next(t for t in self.inputs if t.name == name)

    def output(self, name: str) -> TensorSpec:
        return next(t for t in self.outputs if t.name == name)


@dataclass(frozen=True)
class Step:
    model_name: str
    input_map: Mapping[str, str]
    output_map: Mapping[str, str]


@dataclass(frozen=True)
class Contract:
    ensemble: str
    models: Mapping[str, ModelSpec]
    steps: tuple[Step, ...]

    @property
    def ensemble_spec(self) -> ModelSpec:
        return self.models[self.ensemble]

    @property
    def onnx_models(self) -> list[str]:
        return sorted(n for n, m in self.models.items() if n != self.ensemble)


def _tensor(raw: Mapping[str, Any], where: str) -> TensorSpec:
    try:
        dims = tuple(int(d) for d in raw["dims"])
        return TensorSpec(name=str(raw["name"]), data_type=str(raw["dataType"]), dims=dims)
    except (KeyError, TypeError, ValueError) as exc:
        raise ContractError(f"malformed tensor entry in {where}: {raw!r} ({exc})") from exc


_MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def parse_contract(raw: Mapping[str, Any], source: str = "contract") -> Contract:
    try:
        models = {
            name: ModelSpec(
                name=name,
                platform=str(m["platform"]),
                max_batch_size=int(m["maxBatchSize"]),
                inputs=tuple(_tensor(t, f"{source}: {name}.inputs") for t in m["inputs"]),
                outputs=tuple(_tensor(t, f"{source}: {name}.outputs") for t in m["outputs"]),
            )
            for name, m in raw["models"].items()
        }
        steps = tuple(
            Step(model_name=str(s["modelName"]), input_map=dict(s["inputMap"]), output_map=dict(s["outputMap"]))
            for s in raw["steps"]
        )
        ensemble = str(raw["ensemble"])
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ContractError(f"{source} is not a model contract: missing or malformed {exc}") from exc
    for name in models:
        # Model names become directories of the published repository (publish.py): no separator, no "..",
        # no control character (fullmatch, since re.match(r"...$") would let "x\n" through).
        if not _MODEL_NAME.fullmatch(name):
            raise ContractError(f"{source}: model name {name!r} is not 1-128 characters from [A-Za-z0-9_.-] starting with a letter, digit or _")
    if ensemble not in models:
        raise ContractError(f"{source}: ensemble {ensemble!r} is not among its models {sorted(models)}")
    for step in steps:
        if step.model_name not in models:
            raise ContractError(f"{source}: step model {step.model_name!r} is not among its models")
    return Contract(ensemble=ensemble, models=models, steps=steps)


def load_contract(path: Path) -> Contract:
    try:
        raw = bounded_json.read(Path(path), MAX_CONTRACT_BYTES)
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ContractError(f"cannot read the model contract {path}: {exc}") from exc
    return parse_contract(raw, str(path))


def _elem_type_name(elem_type: int) -> str:
    return onnx.TensorProto.DataType.Name(elem_type)


def _onnx_dims(info: onnx.ValueInfoProto) -> list[int] | None:
    """Static dims as ints, dynamic ones as -1; None when the rank is unknown."""
    tensor_type = info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else -1 for d in tensor_type.shape.dim]


def _check_tensor(model: str, kind: str, spec: TensorSpec, info: onnx.ValueInfoProto, max_batch: int) -> list[str]:
    where = f"model {model!r} {kind} {spec.name!r}"
    problems: list[str] = []
    expected_type = ONNX_ELEM_TYPES.get(spec.data_type)
    actual_type = info.type.tensor_type.elem_type
    if expected_type is None:
        problems.append(f"{where}: contract data type {spec.data_type} has no ONNX equivalent")
    elif actual_type != expected_type:
        problems.append(
            f"{where}: element type expected {spec.data_type} ({_elem_type_name(expected_type)}), "
            f"ONNX has {_elem_type_name(actual_type)}"
        )
    dims = _onnx_dims(info)
    if dims is None:
        problems.append(f"{where}: ONNX declares no shape, expected dims {list(spec.dims)}")
        return problems
    return problems + _dims_problems(where, kind, spec, dims, max_batch)


def _dims_problems(where: str, kind: str, spec: TensorSpec, dims: list[int], max_batch: int) -> list[str]:
    """The onnxruntime backend's CompareDimsSupported on ONNX dims (-1 for a dynamic one) against the contract's."""
    problems: list[str] = []
    if max_batch > 0:
        if not dims or dims[0] != -1:
            problems.append(f"{where}: maxBatchSize {max_batch} needs a dynamic leading batch dim, ONNX has {dims}")
            return problems
        dims = dims[1:]
    if len(dims) != len(spec.dims):
        problems.append(f"{where}: rank expected {len(spec.dims)} {list(spec.dims)}, ONNX has rank {len(dims)} {dims}")
        return problems
    # Outputs are compared exactly (compare_exact=true in ValidateOutputs): a dynamic ONNX dim counts as -1.
    exact = kind == "output"
    for axis, (want, have) in enumerate(zip(spec.dims, dims)):
        if have == want or (have == -1 and not exact):
            continue
        expected = want if want != -1 else "-1 (dynamic)"
        actual = f"static {have}" if have != -1 else "a dynamic dim (Triton compares output dims exactly)"
        problems.append(f"{where}: dim {axis} expected {expected}, ONNX has {actual}")
    return problems


def session_interface_problems(spec: ModelSpec, session: Any) -> list[str]:
    """The same dims rule on the shapes an onnxruntime session reports after loading the file.

    Triton reads a model's interface from its ONNX Runtime session (onnxruntime_backend src/onnxruntime.cc,
    InputInfos/OutputInfos), not from the file, and load-time shape inference may fix a dim the file leaves
    symbolic; outputs are compared exactly, so this is checked on the session too.
    """
    problems: list[str] = []
    for kind, specs, args in (("input", spec.inputs, session.get_inputs()), ("output", spec.outputs, session.get_outputs())):
        reported = {arg.name: arg.shape for arg in args}
        for tensor in specs:
            where = f"model {spec.name!r} {kind} {tensor.name!r} (as ONNX Runtime loads it)"
            if tensor.name not in reported:
                problems.append(f"{where}: missing; the session has {sorted(reported)}")
                continue
            dims = [d if isinstance(d, int) and d >= 0 else -1 for d in reported[tensor.name] or []]
            problems.extend(_dims_problems(where, kind, tensor, dims, spec.max_batch_size))
    return problems


def check_onnx_model(spec: ModelSpec, model: onnx.ModelProto) -> list[str]:
    """Every mismatch between one ONNX graph's interface and its contract entry."""
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    inputs = {i.name: i for i in graph.input if i.name not in initializers}
    outputs = {o.name: o for o in graph.output}
    problems: list[str] = []
    for kind, specs, present in (("input", spec.inputs, inputs), ("output", spec.outputs, outputs)):
        wanted = {t.name for t in specs}
        missing = sorted(wanted - present.keys())
        extra = sorted(present.keys() - wanted)
        if missing:
            problems.append(f"model {spec.name!r}: {kind}s missing from ONNX: {missing} (ONNX has {sorted(present)})")
        if extra:
            problems.append(f"model {spec.name!r}: ONNX {kind}s not in the contract: {extra}")
        for tensor in specs:
            if tensor.name in present:
                problems.extend(_check_tensor(spec.name, kind, tensor, present[tensor.name], spec.max_batch_size))
    return problems


def validate_models(contract: Contract, model_paths: Mapping[str, Path]) -> None:
    """Validates every ONNX model of the contract; raises listing all problems."""
    problems: list[str] = []
    for name in contract.onnx_models:
        spec = contract.models[name]
        if spec.platform != "onnxruntime_onnx":
            problems.append(f"model {name!r}: platform {spec.platform!r} is not onnxruntime_onnx")
            continue
        path = model_paths.get(name)
        if path is None:
            problems.append(f"model {name!r}: no ONNX file was produced for it")
            continue
        try:
            model = onnx.load(str(path), load_external_data=False)
            onnx.checker.check_model(model)
        except Exception as exc:  # onnx raises several unrelated types here
            problems.append(f"model {name!r}: {path} is not a valid ONNX model: {exc}")
            continue
        problems.extend(check_onnx_model(spec, model))
    unknown = sorted(set(model_paths) - set(contract.onnx_models))
    if unknown:
        problems.append(f"ONNX files produced for models that are not in the contract: {unknown}")
    if problems:
        raise ContractError(
            f"{len(problems)} mismatch(es) between the ONNX models and the contract:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
