"""The whole Job through cli.main, with fakes for the TensorFlow/PyTorch/onnxruntime steps."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile

import onnx
import pytest

from conftest import REPO_ROOT, LineageSessions, make_onnx_model
from omniglue_conversion.cli import main
from omniglue_conversion.logs import StageLogger
from omniglue_conversion.pipeline import NETWORK_EXPORTS, Steps, _default_glue
from omniglue_conversion.weights import DEFAULT_WEIGHT_URLS, sha256_file


class Fakes:
    def __init__(self, contract, *, fill=12, broken_export=None, real_glue=False):
        self.contract = contract
        self.real_glue = real_glue
        self.export_calls: list[str] = []
        self.fixed_image_size = None
        self.sessions = LineageSessions(contract, fill=fill)
        self.broken_export = broken_export

    def _export(self, name):
        def export(weight, spec, out_dir, log):
            self.export_calls.append(name)
            model = make_onnx_model(spec)
            if name == self.broken_export:
                model.graph.input[0].name = "renamed_by_converter"
            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / f"{name}.onnx"
            onnx.save(model, str(path))
            return path

        return export

    def build_glue(self, out_dir, keypoint_count, fixed_image_size=None):
        self.fixed_image_size = fixed_image_size
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name in self.contract.onnx_models:
            if name not in NETWORK_EXPORTS:
                paths[name] = out_dir / f"{name}.onnx"
                onnx.save(make_onnx_model(self.contract.models[name]), str(paths[name]))
        return paths

    def steps(self):
        return Steps(
            exports={name: self._export(name) for name in NETWORK_EXPORTS},
            build_glue=_default_glue if self.real_glue else self.build_glue,
            sessions=lambda _paths, _log: self.sessions,
        )


@pytest.fixture()
def job(tmp_path, contract_path):
    weights = tmp_path / "mirror"
    weights.mkdir()
    argv = [
        "--model-configs", str(REPO_ROOT / "model_repository"),
        "--contract", str(contract_path),
        "--output-root", str(tmp_path / "volume" / "repository"),
        "--version", "abc123",
        "--work-dir", str(tmp_path / "volume" / "work"),
        "--sample-image0", str(REPO_ROOT / "assets" / "demo1.jpg"),
        "--sample-image1", str(REPO_ROOT / "assets" / "demo2.jpg"),
    ]
    for name, path in write_weights(weights).items():
        argv += ["--weights-url", f"{name}={path.as_uri()}"]
    return argv


def write_weights(directory):
    """The three weights as the Job gets them: two SavedModel archives (tgz, zip) and a checkpoint."""
    superpoint = directory / "sp_v6.tgz"
    with tarfile.open(superpoint, "w:gz") as tar:
        for member, data in (("sp_v6/saved_model.pb", b"pb" * 50), ("sp_v6/variables/variables.index", b"i")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    omniglue = directory / "og_export.zip"
    with zipfile.ZipFile(omniglue, "w") as zf:
        zf.writestr("og_export/saved_model.pb", b"pb" * 50)
    dinov2 = directory / "dinov2_vitb14_pretrain.pth"
    dinov2.write_bytes(b"dinov2" * 100)
    return {"superpoint": superpoint, "dinov2": dinov2, "omniglue": omniglue}


def _run(argv, fakes):
    stream = io.StringIO()
    code = main(argv, log=StageLogger(stream), steps=fakes.steps())
    return code, [json.loads(line) for line in stream.getvalue().splitlines()]


def test_job_publishes_once_and_second_run_does_nothing(tmp_path, contract, job):
    pytest.importorskip("omniglue_conversion.glue_graphs")
    fakes = Fakes(contract, real_glue=True)
    code, records = _run(job, fakes)
    assert code == 0
    final = tmp_path / "volume" / "repository" / "versions" / "abc123"
    manifest = json.loads((final / "manifest.json").read_text())
    assert manifest["weights"]["dinov2"]["sha256"] == sha256_file(tmp_path / "mirror" / "dinov2_vitb14_pretrain.pth")
    assert manifest["weights"]["omniglue"]["url"].startswith("file://")
    assert manifest["sample_inference"] == {"matches": 12, "matches_above_0_02": 12}
    assert manifest["tools"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert {"onnx", "torch"} <= set(manifest["tools"])
    stages = [(r["stage"], r["event"]) for r in records if r["event"] in ("ok", "failed")]
    assert [s for s, _ in stages] == [
        "contract", "weights", "weights", "weights", "export", "export", "export",
        "glue", "validate", "sample-inference", "publish", "job",
    ]
    assert all(r["seconds"] >= 0 for r in records if r["event"] == "ok")
    assert not (tmp_path / "volume" / "work" / "build" / "abc123").exists()

    mtime = (final / "manifest.json").stat().st_mtime_ns
    again = Fakes(contract)
    code, records = _run(job, again)
    assert code == 0
    assert again.export_calls == [] and again.sessions.calls == []
    assert any(r["event"] == "already-published" for r in records)
    assert (final / "manifest.json").stat().st_mtime_ns == mtime


def test_too_few_sample_matches_fail_without_publishing(tmp_path, contract, job):
    code, records = _run(job + ["--min-sample-matches", "13"], Fakes(contract))
    assert code == 7
    error = records[-1]
    assert error["kind"] == "sample-inference" and "gave 12 matches" in error["message"]
    root = tmp_path / "volume" / "repository"
    assert not (root / "versions" / "abc123").exists()
    assert not list(root.glob(".staging-*"))


def test_contract_mismatch_fails_with_exit_code_6(tmp_path, contract, job):
    code, records = _run(job, Fakes(contract, broken_export="dinov2"))
    assert code == 6
    assert "model 'dinov2': inputs missing from ONNX: ['pixel_values']" in records[-1]["message"]
    assert not (tmp_path / "volume" / "repository" / "versions" / "abc123").exists()


def test_pinned_checksum_mismatch_fails_with_exit_code_4(contract, job):
    code, records = _run(job + ["--weights-sha256", "omniglue=" + "0" * 64], Fakes(contract))
    assert code == 4
    assert "expected sha256 " + "0" * 64 in records[-1]["message"]


def test_usage_errors_exit_2(job, contract):
    assert _run(job + ["--weights-url", "dino=https://x"], Fakes(contract))[0] == 2
    assert _run([a if a != "abc123" else "../x" for a in job], Fakes(contract))[0] == 2


def test_print_defaults_lists_the_pinned_urls():
    script = REPO_ROOT / "scripts" / "convert_models_to_onnx.py"
    completed = subprocess.run([sys.executable, str(script), "--print-defaults"], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == dict(DEFAULT_WEIGHT_URLS)
    assert set(json.loads(completed.stdout)) == {"superpoint", "dinov2", "omniglue"}


def test_an_exporter_crash_is_reported_as_a_conversion_failure(tmp_path, contract, job):
    fakes = Fakes(contract)
    steps = fakes.steps()

    def crash(weight, spec, out_dir, log):
        raise RuntimeError("Unsupported ONNX opset version: 99")

    steps.exports = {**steps.exports, "dinov2": crash}
    stream = io.StringIO()
    assert main(job, log=StageLogger(stream), steps=steps) == 5
    last = json.loads(stream.getvalue().splitlines()[-1])
    assert last["message"] == "conversion of dinov2 failed: RuntimeError: Unsupported ONNX opset version: 99"
    assert not list((tmp_path / "volume" / "repository").glob(".staging-*"))


def test_an_unwritable_volume_fails_before_the_lock_with_the_fix(tmp_path, contract, job, monkeypatch):
    from omniglue_conversion import publish

    def refuse(directory):
        raise PermissionError(13, "Permission denied", str(directory))

    monkeypatch.setattr(publish, "_probe_write", refuse)
    fakes = Fakes(contract)
    code, records = _run(job, fakes)
    assert code == 8
    error = records[-1]
    assert error["kind"] == "publish"
    assert "--output-root" in error["message"] and f"uid {os.getuid()} gid {os.getgid()}" in error["message"]
    assert "make the volume writable for uid 1000" in error["hint"]
    assert not (tmp_path / "volume" / "repository" / ".publish.lock").exists()
    assert fakes.export_calls == []


def test_a_read_only_versions_directory_fails_in_seconds_before_any_download(tmp_path, contract, job, monkeypatch):
    from omniglue_conversion import publish

    versions = tmp_path / "volume" / "repository" / "versions"
    real_probe = publish._probe_write

    def root_owned_versions(directory):
        if directory == versions:
            raise PermissionError(13, "Permission denied", str(directory))
        real_probe(directory)

    monkeypatch.setattr(publish, "_probe_write", root_owned_versions)
    fakes = Fakes(contract)
    code, records = _run(job, fakes)
    assert code == 8
    assert records[-1]["message"].startswith(f"--output-root {versions} is not writable (Permission denied)")
    assert not [r for r in records if r["stage"] == "weights"]
    assert fakes.export_calls == []


def test_a_directory_in_place_of_the_lock_file_exits_9_naming_it(tmp_path, contract, job):
    lock = tmp_path / "volume" / "repository" / ".publish.lock"
    lock.mkdir(parents=True)
    fakes = Fakes(contract)
    code, records = _run(job, fakes)
    assert code == 9
    assert records[-1]["kind"] == "lock" and records[-1]["message"] == f"the lock file {lock} is a directory"
    assert fakes.export_calls == []


def test_a_manifest_listing_no_files_is_not_taken_as_published(tmp_path, contract, job):
    assert _run(job, Fakes(contract))[0] == 0
    final = tmp_path / "volume" / "repository" / "versions" / "abc123"
    manifest = json.loads((final / "manifest.json").read_text())
    (final / "manifest.json").write_text(json.dumps({**manifest, "files": {}}))

    again = Fakes(contract)
    code, records = _run(job, again)
    assert code == 0
    assert sorted(again.export_calls) == sorted(NETWORK_EXPORTS)
    (invalid,) = [r for r in records if r["event"] == "invalid-existing-version"]
    assert "does not list" in invalid["reason"]
    assert len(list((tmp_path / "volume" / "repository").glob(".rejected-abc123-*"))) == 1
    assert json.loads((final / "manifest.json").read_text())["files"]


def test_a_damaged_cached_archive_is_downloaded_again_and_the_job_succeeds(tmp_path, contract, job):
    from omniglue_conversion.weights import WeightSource, cache_path

    source = WeightSource("omniglue", (tmp_path / "mirror" / "og_export.zip").as_uri(), None)
    cached = cache_path(source, tmp_path / "volume" / "work" / "weights")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"PK\x03\x04 truncated by a killed copy")
    code, records = _run(job, Fakes(contract))
    assert code == 0
    (warning,) = [r for r in records if r["event"] == "archive-unusable"]
    assert warning["weight"] == "omniglue" and warning["path"] == str(cached) and warning["from_cache"] is True
    assert cached.read_bytes() == (tmp_path / "mirror" / "og_export.zip").read_bytes()


def test_a_download_over_its_cap_exits_3(contract, job):
    code, records = _run(job + ["--weights-max-bytes", "dinov2=100"], Fakes(contract))
    assert code == 3
    assert "over the cap of 100 bytes" in records[-1]["message"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--download-timeout-seconds", "0"], "--download-timeout-seconds must be a positive number of seconds, got 0"),
        (["--lock-timeout-seconds", "nan"], "--lock-timeout-seconds must be a positive number of seconds, got nan"),
        (["--weights-max-bytes", "dinov2=1GB"], "--weights-max-bytes dinov2=1GB: expected a positive whole number"),
        (["--weights-max-bytes", "dino=1"], "--weights-max-bytes: unknown weight name 'dino'"),
    ],
)
def test_bad_limits_are_usage_errors(contract, job, flags, message):
    code, records = _run(job + flags, Fakes(contract))
    assert code == 2 and message in records[-1]["message"]


def test_an_invalid_version_that_cannot_be_moved_aside_fails_before_any_download(tmp_path, contract, job, monkeypatch):
    from omniglue_conversion import pipeline

    final = tmp_path / "volume" / "repository" / "versions" / "abc123"
    final.mkdir(parents=True)
    real_access = os.access
    monkeypatch.setattr(pipeline.os, "access", lambda p, mode: False if p == final else real_access(p, mode))
    fakes = Fakes(contract)
    code, records = _run(job, fakes)
    assert code == 8
    assert records[-1]["message"].startswith(f"the existing version {final} failed verification and must be set aside")
    assert not [r for r in records if r["stage"] == "weights"]


def test_a_build_directory_that_cannot_be_removed_is_named(tmp_path, contract, job, monkeypatch):
    from omniglue_conversion import pipeline

    leftover = tmp_path / "volume" / "work" / "build" / "old"
    leftover.mkdir(parents=True)
    monkeypatch.setattr(pipeline.shutil, "rmtree", lambda *args, **kwargs: None)
    code, records = _run(job, Fakes(contract))
    assert code == 8
    assert records[-1]["message"].startswith(f"cannot remove {leftover.parent}, left over from an earlier run")
