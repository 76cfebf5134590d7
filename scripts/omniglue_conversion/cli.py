"""Command line of the conversion Job (the stack builds this command line)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import traceback
from pathlib import Path
from typing import Sequence

from .errors import EXIT_OK, EXIT_UNEXPECTED, ConversionError, UsageError
from .logs import StageLogger
from .model_config import DEFAULT_TRT_WORKSPACE_BYTES
from .pipeline import Options, Steps, run
from .publish import ServingOptions, check_version
from .serving import DEFAULT_MAX_IMAGE_SIDE, INSTANCE_KINDS, TYPICAL_IMAGE_HW
from .termination import report_failure
from .throughput import add_throughput_flags, throughput_mode_from_flags
from .locking import DEFAULT_LOCK_TIMEOUT_S
from .weights import (
    DEFAULT_DOWNLOAD_TIMEOUT_S, DEFAULT_MAX_BYTES, DEFAULT_WEIGHT_URLS, WEIGHT_NAMES, parse_assignments, parse_byte_caps,
    resolve_sources,
)

# Scripts live in <root>/scripts; the demo pair in <root>/assets, both in the
# repository and in the conversion image (/opt/omniglue).
_ASSETS = Path(__file__).resolve().parents[2] / "assets"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="convert_models_to_onnx.py",
        description="Download, convert, validate and publish the OmniGlue Triton model repository.",
    )
    p.add_argument("--print-defaults", action="store_true", help="print the pinned weight URLs as JSON and exit")
    p.add_argument("--model-configs", type=Path, help="directory laid out like model_repository/ (<model>/config.pbtxt)")
    p.add_argument("--contract", type=Path, help="model contract JSON (tools/export-model-contract.ts)")
    p.add_argument("--output-root", type=Path, help="volume root; versions are published under versions/<version>")
    p.add_argument("--version", help="version directory name (the stack passes a content hash)")
    p.add_argument("--work-dir", type=Path, help="download cache and build directory (keep it on the volume)")
    p.add_argument("--sample-image0", type=Path, default=_ASSETS / "demo1.jpg")
    p.add_argument("--sample-image1", type=Path, default=_ASSETS / "demo2.jpg")
    p.add_argument("--min-sample-matches", type=int, default=10,
                   help="matches with confidence > 0.02 the sample pair must give (default 10)")
    p.add_argument("--weights-url", action="append", metavar="NAME=URL",
                   help=f"override a weight URL (https:// or file://); NAME in {', '.join(WEIGHT_NAMES)}")
    p.add_argument("--weights-sha256", action="append", metavar="NAME=HEX", help="pin a weight's sha256")
    p.add_argument("--weights-max-bytes", action="append", metavar="NAME=BYTES",
                   help="size cap of one weight download (defaults: "
                   + ", ".join(f"{n} {DEFAULT_MAX_BYTES[n]}" for n in WEIGHT_NAMES) + ")")
    p.add_argument("--download-timeout-seconds", type=float, default=DEFAULT_DOWNLOAD_TIMEOUT_S,
                   help=f"limit for all weight downloads together (default {DEFAULT_DOWNLOAD_TIMEOUT_S:g})")
    p.add_argument("--lock-timeout-seconds", type=float, default=DEFAULT_LOCK_TIMEOUT_S,
                   help=f"how long to wait for another Job's publish lock, exit 9 after (default {DEFAULT_LOCK_TIMEOUT_S:g})")
    p.add_argument("--tensorrt-fp16", action="store_true",
                   help="add ONNX Runtime's TensorRT FP16 accelerator to superpoint, dinov2 and omniglue")
    p.add_argument("--tensorrt-workspace-bytes", type=int, default=DEFAULT_TRT_WORKSPACE_BYTES)
    p.add_argument("--tensorrt-max-image-side", type=int, default=DEFAULT_MAX_IMAGE_SIDE,
                   help="largest image side the TensorRT shape profiles cover "
                   f"(default {DEFAULT_MAX_IMAGE_SIDE}; docs/performance.md)")
    p.add_argument("--instance-kind", choices=INSTANCE_KINDS, default="gpu",
                   help="instance groups of the published configs: gpu (as written) or cpu (CPU-only replicas)")
    p.add_argument("--keypoint-count", type=int, default=1024)
    add_throughput_flags(p)
    p.add_argument("--keep-versions", type=int, default=3,
                   help="published versions to keep on the volume, newest first (0 keeps all; default 3)")
    return p


def _options(args: argparse.Namespace) -> Options:
    required = ("model_configs", "contract", "output_root", "version", "work_dir")
    missing = [f"--{n.replace('_', '-')}" for n in required if getattr(args, n) is None]
    if missing:
        raise UsageError(f"missing required arguments: {', '.join(missing)}")
    for flag, path in (("--sample-image0", args.sample_image0), ("--sample-image1", args.sample_image1),
                       ("--contract", args.contract)):
        if not path.is_file():
            raise UsageError(f"{flag} {path}: no such file")
    if not args.model_configs.is_dir():
        raise UsageError(f"--model-configs {args.model_configs}: no such directory")
    if args.min_sample_matches < 0:
        raise UsageError(f"--min-sample-matches must be >= 0, got {args.min_sample_matches}")
    if args.keep_versions < 0:
        raise UsageError(f"--keep-versions must be >= 0, got {args.keep_versions}")
    for flag, seconds in (("--download-timeout-seconds", args.download_timeout_seconds),
                          ("--lock-timeout-seconds", args.lock_timeout_seconds)):
        if not math.isfinite(seconds) or seconds <= 0:
            raise UsageError(f"{flag} must be a positive number of seconds, got {seconds:g}")
    if args.keypoint_count <= 0:
        raise UsageError(f"--keypoint-count must be positive, got {args.keypoint_count}")
    if args.tensorrt_max_image_side < max(TYPICAL_IMAGE_HW):
        raise UsageError(
            f"--tensorrt-max-image-side must be at least {max(TYPICAL_IMAGE_HW)} (the typical image), "
            f"got {args.tensorrt_max_image_side}"
        )
    if args.instance_kind == "cpu" and args.tensorrt_fp16:
        raise UsageError("--tensorrt-fp16 needs GPU instances; it cannot be combined with --instance-kind cpu")
    throughput = throughput_mode_from_flags(
        args.throughput_image_size, args.throughput_max_batch_size, args.throughput_max_queue_delay_microseconds
    )
    sources = resolve_sources(
        parse_assignments(args.weights_url, "--weights-url"),
        parse_assignments(args.weights_sha256, "--weights-sha256"),
        parse_byte_caps(parse_assignments(args.weights_max_bytes, "--weights-max-bytes")),
    )
    return Options(
        model_configs=args.model_configs,
        contract=args.contract,
        output_root=args.output_root,
        version=check_version(args.version),
        work_dir=args.work_dir,
        sample_image0=args.sample_image0,
        sample_image1=args.sample_image1,
        sources=sources,
        min_sample_matches=args.min_sample_matches,
        keep_versions=args.keep_versions,
        download_timeout_s=args.download_timeout_seconds,
        lock_timeout_s=args.lock_timeout_seconds,
        serving=ServingOptions(
            instance_kind=args.instance_kind,
            tensorrt_fp16=args.tensorrt_fp16,
            trt_workspace_bytes=args.tensorrt_workspace_bytes,
            tensorrt_max_image_side=args.tensorrt_max_image_side,
            keypoint_count=args.keypoint_count,
            throughput=throughput,
        ),
    )


def main(argv: Sequence[str] | None = None, *, log: StageLogger | None = None, steps: Steps | None = None) -> int:
    log = log or StageLogger()
    try:
        args = build_parser().parse_args(argv)
        if args.print_defaults:
            print(json.dumps(dict(DEFAULT_WEIGHT_URLS), indent=2, sort_keys=True))
            return EXIT_OK
        options = _options(args)
        with log.stage("job", version=options.version) as info:
            info["path"] = str(run(options, log, steps))
        return EXIT_OK
    except ConversionError as exc:
        log.event("job", "error", level="error", kind=exc.kind, exit_code=exc.exit_code, message=exc.message, hint=exc.hint)
        print(f"error: {exc}", file=sys.stderr)
        report_failure(exc.kind, exc.exit_code, exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: a clear exit code and the traceback
        log.event("job", "error", level="error", kind="unexpected", exit_code=EXIT_UNEXPECTED, message=repr(exc))
        traceback.print_exc()
        report_failure("unexpected", EXIT_UNEXPECTED, repr(exc), "the traceback is in the container log")
        return EXIT_UNEXPECTED

