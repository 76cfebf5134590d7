"""Throughput mode: a fixed DINOv2 input size, so Triton can batch DINOv2 across requests.

By default every image keeps its own size, so DINOv2 sees a different shape per request and cannot
batch. In throughput mode `dinov2_preprocess` resizes every image straight to DINOv2's input for one
configured image size (the reference's rule, serving.dinov2_size: 640 x 480 -> 630 x 462); `dinov2`
then gets `max_batch_size` N and `dynamic_batching`, and Triton merges requests that come from
different ensemble requests. Everything else is published exactly as in the default mode.

SuperPoint does not batch: the sp_v6 SavedModel is built for a batch of one. rpautrat/SuperPoint
superpoint/models/base_model.py sets `_default_config = {'eval_batch_size': 1, 'pred_batch_size': 1}`,
and `_pred_graph` -> `_gpu_tower` splits the input with `tf.unstack(..., num=batch_size * n_shards)` and
joins the towers' predictions with `tf.stack`, so the graph holds exactly `pred_batch_size` images;
superpoint/export_model.py never changes it. SuperPoint therefore keeps the reference's full-resolution
input, and the trade-off of this mode is limited to DINOv2's features (docs/conversion.md).

Triton rules this relies on (triton-inference-server/core):
* src/ensemble_scheduler/ensemble_utils.cc, ValidateEnsembleConfig: a composing model's
  `max_batch_size` may not be below the ensemble's; ours is 0, so a batching model is allowed.
* ensemble_utils.cc, ValidateTensorConsistency: tensor dims are compared with wildcards, and if that
  fails with *full* dims, which for a batching model are [-1] + dims; so `pixel_values` [1, 3, Hd, Wd]
  of the non-batching dinov2_preprocess matches dinov2's `pixel_values` [3, Hd, Wd] (full [-1, 3, Hd, Wd]).
* src/ensemble_scheduler/ensemble_scheduler.cc, ReshapeTensorDims: a [1, 3, Hd, Wd] tensor from a
  non-batching step reaches a batching model as a batch of one, and the batching model's [1, ...]
  output reaches a non-batching consumer with the 1 kept in its dims.
* src/backend_model.cc, SetConfiguredScheduler: a batching model only merges requests whose
  variable-size inputs have equal shapes, which is why the size is fixed.
And in onnxruntime_backend, src/onnxruntime_utils.cc CompareDimsSupported (compare_exact=true for
outputs, from src/onnxruntime.cc ValidateOutputs): the ONNX graph must declare `features` as
[-1, 768, Hd/14, Wd/14] exactly, so the DINOv2 export declares the contract's dims (onnx_io.fit_to_contract).
The matcher never batches: its keypoint counts differ per image (docs/performance.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from dataclasses import dataclass

from .contract import Contract, ModelSpec, TensorSpec
from .errors import ContractError, UsageError
from .serving import DINO_PATCH, MIN_IMAGE_SIDE, dinov2_size

MAX_IMAGE_SIDE = 4096
MAX_BATCH_SIZE = 64
MAX_QUEUE_DELAY_MICROSECONDS = 1_000_000
DEFAULT_MAX_BATCH_SIZE = 8
DEFAULT_MAX_QUEUE_DELAY_MICROSECONDS = 1000
# Longer side / shorter side. DINOv2's input caps the longer side at 630 and keeps the aspect ratio with a floor
# (serving.dinov2_size), so the shorter side keeps at least one 14 px patch exactly when 630 * short // long >= 14,
# that is long <= 45 * short (630 / 14 = 45); docs/model-repository.md "Input limits" documents the same 45:1.
MAX_ASPECT_RATIO = 45

SIZE_FLAG = "--throughput-image-size"
BATCH_FLAG = "--throughput-max-batch-size"
DELAY_FLAG = "--throughput-max-queue-delay-microseconds"

# The models throughput mode changes; every other model is published as written.
BATCHING_MODELS = ("dinov2",)
FIXED_PREPROCESS_MODELS = ("dinov2_preprocess",)
THROUGHPUT_MODELS = FIXED_PREPROCESS_MODELS + BATCHING_MODELS

# ASCII digits only (\d and int() accept "６４０"), at most 6 so int() never meets its digit limit; fullmatch.
_SIZE = re.compile(r" *([0-9]{1,6}) *[xX] *([0-9]{1,6}) *")


@dataclass(frozen=True)
class ThroughputMode:
    """The image size (width x height) DINOv2's fixed input derives from, and the batcher's limits."""

    image_width: int
    image_height: int
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    max_queue_delay_microseconds: int = DEFAULT_MAX_QUEUE_DELAY_MICROSECONDS

    def __post_init__(self) -> None:
        size = f"{SIZE_FLAG} {self.image_width}x{self.image_height}"
        if not all(MIN_IMAGE_SIDE <= side <= MAX_IMAGE_SIDE for side in (self.image_width, self.image_height)):
            raise UsageError(f"{size}: width and height must each be from {MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE} pixels")
        longer, shorter = max(self.image_width, self.image_height), min(self.image_width, self.image_height)
        if longer > MAX_ASPECT_RATIO * shorter:
            raise UsageError(
                f"{size}: the aspect ratio (longer side / shorter side) must be at most {MAX_ASPECT_RATIO}:1, "
                f"so that DINOv2's input keeps at least one {DINO_PATCH} px patch per side; got {longer}:{shorter}"
            )
        if not (1 <= self.max_batch_size <= MAX_BATCH_SIZE):
            raise UsageError(f"{BATCH_FLAG} must be from 1 to {MAX_BATCH_SIZE}, got {self.max_batch_size}")
        if not (0 <= self.max_queue_delay_microseconds <= MAX_QUEUE_DELAY_MICROSECONDS):
            raise UsageError(
                f"{DELAY_FLAG} must be from 0 to {MAX_QUEUE_DELAY_MICROSECONDS:,}, got {self.max_queue_delay_microseconds}"
            )

    @property
    def dinov2_hw(self) -> tuple[int, int]:
        """DINOv2's input: the reference's rule (dino_extract.py _resize_input_image) applied to the configured size."""
        return dinov2_size(self.image_height, self.image_width)

    @property
    def dinov2_grid(self) -> tuple[int, int]:
        height, width = self.dinov2_hw
        return height // DINO_PATCH, width // DINO_PATCH

    def manifest(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def parse_image_size(text: str, flag: str = SIZE_FLAG) -> tuple[int, int]:
    """`WIDTHxHEIGHT` to (width, height)."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise UsageError(f"{flag} must be WIDTHxHEIGHT in pixels (for example 640x480), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def add_throughput_flags(parser: argparse.ArgumentParser) -> None:
    """The three flags, shared by the conversion CLI and render_configs (defaults applied by throughput_mode_from_flags,
    so a tuning flag given without the size can be refused)."""
    parser.add_argument(
        SIZE_FLAG, metavar="WIDTHxHEIGHT",
        help="throughput mode: DINOv2's input is fixed to the one the reference gives images of this size, so "
        f"DINOv2 batches across requests (each side {MIN_IMAGE_SIDE}-{MAX_IMAGE_SIDE}, aspect ratio at most "
        f"{MAX_ASPECT_RATIO}:1; docs/conversion.md)",
    )
    parser.add_argument(
        BATCH_FLAG, type=int, metavar="N",
        help=f"throughput mode: largest batch of DINOv2 (1-{MAX_BATCH_SIZE}, default {DEFAULT_MAX_BATCH_SIZE})",
    )
    parser.add_argument(
        DELAY_FLAG, type=int, metavar="D",
        help="throughput mode: longest wait of the dynamic batcher for a fuller batch "
        f"(0-{MAX_QUEUE_DELAY_MICROSECONDS}, default {DEFAULT_MAX_QUEUE_DELAY_MICROSECONDS})",
    )


