"""Edits of exported graphs' interfaces: names, pruned outputs, declared dims.

tf2onnx names tensors after the SavedModel (`superpoint/image:0`, signature
keys, ...) and declares every dim as unknown; torch.onnx declares dynamic axes
with its own symbolic names. Triton matches config entries to ONNX names exactly,
refuses static input dims that differ from the config, and compares output dims
exactly (onnxruntime_backend src/onnxruntime_utils.cc CompareDimsSupported,
compare_exact=true from src/onnxruntime.cc ValidateOutputs: a symbolic ONNX dim
where the config says 33 is refused). So every network export, tf2onnx's and
torch's alike, ends with fit_to_contract, which writes the contract's dims onto
the graph's interface before validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import onnx
from onnx import GraphProto, NodeProto

from .contract import ModelSpec
from .errors import ExportError
from .logs import StageLogger


def _subgraphs(node: NodeProto) -> Iterator[GraphProto]:
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            yield attr.g
        elif attr.type == onnx.AttributeProto.GRAPHS:
            yield from attr.graphs


def _rename_everywhere(graph: GraphProto, old: str, new: str) -> None:
    """Renames a tensor in a graph and in every subgraph that captures it."""
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
        for sub in _subgraphs(node):
            _rename_everywhere(sub, old, new)
    for collection in (graph.input, graph.output, graph.value_info):
        for info in collection:
            if info.name == old:
                info.name = new
    for init in graph.initializer:
        if init.name == old:
            init.name = new


def _all_names(graph: GraphProto) -> set[str]:
    names = {i.name for i in graph.input} | {o.name for o in graph.output}
    names |= {v.name for v in graph.value_info} | {t.name for t in graph.initializer}
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
        for sub in _subgraphs(node):
            names |= _all_names(sub)
    return names


def interface_candidates(name: str) -> list[str]:
    """Names a converter may have produced for a contract tensor, most specific first."""
    stripped = name[:-2] if name.endswith(":0") else name
    return [name, stripped, stripped.rsplit("/", 1)[-1]]


def rename_interface(model: onnx.ModelProto, wanted_inputs: Sequence[str], wanted_outputs: Sequence[str]) -> dict[str, str]:
    """Renames graph inputs/outputs to the contract names; returns {old: new}.

    An ONNX name matches a contract name when it is equal to it after dropping
    a `:0` suffix and any `scope/` prefix.
    """
    graph = model.graph
    mapping: dict[str, str] = {}
    for kind, wanted, present in (
        ("input", wanted_inputs, [i.name for i in graph.input]),
        ("output", wanted_outputs, [o.name for o in graph.output]),
    ):
        for target in wanted:
            matches = [p for p in present if target in interface_candidates(p)]
            if len(matches) != 1:
                raise ExportError(
                    f"graph {kind} for contract tensor {target!r}: "
                    f"{'no' if not matches else 'ambiguous'} match among {present}"
                )
            if matches[0] != target:
                mapping[matches[0]] = target
    taken = _all_names(graph)
    for old, new in mapping.items():
        if new in taken and new not in mapping:
            # An internal tensor already carries the contract name: move it aside first.
            _rename_everywhere(graph, new, f"{new}__internal")
        _rename_everywhere(graph, old, new)
    return mapping


def _captured_names(graph: GraphProto) -> set[str]:
    """Names a subgraph reads from its enclosing scopes."""
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    used: set[str] = set()
    for node in graph.node:
        used.update(n for n in node.input if n)
        for sub in _subgraphs(node):
            used |= _captured_names(sub)
        defined.update(node.output)
    used.update(o.name for o in graph.output)
    return used - defined


def prune_outputs(model: onnx.ModelProto, keep: Iterable[str]) -> list[str]:
    """Drops graph outputs not in `keep` and every node only they needed.

    Graph inputs are left alone: removing one would silently change the
    interface that the contract validation is meant to check.
    """
    graph = model.graph
    keep = list(keep)
    dropped = [o.name for o in graph.output if o.name not in keep]
    kept_outputs = [o for o in graph.output if o.name in keep]
    del graph.output[:]
    graph.output.extend(kept_outputs)

    needed = set(keep)
    live: list[NodeProto] = []
    for node in reversed(graph.node):
        if any(out in needed for out in node.output):
            live.append(node)
            needed.update(n for n in node.input if n)
            for sub in _subgraphs(node):
                needed |= _captured_names(sub)
    live.reverse()
    del graph.node[:]
    graph.node.extend(live)

    initializers = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    value_infos = [v for v in graph.value_info if v.name in needed]
    del graph.value_info[:]
    graph.value_info.extend(value_infos)
    return dropped


def set_interface_dims(model: onnx.ModelProto, dims_by_name: Mapping[str, Sequence[int]]) -> None:
    """Declares the contract's dims on graph inputs/outputs.

    A fixed contract dim becomes a static ONNX dim where the graph's dim is
    unknown; -1 becomes a named symbolic dim. A static graph dim that differs
    from the contract (-1 included) is an error: relabelling cannot change it.
    """
    for info in list(model.graph.input) + list(model.graph.output):
        if info.name not in dims_by_name:
            continue
        wanted = list(dims_by_name[info.name])
        tensor_type = info.type.tensor_type
        shape = tensor_type.shape
        if tensor_type.HasField("shape") and len(shape.dim) not in (0, len(wanted)):
            raise ExportError(
                f"tensor {info.name!r} has rank {len(shape.dim)} in the converted graph, "
                f"the contract expects rank {len(wanted)} {wanted}"
            )
        current = [
            d.dim_value if d.HasField("dim_value") else None for d in shape.dim
        ] or [None] * len(wanted)
        shape.Clear()
        for axis, (have, want) in enumerate(zip(current, wanted)):
            dim = shape.dim.add()
            if have is not None and have > 0:
                if want != have:
                    # Covers want == -1 too: Triton refuses a static ONNX dim where its
                    # config says -1, and relabelling it would hide a graph that was
                    # specialised for one size.
                    raise ExportError(
                        f"tensor {info.name!r} dim {axis} is {have} in the converted graph, "
                        f"the contract expects {want}"
                    )
                dim.dim_value = have
            elif want != -1:
                dim.dim_value = want
            else:
                dim.dim_param = f"{info.name}_dim{axis}"


def fit_to_contract(onnx_path: Path, spec: ModelSpec, log: StageLogger) -> None:
    """Renames, prunes and declares the contract's dims on an exported graph, in place.

    A batching spec's config dims leave out the batch dim (Triton's full dims are [-1] + dims,
    CompareDimsSupported), so the graph gets a dynamic leading dim before them. Whether the network
    really takes a batch is the exporter's business: this only declares it."""
    model = onnx.load(str(onnx_path))
    renamed = rename_interface(model, [t.name for t in spec.inputs], [t.name for t in spec.outputs])
    dropped = prune_outputs(model, [t.name for t in spec.outputs])
    batch = (-1,) if spec.max_batch_size > 0 else ()
    set_interface_dims(model, {t.name: batch + t.dims for t in spec.inputs + spec.outputs})
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"{spec.name}: the exported graph is not valid ONNX after fitting its interface: {exc}") from exc
    onnx.save(model, str(onnx_path))
    log.event("export", "interface-fitted", model=spec.name, renamed=renamed, dropped_outputs=dropped)
