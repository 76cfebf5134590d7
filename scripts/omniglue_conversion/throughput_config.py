"""Throughput mode's edits of the two configs it changes, dinov2_preprocess and dinov2 (throughput.py says why).

Edits go through model_config.py's comment- and string-aware scanner, so the operator's text and
comments stay as written except for the values replaced: tensor dims, `max_batch_size`, the warm-up
samples, and an appended `dynamic_batching` block on dinov2.
"""

from __future__ import annotations

from .contract import ModelSpec, TensorSpec
from .errors import PublishError
from .model_config import Field, _skip_balanced, _skip_space, top_level_fields
from .throughput import BATCHING_MODELS, THROUGHPUT_MODELS, ThroughputMode, fixed_dims

Edit = tuple[int, int, str]  # replace text[start:end] with the string


def _message_entries(text: str, field: Field) -> list[tuple[int, int]]:
    """Inner spans of the messages of `input { ... }` or `input [ { ... }, { ... } ]`."""
    if field.body is not None:
        return [field.body]
    if text[field.value_start] != "[":
        raise PublishError(f"config field {field.name!r} is neither a message nor a list of messages")
    entries = []
    i = _skip_space(text, field.value_start + 1)
    while text[i] != "]":
        if text[i] not in "{<":
            raise PublishError(f"config field {field.name!r} lists {text[i]!r} where a message was expected")
        end = _skip_balanced(text, i, text[i], "}" if text[i] == "{" else ">")
        entries.append((i + 1, end - 1))
        i = _skip_space(text, end)
        if text[i] == ",":
            i = _skip_space(text, i + 1)
    return entries


def _string_value(text: str, field: Field) -> str:
    return text[field.value_start:field.end].strip().strip("\"'")


def _dims(dims: tuple[int, ...]) -> str:
    return "[ " + ", ".join(str(d) for d in dims) + " ]"


def _tensor_dims_edits(text: str, model: str, section: str, tensor: str, dims: tuple[int, ...]) -> list[Edit]:
    """The edits that set `dims` of the `section` tensor named `tensor`, one per `dims` field found."""
    edits: list[Edit] = []
    for field in top_level_fields(text):
        if field.name != section:
            continue
        for start, end in _message_entries(text, field):
            inner = top_level_fields(text[start:end])
            if not any(f.name == "name" and _string_value(text[start:end], f) == tensor for f in inner):
                continue
            edits += [(start + f.value_start, start + f.end, _dims(dims)) for f in inner if f.name == "dims"]
    if len(edits) != 1:
        raise PublishError(
            f"model {model!r}: throughput mode sets the dims of {section} {tensor!r}, and found "
            f"{len(edits)} `dims` fields for it in config.pbtxt where exactly one was expected"
        )
    return edits


def _single_field(text: str, model: str, name: str) -> Field | None:
    found = [f for f in top_level_fields(text) if f.name == name]
    if len(found) > 1:
        raise PublishError(f"model {model!r}: config.pbtxt has {len(found)} top-level `{name}` fields")
    return found[0] if found else None


def _warmup_input(tensor: TensorSpec, dims: tuple[int, ...]) -> str:
    return (
        f'    inputs {{ key: "{tensor.name}" value: {{ data_type: {tensor.data_type} '
        f"dims: {_dims(dims)} zero_data: true }} }}\n"
    )


