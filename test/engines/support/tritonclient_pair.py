"""Sends one image pair to omniglue_ensemble with the official tritonclient, over HTTP and over gRPC.

    .venv-triton/bin/python tritonclient_pair.py --http HOST:PORT --grpc HOST:PORT --pair PAIR.json --out DIR

With --job-contract C --published DIR it also runs the pair through the conversion Job's own ensemble runner
(omniglue_conversion.ensemble.run_ensemble, the Job's sample run) on DIR's ONNX files, in the same onnxruntime as
the wrappers, into DIR/job/.

PAIR.json names the decoded images the Jest suite sent with the project's client ({"image0": {"file", "shape"},
"image1": ...}, raw RGB bytes), so both clients send the same pixels. For each protocol, DIR/<protocol>/<output>.bin
holds the raw little-endian bytes of each output and DIR/outputs.json their datatypes and shapes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

MODEL = "omniglue_ensemble"
# The order the project's client asks for them (scripts/match/cli.ts OUTPUT_NAMES).
OUTPUTS = ("matches_kp0", "matches_kp1", "match_confidences")


def images(pair_file: Path) -> dict[str, np.ndarray]:
    pair = json.loads(pair_file.read_text())
    return {
        name: np.fromfile(entry["file"], dtype=np.uint8).reshape(entry["shape"])
        for name, entry in sorted(pair.items())
    }


def infer(module, client, pair: dict[str, np.ndarray]):
    inputs = []
    for name, array in pair.items():
        tensor = module.InferInput(name, list(array.shape), "UINT8")
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    outputs = [module.InferRequestedOutput(name) for name in OUTPUTS]
    return client.infer(MODEL, inputs, outputs=outputs)


def job_runner(contract_file: Path, published: Path, pair: dict[str, np.ndarray], out: Path) -> dict:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
    from omniglue_conversion.contract import load_contract
    from omniglue_conversion.ensemble import onnxruntime_sessions, run_ensemble

    contract = load_contract(contract_file)
    models = {name: published / name / "1" / "model.onnx" for name in contract.onnx_models}
    outputs = run_ensemble(contract, pair, onnxruntime_sessions(models))
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        outputs[name].astype(outputs[name].dtype.newbyteorder("<")).tofile(out / f"{name}.bin")
    return {name: {"dtype": str(outputs[name].dtype), "shape": list(outputs[name].shape)} for name in OUTPUTS}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True)
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--pair", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--job-contract", type=Path)
    parser.add_argument("--published", type=Path)
    args = parser.parse_args()
    pair = images(args.pair)
    described = {}
    clients = {
        "http": (httpclient, httpclient.InferenceServerClient(url=args.http, network_timeout=300.0)),
        "grpc": (grpcclient, grpcclient.InferenceServerClient(url=args.grpc)),
    }
    for protocol, (module, client) in clients.items():
        result = infer(module, client, pair)
        (args.out / protocol).mkdir(parents=True, exist_ok=True)
        described[protocol] = {}
        for name in OUTPUTS:
            array = result.as_numpy(name)
            array.astype(array.dtype.newbyteorder("<")).tofile(args.out / protocol / f"{name}.bin")
            described[protocol][name] = {"dtype": str(array.dtype), "shape": list(array.shape)}
    if args.job_contract is not None:
        described["job"] = job_runner(args.job_contract, args.published, pair, args.out / "job")
    (args.out / "outputs.json").write_text(json.dumps(described, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
