"""Serving-time settings the conversion Job publishes with the configs.

* TensorRT optimisation profiles (`trt_profile_min/opt/max_shapes` of Triton's
  onnxruntime backend, src/onnxruntime.cc and README "Parameter mapping"): one
  profile per network covering every image the ensemble documents (model-repository.md,
  "Input limits"), tuned for the typical 640 x 480 image. ONNX Runtime's TensorRT
  provider needs min, opt and max for *every* dynamic input once any is given
  (onnxruntime docs, TensorRT-ExecutionProvider.md, "Explicit shape range for
  dynamic shape input"); `check_profiles` enforces that against the contract.
* Warm-up data files: `model_warmup` inputs with `input_data_file` are read from
  `<model>/warmup/<file>` (triton-inference-server/core,
  src/backend_model_instance.cc, kWarmupDataFolder). The configs name the files
  below; the Job writes them next to each config that uses them.
* Instance kind: CPU-only replicas (`triton.gpusPerReplica: 0`) get `KIND_CPU`
  instance groups, since Triton refuses to load KIND_GPU on a node without a GPU.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from .contract import ModelSpec
from .errors import PublishError
from .model_config import top_level_fields

# The ensemble's documented image range (docs/model-repository.md, "Input limits"):
# at least one DINOv2 patch per side; the largest side is a Job option (the ensemble
# itself imposes none, but a TensorRT engine covers a bounded range).
MIN_IMAGE_SIDE = 14
DEFAULT_MAX_IMAGE_SIDE = 1920
# The typical image: the reference's advice for SuperPoint (640 x 480, its training size).
TYPICAL_IMAGE_HW = (480, 640)
DEFAULT_KEYPOINT_COUNT = 1024

SUPERPOINT_CELL = 8
DINO_PATCH = 14
DINO_MAX_SIDE = 630

Shape = tuple[int, ...]

if TYPE_CHECKING:  # throughput.py imports this module
    from .throughput import ThroughputMode


@dataclass(frozen=True)
class ShapeRange:
    min: Shape
    opt: Shape
    max: Shape


def superpoint_side(side: int) -> int:
    """superpoint_preprocess: nearest multiple of 8 (down below a remainder of 4, else up)."""
    return (side + SUPERPOINT_CELL // 2) // SUPERPOINT_CELL * SUPERPOINT_CELL


def dinov2_size(height: int, width: int) -> tuple[int, int]:
    """dinov2_preprocess: longer side capped at 630 (aspect kept, integer floor), then multiples of 14."""
    if max(height, width) > DINO_MAX_SIDE:
        if height > width:
            height, width = DINO_MAX_SIDE, DINO_MAX_SIDE * width // height
        else:
            height, width = DINO_MAX_SIDE * height // width, DINO_MAX_SIDE
    return height // DINO_PATCH * DINO_PATCH, width // DINO_PATCH * DINO_PATCH


def tensorrt_profiles(
    max_image_side: int, keypoint_count: int, throughput: ThroughputMode | None = None
) -> dict[str, dict[str, ShapeRange]]:
    """Min/opt/max input shapes of the three networks, derived from the image range.

    Images may be portrait or landscape, so each spatial dim ranges over the whole
    side range. The matcher's keypoint count ranges from one keypoint to the
    extraction's top-k (an image with no keypoint at all gets one score-0 filler
    keypoint from dinov2_keypoint_sampler, so it stays inside the range).

    In throughput mode DINOv2's spatial dims are fixed and only its batch dim varies,
    from one request to a full batch; opt is the full batch, the shape the dynamic
    batcher forms under load. SuperPoint and the matcher do not batch and keep their
    profiles (throughput.py says why SuperPoint cannot).
    """
    if max_image_side < max(TYPICAL_IMAGE_HW):
        raise PublishError(
            f"the largest image side for TensorRT ({max_image_side}) must be at least "
            f"{max(TYPICAL_IMAGE_HW)}, the typical image's longer side"
        )
    if keypoint_count < 1:
        raise PublishError(f"the keypoint count must be at least 1, got {keypoint_count}")
    typical_h, typical_w = TYPICAL_IMAGE_HW
    sp_min, sp_max = superpoint_side(MIN_IMAGE_SIDE), superpoint_side(max_image_side)
    dino_min = dinov2_size(MIN_IMAGE_SIDE, MIN_IMAGE_SIDE)[0]
    # A square image at or above the cap gives the largest grid, 630 x 630.
    dino_max = dinov2_size(max_image_side, max_image_side)[0]
    dino_h, dino_w = dinov2_size(typical_h, typical_w)

    def per_keypoint(width: int) -> ShapeRange:
        return ShapeRange((1, 1, width), (1, keypoint_count, width), (1, keypoint_count, width))

    matcher: dict[str, ShapeRange] = {}
    for image in ("0", "1"):
        matcher[f"keypoints{image}"] = per_keypoint(2)
        matcher[f"descriptors{image}"] = per_keypoint(256)
        matcher[f"scores{image}"] = per_keypoint(1)
        matcher[f"descriptors{image}_dino"] = per_keypoint(768)
    dinov2 = ShapeRange((1, 3, dino_min, dino_min), (1, 3, dino_h, dino_w), (1, 3, dino_max, dino_max))
    if throughput is not None:
        fixed_h, fixed_w = throughput.dinov2_hw
        batch = throughput.max_batch_size
        dinov2 = ShapeRange((1, 3, fixed_h, fixed_w), (batch, 3, fixed_h, fixed_w), (batch, 3, fixed_h, fixed_w))
    return {
        "superpoint": {
            "image": ShapeRange((1, sp_min, sp_min, 1), (1, superpoint_side(typical_h), superpoint_side(typical_w), 1), (1, sp_max, sp_max, 1)),
        },
        "dinov2": {"pixel_values": dinov2},
        "omniglue": matcher,
    }


def check_profiles(spec: ModelSpec, profiles: Mapping[str, ShapeRange]) -> None:
    """Every dynamic input has a range; every range fits its input's declared dims.

    A batching model's shapes include the batch dim, which its config dims leave out
    (Triton's full dims are [-1] + dims), so the check is against those."""
    batch = (-1,) if spec.max_batch_size > 0 else ()
    declared = {t.name: batch + t.dims for t in spec.inputs}
    unknown = sorted(set(profiles) - set(declared))
    if unknown:
        raise PublishError(f"model {spec.name!r}: TensorRT profile for undeclared inputs {unknown}")
    for name, dims in declared.items():
        if -1 in dims and name not in profiles:
            raise PublishError(f"model {spec.name!r}: dynamic input {name!r} {list(dims)} has no TensorRT profile")
    for name, shape_range in profiles.items():
        dims = declared[name]
        for label, shape in (("min", shape_range.min), ("opt", shape_range.opt), ("max", shape_range.max)):
            if len(shape) != len(dims) or any(d != -1 and d != s for d, s in zip(dims, shape)):
                raise PublishError(
                    f"model {spec.name!r}: TensorRT {label} shape {list(shape)} of {name!r} does not fit its dims {list(dims)}"
                )
        if not all(lo <= mid <= hi for lo, mid, hi in zip(shape_range.min, shape_range.opt, shape_range.max)):
            raise PublishError(f"model {spec.name!r}: TensorRT profile of {name!r} is not min <= opt <= max")


def profile_parameters(profiles: Mapping[str, ShapeRange]) -> dict[str, str]:
    """The backend's string form: `input:d0xd1x...,input2:...` (onnxruntime_backend README)."""

    def joined(pick) -> str:
        return ",".join(f"{name}:{'x'.join(str(d) for d in pick(r))}" for name, r in sorted(profiles.items()))

    return {
        "trt_profile_min_shapes": joined(lambda r: r.min),
        "trt_profile_opt_shapes": joined(lambda r: r.opt),
        "trt_profile_max_shapes": joined(lambda r: r.max),
    }


# Warm-up inputs that zeros would make meaningless: the original image size, which
# the keypoint and sampling graphs divide by. Little-endian, as Triton copies the
# file's bytes verbatim into the tensor.
WARMUP_DATA_FILES: Mapping[str, bytes] = {
    "typical_width_int32": struct.pack("<i", TYPICAL_IMAGE_HW[1]),
    "typical_height_int32": struct.pack("<i", TYPICAL_IMAGE_HW[0]),
}
_INPUT_DATA_FILE = re.compile(r"""\binput_data_file\s*:?\s*["']([^"']+)["']""")


def warmup_files(text: str, model_name: str) -> dict[str, bytes]:
    """The warm-up data files a config refers to, by file name."""
    files = {}
    for name in _INPUT_DATA_FILE.findall(text):
        if name not in WARMUP_DATA_FILES:
            raise PublishError(
                f"model {model_name!r}: model_warmup names input_data_file {name!r}; "
                f"the Job provides {sorted(WARMUP_DATA_FILES)}"
            )
        files[name] = WARMUP_DATA_FILES[name]
    return files


INSTANCE_KINDS = ("gpu", "cpu")
GPU_PLACEMENT_COMMENT = "# On the GPU from measurement: on the CPU this step costs more than the networks need on a GPU,\n# plus copies to and from the device"
CPU_PLACEMENT_COMMENT = "# On the CPU: this model version serves replicas without a GPU (triton.gpusPerReplica 0); the GPU\n# placement of the other version and its measurements"
_KIND = re.compile(r"\bKIND_(GPU|AUTO)\b")


def with_instance_kind(text: str, model_name: str, kind: str) -> str:
    """Sets every instance group to KIND_GPU (as written) or KIND_CPU (CPU-only replicas)."""
    if kind not in INSTANCE_KINDS:
        raise PublishError(f"instance kind must be one of {', '.join(INSTANCE_KINDS)}, got {kind!r}")
    if kind == "gpu":
        return text
    groups = [f for f in top_level_fields(text) if f.name == "instance_group"]
    if not groups:
        # No instance_group means KIND_AUTO, which would pick the GPU where there is one.
        raise PublishError(f"model {model_name!r}: config has no instance_group to place on the CPU")
    for field in reversed(groups):
        span = text[field.value_start:field.end]
        if re.search(r"\bgpus\b", span):
            raise PublishError(f"model {model_name!r}: an instance_group lists `gpus`, which KIND_CPU does not allow")
        text = text[:field.value_start] + _KIND.sub("KIND_CPU", span) + text[field.end:]
    # The GPU placement's reasoning no longer applies; say why these instances are on the CPU instead.
    return text.replace(GPU_PLACEMENT_COMMENT, CPU_PLACEMENT_COMMENT)
