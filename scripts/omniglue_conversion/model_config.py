"""Small, comment- and string-aware edits of Triton config.pbtxt text.

The Job has no compiled model_config.proto, and configs are copied verbatim
(comments included) except for the optional TensorRT block, so a scanner of
top-level fields is enough and keeps the operator's text intact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from .errors import PublishError

TENSORRT_MODELS = ("superpoint", "dinov2", "omniglue")
DEFAULT_TRT_WORKSPACE_BYTES = 2 * 1024**3

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Field:
    name: str
    start: int  # offset of the field name
    value_start: int  # offset after the name and an optional ':'
    end: int  # offset after the value
    body: tuple[int, int] | None  # inner span of a `{ ... }` message value


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    if i >= len(text):
        raise PublishError("unterminated string in config.pbtxt")
    return i + 1


def _skip_space(text: str, i: int) -> int:
    while i < len(text):
        if text[i].isspace():
            i += 1
        elif text[i] == "#":
            newline = text.find("\n", i)
            i = len(text) if newline == -1 else newline + 1
        else:
            break
    return i


def _skip_balanced(text: str, i: int, open_ch: str, close_ch: str) -> int:
    depth = 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i = _skip_string(text, i)
            continue
        if ch == "#":
            i = _skip_space(text, i)
            continue
        if ch in "{[<":
            depth += 1
        elif ch in "}]>":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise PublishError(f"unbalanced {open_ch}{close_ch} in config.pbtxt")


def top_level_fields(text: str) -> list[Field]:
    fields: list[Field] = []
    i = _skip_space(text, 0)
    while i < len(text):
        match = _IDENT.match(text, i)
        if not match:
            raise PublishError(f"unexpected {text[i]!r} at offset {i} of config.pbtxt")
        name, j = match.group(0), _skip_space(text, match.end())
        if j < len(text) and text[j] == ":":
            j = _skip_space(text, j + 1)
        value_start = j
        body = None
        if j < len(text) and text[j] in "{<[":
            end = _skip_balanced(text, j, text[j], {"{": "}", "<": ">", "[": "]"}[text[j]])
            if text[j] in "{<":
                body = (j + 1, end - 1)
        elif j < len(text) and text[j] in "\"'":
            end = _skip_string(text, j)
            while _skip_space(text, end) < len(text) and text[_skip_space(text, end)] in "\"'":
                end = _skip_string(text, _skip_space(text, end))  # adjacent string concatenation
        else:
            scalar = re.compile(r"[^\s#,;{}\[\]]+").match(text, j)
            if not scalar:
                raise PublishError(f"field {name!r} has no value in config.pbtxt")
            end = scalar.end()
        fields.append(Field(name, match.start(), value_start, end, body))
        i = _skip_space(text, end)
        if i < len(text) and text[i] in ",;":
            i = _skip_space(text, i + 1)
    return fields


def config_model_name(text: str) -> str | None:
    for field in top_level_fields(text):
        if field.name == "name":
            return text[field.value_start:field.end].strip().strip("\"'")
    return None


# TensorRT builds an engine per session (minutes for DINOv2); the cache keeps them across
# sessions and model reloads. The Triton pod mounts a writable emptyDir at /tmp and fills
# this directory from its persistent engine cache volume before Triton starts
# (constructs/triton-server.ts, docs/performance.md "Engine cache").
TRT_ENGINE_CACHE_PATH = "/tmp/trt-engine-cache"


def tensorrt_parameters(workspace_bytes: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Keys as documented in triton-inference-server/onnxruntime_backend's README
    ("ONNX Runtime with TensorRT optimization"), which maps them to the TensorRT
    provider's trt_fp16_enable, trt_max_workspace_size, trt_engine_cache_*; `extra`
    adds further keys of that table (the shape profiles, serving.py)."""
    return {
        "precision_mode": "FP16",
        "max_workspace_size_bytes": str(workspace_bytes),
        "trt_engine_cache_enable": "true",
        "trt_engine_cache_path": TRT_ENGINE_CACHE_PATH,
        # The onnxruntime backend loads a model's instances in parallel (src/onnxruntime.cc,
        # ParallelModelInstanceLoading), so two instances would build the same engine at once, each writing the
        # same cache file; sequential builds let the second instance find the first one's engine.
        "trt_force_sequential_engine_build": "true",
        **(extra or {}),
    }


def tensorrt_accelerators(workspace_bytes: int, extra: Mapping[str, str] | None = None) -> str:
    parameters = "".join(
        f'        parameters {{ key: "{key}" value: "{value}" }}\n'
        for key, value in tensorrt_parameters(workspace_bytes, extra).items()
    )
    return (
        "execution_accelerators {\n"
        "    gpu_execution_accelerator : [\n"
        "      {\n"
        '        name : "tensorrt"\n'
        + parameters
        + "      }\n"
        "    ]\n"
        "  }"
    )


def append_tensorrt_fp16(
    text: str, model_name: str, workspace_bytes: int = DEFAULT_TRT_WORKSPACE_BYTES, extra: Mapping[str, str] | None = None
) -> str:
    """Adds ONNX Runtime's TensorRT execution accelerator (FP16) to a config.

    Parameter keys are those of triton-inference-server/onnxruntime_backend
    (README, "ONNX Runtime with TensorRT optimization"). An existing
    `optimization` block is extended rather than repeated: a second top-level
    `optimization` is a parse error in protobuf text format.
    """
    if workspace_bytes <= 0:
        raise PublishError(f"TensorRT workspace must be positive, got {workspace_bytes}")
    block = tensorrt_accelerators(workspace_bytes, extra)
    existing = [f for f in top_level_fields(text) if f.name == "optimization"]
    if not existing:
        comment = "# Added by the conversion Job (--tensorrt-fp16): TensorRT FP16 through ONNX Runtime.\n"
        return text.rstrip("\n") + "\n" + comment + "optimization {\n  " + block + "\n}\n"
    field = existing[0]
    if field.body is None:
        raise PublishError(f"model {model_name!r}: config has an `optimization` field that is not a message")
    inner = text[field.body[0]:field.body[1]]
    if re.search(r"\bexecution_accelerators\b", inner):
        raise PublishError(
            f"model {model_name!r}: config already declares execution_accelerators; "
            "remove them or run without --tensorrt-fp16"
        )
    insert_at = field.body[1]
    return text[:insert_at].rstrip() + "\n  " + block + "\n" + text[insert_at:]
