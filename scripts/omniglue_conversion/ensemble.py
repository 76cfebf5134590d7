"""A small executor of the contract's ensemble, for the Job's sample inference.

It routes tensors the way Triton's ensemble scheduler does (a step runs once
all tensors in its input_map exist) and checks every tensor against the
contract on the way: this is where a dynamic ONNX dim that the config fixes
is confirmed (see contract.py). Sessions come from an injected factory, so the
routing is testable without onnxruntime.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np

from .contract import NUMPY_DTYPES, Contract, Step, TensorSpec, session_interface_problems
from .errors import ContractError, SampleInferenceError
from .logs import StageLogger


class Session(Protocol):
    def run(self, output_names: Sequence[str], feeds: Mapping[str, np.ndarray]) -> Sequence[np.ndarray]: ...


SessionFactory = Callable[[str], Session]


def order_steps(contract: Contract) -> list[Step]:
    """Steps in an order where each one's inputs are already produced."""
    available = {t.name for t in contract.ensemble_spec.inputs}
    producers: dict[str, str] = {}
    for step in contract.steps:
        for tensor in step.output_map.values():
            if tensor in producers or tensor in available:
                raise SampleInferenceError(
                    f"ensemble tensor {tensor!r} is produced twice ({producers.get(tensor, 'ensemble input')} "
                    f"and {step.model_name})"
                )
            producers[tensor] = step.model_name
    pending = list(contract.steps)
    ordered: list[Step] = []
    while pending:
        ready = [s for s in pending if set(s.input_map.values()) <= available]
        if not ready:
            blocked = "; ".join(
                f"{s.model_name} waits for {sorted(set(s.input_map.values()) - available)}" for s in pending
            )
            raise SampleInferenceError(f"ensemble steps can never run: {blocked}")
        for step in ready:
            ordered.append(step)
            available.update(step.output_map.values())
            pending.remove(step)
    missing = sorted({t.name for t in contract.ensemble_spec.outputs} - available)
    if missing:
        raise SampleInferenceError(f"no step produces the ensemble outputs {missing}")
    return ordered


def check_tensor(where: str, spec: TensorSpec, value: np.ndarray, *, batching: bool = False) -> list[str]:
    """`value` against `spec`; for a batching model's tensor (max_batch_size > 0) against Triton's full dims,
    [-1] + dims: the config leaves the batch dim out (core src/ensemble_scheduler/ensemble_utils.cc)."""
    if batching:
        spec = TensorSpec(spec.name, spec.data_type, (-1,) + spec.dims)
    problems = []
    expected = NUMPY_DTYPES.get(spec.data_type)
    if expected is not None and value.dtype != np.dtype(expected):
        problems.append(f"{where}: dtype expected {spec.data_type} ({expected}), got {value.dtype}")
    if value.ndim != len(spec.dims):
        problems.append(f"{where}: rank expected {len(spec.dims)} {list(spec.dims)}, got shape {list(value.shape)}")
        return problems
    for axis, (want, have) in enumerate(zip(spec.dims, value.shape)):
        if want != -1 and want != have:
            problems.append(f"{where}: dim {axis} expected {want}, got {have} (shape {list(value.shape)})")
    return problems


