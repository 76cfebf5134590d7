"""Python-backend model that runs `<version>/model.onnx` in onnxruntime: the stand-in for Triton's onnxruntime backend.

Copied as `1/model.py` next to the published ONNX file by wrappers.py. It does what the onnxruntime backend does
for these models, on the CPU: one session per model instance (onnxruntime_backend src/onnxruntime.cc,
ModelInstanceState::Create), the config's inputs fed by name and its outputs fetched by name, and the requests of
one batch concatenated along the batch dimension into a single run and split again (onnxruntime.cc
ModelInstanceState::ProcessRequests -> SetInputTensors, BackendInputCollector), so a dynamic batch reaches
onnxruntime as one batch.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnxruntime
import triton_python_backend_utils as pb_utils

# One thread per session: every instance is its own stub process, and the in-process runner the tests compare
# against (test/support/ort.ts SessionPool) uses one thread too.
THREADS = int(os.environ.get("TRITON_LOCAL_ORT_THREADS", "1"))


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.max_batch_size = int(config.get("max_batch_size", 0))
        self.inputs = [tensor["name"] for tensor in config["input"]]
        self.outputs = [tensor["name"] for tensor in config["output"]]
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = THREADS
        self.session = onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])

    def _run(self, feeds):
        return dict(zip(self.outputs, self.session.run(self.outputs, feeds)))

    def execute(self, requests):
        feeds = [{name: pb_utils.get_input_tensor_by_name(r, name).as_numpy() for name in self.inputs} for r in requests]
        # An onnxruntime error propagates: the python backend then fails every request of the batch and reports
        # them as failed (python_backend src/python_be.cc TRITONBACKEND_ModelInstanceExecute ->
        # reporter.SetSuccessStatus(false)), as the onnxruntime backend does when a run fails. Returning error
        # responses instead would be counted as successes (src/pb_metric_reporter.cc).
        if self.max_batch_size > 0 and len(requests) > 1:
            sizes = [f[self.inputs[0]].shape[0] for f in feeds]
            merged = self._run({name: np.concatenate([f[name] for f in feeds]) for name in self.inputs})
            bounds = np.cumsum([0] + sizes)
            results = [{n: merged[n][lo:hi] for n in self.outputs} for lo, hi in zip(bounds[:-1], bounds[1:])]
        else:
            results = [self._run(f) for f in feeds]
        return [pb_utils.InferenceResponse([pb_utils.Tensor(n, np.ascontiguousarray(v)) for n, v in r.items()]) for r in results]