def throughput_mode_from_flags(image_size: str | None, max_batch_size: int | None, max_queue_delay: int | None) -> ThroughputMode | None:
    """The mode the three flags ask for; None (today's behaviour) when none is given."""
    if image_size is None:
        given = [flag for flag, value in ((BATCH_FLAG, max_batch_size), (DELAY_FLAG, max_queue_delay)) if value is not None]
        if given:
            verb = "apply" if len(given) > 1 else "applies"
            raise UsageError(f"{' and '.join(given)} {verb} only in throughput mode; add {SIZE_FLAG} WIDTHxHEIGHT")
        return None
    width, height = parse_image_size(image_size)
    return ThroughputMode(
        width, height,
        DEFAULT_MAX_BATCH_SIZE if max_batch_size is None else max_batch_size,
        DEFAULT_MAX_QUEUE_DELAY_MICROSECONDS if max_queue_delay is None else max_queue_delay,
    )


# The dims the default contract declares for the tensors throughput mode fixes (model_repository/*/config.pbtxt).
# A contract that declares anything else was changed since this module was written; transforming it could
# silently publish nonsense, so it is refused.
EXPECTED_SOURCE_DIMS: dict[tuple[str, str], tuple[int, ...]] = {
    ("dinov2_preprocess", "pixel_values"): (1, 3, -1, -1),
    ("dinov2", "pixel_values"): (1, 3, -1, -1),
    ("dinov2", "features"): (1, 768, -1, -1),
}


