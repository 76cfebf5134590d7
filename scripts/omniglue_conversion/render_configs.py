"""Writes the Triton configs a conversion Job would publish, without converting anything.

    python3 -m omniglue_conversion.render_configs --model-configs model_repository \\
        --contract CONTRACT.json --out DIR [--tensorrt-fp16] [--instance-kind cpu] \\
        [--throughput-image-size WIDTHxHEIGHT [--throughput-max-batch-size N] \\
         [--throughput-max-queue-delay-microseconds D]]

(run from scripts/; the contract comes from `npx tsx scripts/export-model-contract.ts FILE`).
DIR/<model>/config.pbtxt (and warmup/ files) are byte for byte what the Job publishes
with the same options, so the TensorRT profiles, warm-up and instance groups of a
deployment can be reviewed, diffed or checked by other tools before it runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from .contract import load_contract
from .errors import ConversionError
from .model_config import DEFAULT_TRT_WORKSPACE_BYTES
from .publish import ServingOptions, render_configs
from .serving import DEFAULT_KEYPOINT_COUNT, DEFAULT_MAX_IMAGE_SIDE, INSTANCE_KINDS
from .throughput import add_throughput_flags, apply_to_contract, throughput_mode_from_flags


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m omniglue_conversion.render_configs", description=__doc__.splitlines()[0])
    parser.add_argument("--model-configs", type=Path, required=True)
    parser.add_argument("--contract", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory to create (must not exist)")
    parser.add_argument("--tensorrt-fp16", action="store_true")
    parser.add_argument("--tensorrt-workspace-bytes", type=int, default=DEFAULT_TRT_WORKSPACE_BYTES)
    parser.add_argument("--tensorrt-max-image-side", type=int, default=DEFAULT_MAX_IMAGE_SIDE)
    parser.add_argument("--keypoint-count", type=int, default=DEFAULT_KEYPOINT_COUNT)
    parser.add_argument("--instance-kind", choices=INSTANCE_KINDS, default="gpu")
    add_throughput_flags(parser)
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"--out {args.out} already exists")
    if args.tensorrt_fp16 and args.instance_kind == "cpu":
        parser.error("--tensorrt-fp16 needs GPU instances; it cannot be combined with --instance-kind cpu")
    try:
        throughput = throughput_mode_from_flags(
            args.throughput_image_size, args.throughput_max_batch_size, args.throughput_max_queue_delay_microseconds
        )
        contract = load_contract(args.contract)
        if throughput is not None:
            contract = apply_to_contract(contract, throughput)
        serving = ServingOptions(
            instance_kind=args.instance_kind,
            tensorrt_fp16=args.tensorrt_fp16,
            trt_workspace_bytes=args.tensorrt_workspace_bytes,
            tensorrt_max_image_side=args.tensorrt_max_image_side,
            keypoint_count=args.keypoint_count,
            throughput=throughput,
        )
        render_configs(args.out, contract, args.model_configs, serving)
    except ConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
