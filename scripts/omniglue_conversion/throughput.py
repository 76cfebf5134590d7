"""Throughput mode: a fixed input resolution, so Triton can batch SuperPoint and DINOv2 across requests.

By default every image keeps its own size (the reference runs SuperPoint at full resolution), so the
networks see a different shape per request and cannot batch. In throughput mode the two preprocessing
graphs resize every image to one configured size; SuperPoint and DINOv2 then get `max_batch_size` N and
`dynamic_batching`, and Triton merges requests that come from different ensemble requests.

Triton rules this relies on (triton-inference-server/core):
* src/ensemble_scheduler/ensemble_utils.cc, ValidateEnsembleConfig: a composing model's
  `max_batch_size` may not be below the ensemble's; ours is 0, so batching models are allowed.
* ensemble_utils.cc, ValidateTensorConsistency: tensor dims are compared with wildcards, and if that
  fails with *full* dims, which for a batching model are [-1] + dims; so `image_gray` [1, H, W, 1] of
  the non-batching superpoint_preprocess matches superpoint's `image` [H, W, 1] (full [-1, H, W, 1]).
* src/ensemble_scheduler/ensemble_scheduler.cc, ReshapeTensorDims: a [1, H, W, 1] tensor from a
  non-batching step reaches a batching model as a batch of one, and the batching model's [1, ...]
  output reaches a non-batching consumer with the 1 kept in its dims.
* src/backend_model.cc, SetConfiguredScheduler: a batching model only merges requests whose
  variable-size inputs have equal shapes, which is why the size is fixed.
The matcher never batches: its keypoint counts differ per image (docs/performance.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from dataclasses import dataclass

from .contract import Contract, ModelSpec, TensorSpec
from .errors import ContractError, UsageError
from .serving import DINO_PATCH, SUPERPOINT_CELL, dinov2_size

MIN_IMAGE_SIDE = 16
MAX_IMAGE_SIDE = 4096
MAX_BATCH_SIZE = 64
MAX_QUEUE_DELAY_MICROSECONDS = 1_000_000
DEFAULT_MAX_BATCH_SIZE = 8
DEFAULT_MAX_QUEUE_DELAY_MICROSECONDS = 1000

SIZE_FLAG = "--throughput-image-size"
BATCH_FLAG = "--throughput-max-batch-size"
DELAY_FLAG = "--throughput-max-queue-delay-microseconds"

# The models throughput mode changes; every other model is published as written.
BATCHING_MODELS = ("superpoint", "dinov2")
FIXED_PREPROCESS_MODELS = ("superpoint_preprocess", "dinov2_preprocess")
THROUGHPUT_MODELS = FIXED_PREPROCESS_MODELS + BATCHING_MODELS

_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


@dataclass(frozen=True)
class ThroughputMode:
    """The fixed image size (width x height, what both networks' inputs derive from) and the batcher's limits."""

    image_width: int
    image_height: int
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    max_queue_delay_microseconds: int = DEFAULT_MAX_QUEUE_DELAY_MICROSECONDS

    def __post_init__(self) -> None:
        for side in (self.image_width, self.image_height):
            if not (MIN_IMAGE_SIDE <= side <= MAX_IMAGE_SIDE) or side % SUPERPOINT_CELL:
                raise UsageError(
                    f"{SIZE_FLAG} {self.image_width}x{self.image_height}: width and height must each be a multiple "
                    f"of {SUPERPOINT_CELL} (SuperPoint's cell) from {MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE}"
                )
        if not (1 <= self.max_batch_size <= MAX_BATCH_SIZE):
            raise UsageError(f"{BATCH_FLAG} must be from 1 to {MAX_BATCH_SIZE}, got {self.max_batch_size}")
        if not (0 <= self.max_queue_delay_microseconds <= MAX_QUEUE_DELAY_MICROSECONDS):
            raise UsageError(
                f"{DELAY_FLAG} must be from 0 to {MAX_QUEUE_DELAY_MICROSECONDS:,}, got {self.max_queue_delay_microseconds}"
            )

    @property
    def superpoint_hw(self) -> tuple[int, int]:
        """SuperPoint's input: the configured size itself (already a multiple of the 8 px cell)."""
        return self.image_height, self.image_width

    @property
    def superpoint_cells(self) -> tuple[int, int]:
        return self.image_height // SUPERPOINT_CELL, self.image_width // SUPERPOINT_CELL

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
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"{flag} must be WIDTHxHEIGHT in pixels (for example 640x480), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def add_throughput_flags(parser: argparse.ArgumentParser) -> None:
    """The three flags, shared by the conversion CLI and render_configs (defaults applied by throughput_mode_from_flags,
    so a tuning flag given without the size can be refused)."""
    parser.add_argument(
        SIZE_FLAG, metavar="WIDTHxHEIGHT",
        help="throughput mode: resize every image to this size so SuperPoint and DINOv2 batch across requests "
        f"(multiples of {SUPERPOINT_CELL} from {MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE}; docs/conversion.md)",
    )
    parser.add_argument(
        BATCH_FLAG, type=int, metavar="N",
        help=f"throughput mode: largest batch of the two networks (1-{MAX_BATCH_SIZE}, default {DEFAULT_MAX_BATCH_SIZE})",
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
    ("superpoint_preprocess", "image_gray"): (1, -1, -1, 1),
    ("superpoint", "image"): (1, -1, -1, 1),
    ("superpoint", "prob_nms"): (1, -1, -1),
    ("superpoint", "descriptors_raw"): (1, -1, -1, 256),
    ("dinov2_preprocess", "pixel_values"): (1, 3, -1, -1),
    ("dinov2", "pixel_values"): (1, 3, -1, -1),
    ("dinov2", "features"): (1, 768, -1, -1),
}


def fixed_dims(mode: ThroughputMode) -> dict[tuple[str, str], tuple[int, ...]]:
    """The dims each changed tensor gets: [1, ...] on the non-batching preprocessing steps, and without the
    batch dim on the batching networks (Triton's config dims of a batching model exclude it)."""
    height, width = mode.superpoint_hw
    cells_h, cells_w = mode.superpoint_cells
    dino_h, dino_w = mode.dinov2_hw
    grid_h, grid_w = mode.dinov2_grid
    return {
        ("superpoint_preprocess", "image_gray"): (1, height, width, 1),
        ("superpoint", "image"): (height, width, 1),
        ("superpoint", "prob_nms"): (height, width),
        ("superpoint", "descriptors_raw"): (cells_h, cells_w, 256),
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
    """A new contract with the fixed dims, and max_batch_size N on the two networks."""
    check_source_contract(contract)
    dims = fixed_dims(mode)

    def fixed(spec: ModelSpec) -> ModelSpec:
        def tensors(entries: tuple[TensorSpec, ...]) -> tuple[TensorSpec, ...]:
            return tuple(dataclasses.replace(t, dims=dims.get((spec.name, t.name), t.dims)) for t in entries)

        batch = mode.max_batch_size if spec.name in BATCHING_MODELS else spec.max_batch_size
        return dataclasses.replace(spec, max_batch_size=batch, inputs=tensors(spec.inputs), outputs=tensors(spec.outputs))

    models = {name: fixed(spec) if name in THROUGHPUT_MODELS else spec for name, spec in contract.models.items()}
    return dataclasses.replace(contract, models=models)