def _warmup(spec: ModelSpec, mode: ThroughputMode) -> str:
    size = f"{mode.image_width}x{mode.image_height}"
    if spec.name in BATCHING_MODELS:
        # A batching model's warm-up dims exclude the batch dim; `batch_size` requests of [1] + dims go to the
        # backend in one execution (core src/backend_model_instance.cc, GenerateWarmupData and WarmUp), so
        # warming at 1 and at N builds both ends of the TensorRT profile and runs a full batch once.
        comment = (
            "  # Throughput mode: one request, then a full batch of the fixed size (dims exclude the batch dim;\n"
            "  # batch_size requests run in one execution, core src/backend_model_instance.cc GenerateWarmupData).\n"
        )
        batches = sorted({1, mode.max_batch_size})
        dims = {t.name: t.dims for t in spec.inputs}
    else:
        comment = "  # Throughput mode: a zero image of the configured size (any size is resized to DINOv2's fixed input).\n"
        batches = [1]
        dims = {t.name: (mode.image_height, mode.image_width, 3) for t in spec.inputs}
    samples = [
        "  {\n"
        f'    name: "batch_{batch}_{size}"\n'
        f"    batch_size: {batch}\n"
        + "".join(_warmup_input(t, dims[t.name]) for t in spec.inputs)
        + "  }"
        for batch in batches
    ]
    return "[\n" + comment + ",\n".join(samples) + "\n]"


def _dynamic_batching(mode: ThroughputMode) -> str:
    return (
        "# Throughput mode: requests of different ensemble requests meet here as batches of one (core\n"
        "# src/ensemble_scheduler/ensemble_scheduler.cc, ReshapeTensorDims) and the dynamic batcher merges them,\n"
        "# waiting at most this long for more (docs/conversion.md, \"Throughput mode\").\n"
        f"dynamic_batching {{\n  max_queue_delay_microseconds: {mode.max_queue_delay_microseconds}\n}}\n"
    )


def apply_to_config(text: str, spec: ModelSpec, mode: ThroughputMode) -> str:
    """`text` (one model's config.pbtxt) rewritten for throughput mode; `spec` is the transformed contract's entry
    (throughput.apply_to_contract), whose dims and max_batch_size are written. Other models are returned as is."""
    if spec.name not in THROUGHPUT_MODELS:
        return text
    names = {t.name: "input" for t in spec.inputs} | {t.name: "output" for t in spec.outputs}
    edits: list[Edit] = []
    for (model, tensor), dims in fixed_dims(mode).items():
        if model == spec.name:
            declared = next(t for t in spec.inputs + spec.outputs if t.name == tensor).dims
            if declared != dims:
                raise PublishError(f"model {model!r}: the contract declares {tensor!r} {list(declared)}, expected {list(dims)}")
            edits += _tensor_dims_edits(text, model, names[tensor], tensor, dims)
    if spec.name in BATCHING_MODELS:
        field = _single_field(text, spec.name, "max_batch_size")
        if field is None or text[field.value_start:field.end] != "0":
            raise PublishError(f"model {spec.name!r}: throughput mode expects `max_batch_size: 0` in config.pbtxt to replace")
        edits.append((field.value_start, field.end, str(spec.max_batch_size)))
        if _single_field(text, spec.name, "dynamic_batching") is not None:
            raise PublishError(f"model {spec.name!r}: config.pbtxt already has `dynamic_batching`; throughput mode sets it")
    warmup = _single_field(text, spec.name, "model_warmup")
    if warmup is not None:
        edits.append((warmup.value_start, warmup.end, _warmup(spec, mode)))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    if warmup is None:
        text = text.rstrip("\n") + "\nmodel_warmup " + _warmup(spec, mode) + "\n"
    if spec.name in BATCHING_MODELS:
        text = text.rstrip("\n") + "\n" + _dynamic_batching(mode)
    return _header(spec, mode) + text


def _header(spec: ModelSpec, mode: ThroughputMode) -> str:
    """A first line saying which sizes this config has; the operator's comments below describe the default mode."""
    size = f"{mode.image_width} x {mode.image_height}"
    dino_h, dino_w = mode.dinov2_hw
    if spec.name in BATCHING_MODELS:
        what = f"fixed input {dino_w} x {dino_h} (DINOv2's for {size} images), batches of up to {mode.max_batch_size}"
    else:
        what = f"every image is resized to {dino_w} x {dino_h}, DINOv2's input for {size} images"
    return f"# Throughput mode (conversion --throughput-image-size, docs/conversion.md): {what}.\n"
