"""Publishes the model repository with the conversion Job's own code, then lays out a Triton repository that serves it.

    .venv-triton/bin/python scripts/triton-local/publish_local.py --serve-root DIR [--stand-ins] -- JOB_ARGV...

JOB_ARGV is the Job's command line (scripts/convert_models_to_onnx.py), built by scripts/triton-local/publish.ts
the way constructs/model-conversion-job.ts builds it. With --stand-ins the Job's `cli.main` runs every stage
(contract, weights, glue, validation, sample run, publish) and only the three network exports, which need
TensorFlow, tf2onnx and PyTorch with the official weights, are replaced by the random-weight stand-ins of
test/support/stand_in_networks.py. Without it, the Job's command line has already run in the conversion toolchain
(.venv) and this only lays out the serving tree.

The serving tree (wrappers.py) holds every ONNX model as a python-backend model running the published ONNX file in
onnxruntime, and the ensemble's published config unchanged. The last line printed is a JSON object with the paths.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "test" / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from omniglue_conversion.cli import build_parser, main  # noqa: E402
from omniglue_conversion.pipeline import NETWORK_EXPORTS, Steps  # noqa: E402
from omniglue_conversion.publish import version_dir  # noqa: E402
from wrappers import write_serving_tree  # noqa: E402


def _stand_in_export(name: str):
    def export(weight, spec, out_dir: Path, log) -> Path:
        from stand_in_networks import build_stand_in

        # A batching spec is the throughput mode's dinov2 (throughput.apply_to_contract): [3, Hd, Wd] behind the batch dim.
        throughput_hw = tuple(spec.inputs[0].dims[1:3]) if spec.max_batch_size > 0 else None
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{name}.onnx"
        import onnx

        onnx.save(build_stand_in(name, 8, throughput_hw), str(path))
        log.event("export", "stand-in", model=name, weight=str(weight.path), throughput_hw=throughput_hw)
        return path

    return export


def stand_in_steps() -> Steps:
    return Steps(exports={name: _stand_in_export(name) for name in NETWORK_EXPORTS})


def write_stand_in_weights(directory: Path) -> dict[str, Path]:
    """Archives with the official names and formats, so the Job's download and extraction stages run on file:// URLs as
    in the cluster; the stand-in exports build their networks from seeds instead of reading them."""
    import io
    import tarfile
    import zipfile

    directory.mkdir(parents=True, exist_ok=True)
    note = b"stand-in: test/support/stand_in_networks.py builds this network from seed 8\n"
    superpoint, omniglue, dinov2 = directory / "sp_v6.tgz", directory / "og_export.zip", directory / "dinov2_stand_in.pth"
    if not superpoint.exists():
        with tarfile.open(superpoint, "w:gz") as tar:
            info = tarfile.TarInfo("sp_v6/STAND_IN")
            info.size = len(note)
            tar.addfile(info, io.BytesIO(note))
    if not omniglue.exists():
        with zipfile.ZipFile(omniglue, "w") as zf:
            zf.writestr("og_export/STAND_IN", note)
    if not dinov2.exists():
        dinov2.write_bytes(note)
    return {"superpoint": superpoint, "dinov2": dinov2, "omniglue": omniglue}


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve-root", type=Path, required=True, help="where the serving tree of each version goes")
    parser.add_argument("--stand-ins", action="store_true", help="run the Job here, with stand-in networks")
    args, job_argv = parser.parse_known_args(argv)
    if job_argv[:1] == ["--"]:
        job_argv = job_argv[1:]
    job = build_parser().parse_args(job_argv)
    if args.stand_ins:
        weights = write_stand_in_weights(job.work_dir / "stand-in-weights")
        job_argv = job_argv + [arg for name, path in weights.items() for arg in ("--weights-url", f"{name}={path.as_uri()}")]
        code = main(job_argv, steps=stand_in_steps())
        if code != 0:
            return code
    published = version_dir(job.output_root, job.version)
    if not (published / "manifest.json").is_file():
        print(f"error: {published} is not a published version (no manifest.json)", file=sys.stderr)
        return 1
    serving = write_serving_tree(published, args.serve_root / job.version)
    # The Job prunes old versions (--keep-versions); their serving trees go with them.
    for tree in args.serve_root.iterdir():
        if not tree.name.startswith(".") and not version_dir(job.output_root, tree.name).is_dir():
            shutil.rmtree(tree, ignore_errors=True)
    print(json.dumps({"published": str(published), "serving": str(serving)}))
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