def run_ensemble(
    contract: Contract,
    inputs: Mapping[str, np.ndarray],
    session_for: SessionFactory,
    log: StageLogger | None = None,
) -> dict[str, np.ndarray]:
    """Runs every step once; returns the ensemble's outputs."""
    ensemble = contract.ensemble_spec
    problems: list[str] = []
    for spec in ensemble.inputs:
        if spec.name not in inputs:
            problems.append(f"ensemble input {spec.name!r} was not given")
        else:
            problems += check_tensor(f"ensemble input {spec.name!r}", spec, inputs[spec.name])
    if problems:
        raise SampleInferenceError("\n".join(problems))

    tensors: dict[str, np.ndarray] = dict(inputs)
    interfaces_checked: set[str] = set()
    for step in order_steps(contract):
        model = contract.models[step.model_name]
        feeds = {}
        for model_input, tensor in step.input_map.items():
            feeds[model_input] = tensors[tensor]
            problems += check_tensor(
                f"{step.model_name} input {model_input!r} (<- {tensor})", model.input(model_input), tensors[tensor],
                batching=model.max_batch_size > 0,
            )
        if problems:
            raise SampleInferenceError("\n".join(problems))
        names = list(step.output_map)
        try:
            session = session_for(step.model_name)
        except SampleInferenceError:
            raise
        except Exception as exc:  # runtimes raise their own exception types
            raise SampleInferenceError(f"model {step.model_name!r} cannot be loaded: {exc}") from exc
        if step.model_name not in interfaces_checked and hasattr(session, "get_outputs"):
            # What Triton's onnxruntime backend will compare against the config when it loads the model.
            interfaces_checked.add(step.model_name)
            mismatches = session_interface_problems(model, session)
            if mismatches:
                raise ContractError(
                    f"{len(mismatches)} mismatch(es) between the loaded ONNX model and its config, which Triton would refuse:\n"
                    + "\n".join(f"  - {p}" for p in mismatches)
                )
        started = time.monotonic()
        try:
            results = session.run(names, feeds)
        except SampleInferenceError:
            raise
        except Exception as exc:  # runtimes raise their own exception types
            raise SampleInferenceError(f"model {step.model_name!r} failed on the sample pair: {exc}") from exc
        if len(results) != len(names):
            raise SampleInferenceError(f"model {step.model_name!r} returned {len(results)} outputs, expected {names}")
        for model_output, value in zip(names, results):
            value = np.asarray(value)
            problems += check_tensor(
                f"{step.model_name} output {model_output!r}", model.output(model_output), value,
                batching=model.max_batch_size > 0,
            )
            tensors[step.output_map[model_output]] = value
        if problems:
            raise SampleInferenceError(
                "the sample inference produced tensors that contradict the contract:\n"
                + "\n".join(f"  - {p}" for p in problems)
            )
        if log is not None:
            log.event(
                "sample-inference", "step", model=step.model_name,
                seconds=round(time.monotonic() - started, 3),
                outputs={step.output_map[n]: list(tensors[step.output_map[n]].shape) for n in names},
            )
    outputs = {}
    for spec in ensemble.outputs:
        problems += check_tensor(f"ensemble output {spec.name!r}", spec, tensors[spec.name])
        outputs[spec.name] = tensors[spec.name]
    if problems:
        raise SampleInferenceError("\n".join(problems))
    return outputs


CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def session_providers(available: Sequence[str]) -> list[str]:
    """CUDA then CPU where this onnxruntime offers CUDA (onnxruntime-gpu), else CPU.

    The CUDA provider is the one Triton's onnxruntime backend runs the models
    with on a GPU, so a Job on a GPU node (the stack's `conversion.useGpu`)
    tries them the way the server will.
    """
    return [CUDA_PROVIDER, CPU_PROVIDER] if CUDA_PROVIDER in available else [CPU_PROVIDER]


def onnxruntime_sessions(model_paths: Mapping[str, Path], log: StageLogger | None = None) -> SessionFactory:
    """One session per model, shared by the steps that run it twice.

    Each session's providers are logged; when CUDA was asked for and the session
    did not get it (onnxruntime falls back to CPU when the CUDA libraries or the
    GPU are missing) a warning says so.
    """
    import onnxruntime  # imported here: only the Job's environment has it

    requested = session_providers(onnxruntime.get_available_providers())
    cache: dict[str, Session] = {}

    def session_for(model_name: str) -> Session:
        if model_name not in cache:
            if model_name not in model_paths:
                raise SampleInferenceError(f"no ONNX file for ensemble step {model_name!r}")
            session = onnxruntime.InferenceSession(str(model_paths[model_name]), providers=requested)
            got = list(session.get_providers())
            if log is not None:
                log.event("sample-inference", "session", model=model_name, requested=requested, providers=got)
                if CUDA_PROVIDER in requested and CUDA_PROVIDER not in got:
                    log.warning(
                        "sample-inference", "cuda-unavailable", model=model_name, providers=got,
                        hint="onnxruntime-gpu fell back to CPU: the CUDA 12/cuDNN 9 libraries or the GPU "
                        "are missing (docs/conversion.md, GPU sample run)",
                    )
            cache[model_name] = session
        return cache[model_name]

    return session_for


def load_rgb(path: Path) -> np.ndarray:
    """Decodes an image to uint8 [H, W, 3] RGB, as the client (scripts/match) sends it:
    EXIF orientation applied, alpha dropped, greyscale expanded."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise SampleInferenceError(f"cannot read the sample image {path}: {exc}") from exc