def fixed_dims(mode: ThroughputMode) -> dict[tuple[str, str], tuple[int, ...]]:
    """The dims each changed tensor gets: [1, ...] on the non-batching dinov2_preprocess, and without the
    batch dim on the batching dinov2 (Triton's config dims of a batching model exclude it)."""
    dino_h, dino_w = mode.dinov2_hw
    grid_h, grid_w = mode.dinov2_grid
    return {
        ("dinov2_preprocess", "pixel_values"): (1, 3, dino_h, dino_w),
        ("dinov2", "pixel_values"): (3, dino_h, dino_w),
        ("dinov2", "features"): (768, grid_h, grid_w),
    }


def _find_tensor(spec: ModelSpec, name: str) -> TensorSpec | None:
    return next((t for t in spec.inputs + spec.outputs if t.name == name), None)


def check_source_contract(contract: Contract) -> None:
    """Refuses a contract whose tensors are not the dynamic shapes throughput mode was written for."""
    problems: list[str] = []
    ensemble_batch = contract.ensemble_spec.max_batch_size
    if ensemble_batch != 0:
        problems.append(f"the ensemble {contract.ensemble!r} has max_batch_size {ensemble_batch}, expected 0")
    for name in THROUGHPUT_MODELS:
        spec = contract.models.get(name)
        if spec is None:
            problems.append(f"model {name!r} is missing")
        elif spec.max_batch_size != 0:
            problems.append(f"model {name!r} has max_batch_size {spec.max_batch_size}, expected 0")
    for (model, tensor), expected in EXPECTED_SOURCE_DIMS.items():
        spec = contract.models.get(model)
        found = _find_tensor(spec, tensor) if spec is not None else None
        if spec is not None and found is None:
            problems.append(f"model {model!r} has no tensor {tensor!r}")
        elif found is not None and found.dims != expected:
            problems.append(f"{model}.{tensor} has dims {list(found.dims)}, expected {list(expected)}")
    if problems:
        raise ContractError(
            "throughput mode cannot be applied to this contract:\n" + "\n".join(f"  - {p}" for p in problems),
            hint="throughput mode rewrites the default model_repository configs; "
            "scripts/omniglue_conversion/throughput.py lists the shapes it expects",
        )


def apply_to_contract(contract: Contract, mode: ThroughputMode) -> Contract:
    """A new contract with DINOv2's fixed dims, and max_batch_size N on dinov2."""
    check_source_contract(contract)
    dims = fixed_dims(mode)

    def fixed(spec: ModelSpec) -> ModelSpec:
        def tensors(entries: tuple[TensorSpec, ...]) -> tuple[TensorSpec, ...]:
            return tuple(dataclasses.replace(t, dims=dims.get((spec.name, t.name), t.dims)) for t in entries)

        batch = mode.max_batch_size if spec.name in BATCHING_MODELS else spec.max_batch_size
        return dataclasses.replace(spec, max_batch_size=batch, inputs=tensors(spec.inputs), outputs=tensors(spec.outputs))

    models = {name: fixed(spec) if name in THROUGHPUT_MODELS else spec for name, spec in contract.models.items()}
    return dataclasses.replace(contract, models=models)
