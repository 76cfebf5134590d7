"""A small helper around onnx.helper for writing the glue graphs by hand.

The glue steps are a few dozen operators each; spelling them out with
onnx.helper keeps them free of any exporter (no torch or TensorFlow at serving
time) and makes every operator choice explicit and reviewable.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# ONNX Runtime's CUDA provider (Triton) and onnxruntime-node (tests) both run
# opset 17; IR version 8 is the newest that onnx 1.12 writes and every current
# runtime reads.
OPSET = 17
IR_VERSION = 8

FLOAT = TensorProto.FLOAT
DOUBLE = TensorProto.DOUBLE
INT32 = TensorProto.INT32
INT64 = TensorProto.INT64
UINT8 = TensorProto.UINT8
BOOL = TensorProto.BOOL

Dim = int | str


class GraphBuilder:
    """Accumulates nodes, constants and graph inputs/outputs; names temporaries itself."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._nodes: list[onnx.NodeProto] = []
        self._initializers: list[onnx.TensorProto] = []
        self._inputs: list[onnx.ValueInfoProto] = []
        self._outputs: list[onnx.ValueInfoProto] = []
        self._counter = 0

    def _fresh(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}_{self._counter}"

    def input(self, name: str, elem_type: int, shape: Sequence[Dim]) -> str:
        self._inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        return name

    def output(self, value: str, name: str, elem_type: int, shape: Sequence[Dim]) -> None:
        """Exposes `value` as graph output `name` (through an Identity, so any temporary can be published)."""
        self._nodes.append(helper.make_node("Identity", [value], [name], name=f"publish_{name}"))
        self._outputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))

    def const(self, values, dtype=np.float32, hint: str = "const") -> str:
        name = self._fresh(hint)
        self._initializers.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def i64(self, *values: int) -> str:
        """A 1-D int64 constant: the type ONNX wants for shapes, axes and slice bounds."""
        return self.const(list(values), np.int64, "i64")

    def op(self, op_type: str, *inputs: str, outputs: int = 1, node_name: str | None = None, **attrs):
        """Adds one node; returns its output name, or a tuple of names when outputs > 1.

        `node_name` replaces the generated node name: ONNX Runtime quotes it in the error of a failing node."""
        names = [self._fresh(op_type.lower()) for _ in range(outputs)]
        name = node_name or self._fresh(f"node_{op_type}")
        self._nodes.append(helper.make_node(op_type, list(inputs), names, name=name, **attrs))
        return names[0] if outputs == 1 else tuple(names)

    def dim(self, tensor: str, axis: int) -> str:
        """One dimension of `tensor` as an int64 tensor of shape [1]."""
        return self.op("Shape", tensor, start=axis, end=axis + 1)

    def model(self, doc: str) -> onnx.ModelProto:
        graph = helper.make_graph(self._nodes, self.name, self._inputs, self._outputs, self._initializers, doc_string=doc)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="omniglue-triton")
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model
