from __future__ import annotations

import json
import os
import shutil

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, text_format

try:
    from google.protobuf.message_factory import GetMessageClass
except ImportError:  # protobuf < 4.22
    from google.protobuf.message_factory import MessageFactory

    def GetMessageClass(descriptor):  # noqa: N802 - mirrors the protobuf name
        return MessageFactory().GetPrototype(descriptor)

from conftest import REPO_ROOT, run_tsx, write_models
from omniglue_conversion import publish
from omniglue_conversion.errors import PublishError, UsageError
from omniglue_conversion.model_config import TENSORRT_MODELS, append_tensorrt_fp16, top_level_fields
from omniglue_conversion.serving import DEFAULT_KEYPOINT_COUNT, DEFAULT_MAX_IMAGE_SIDE, profile_parameters, tensorrt_profiles
from omniglue_conversion.publish import (
    ServingOptions,
    check_version,
    clean_stale_staging,
    prune_old_versions,
    publish_repository,
    verify_published,
)


@pytest.fixture()
def models(tmp_path, contract):
    return write_models(contract, tmp_path / "build")


def _publish(tmp_path, contract, models, log, tensorrt_fp16=False):
    return publish_repository(
        tmp_path / "out", "v1", contract, models, REPO_ROOT / "model_repository", {"note": "test"}, log,
        ServingOptions(tensorrt_fp16=tensorrt_fp16, trt_workspace_bytes=1 << 30),
    )


def test_publishes_a_complete_verified_repository(tmp_path, contract, models, log):
    final = _publish(tmp_path, contract, models, log)
    assert final == tmp_path / "out" / "versions" / "v1"
    assert sorted(p.name for p in final.iterdir()) == sorted([*contract.models, "manifest.json"])
    for name in contract.onnx_models:
        assert (final / name / "1" / "model.onnx").read_bytes() == models[name].read_bytes()
    assert list((final / "omniglue_ensemble" / "1").iterdir()) == []
    manifest = json.loads((final / "manifest.json").read_text())
    assert manifest["version"] == "v1" and manifest["note"] == "test"
    assert "superpoint/config.pbtxt" in manifest["files"]
    assert verify_published(final, contract) == (True, "ok")
    assert not list((tmp_path / "out").glob(".staging-*"))


def test_a_failure_mid_publish_leaves_no_version_and_no_staging(tmp_path, contract, models, log, monkeypatch):
    def crash(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(publish, "_write_manifest", crash)
    with pytest.raises(PublishError, match="disk full"):
        _publish(tmp_path, contract, models, log)
    assert not (tmp_path / "out" / "versions" / "v1").exists()
    assert not list((tmp_path / "out").glob(".staging-*"))


def test_staging_left_by_a_killed_job_is_removed_by_the_next_run(tmp_path, contract, models, log, monkeypatch):
    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(publish, "_write_manifest", killed)
    monkeypatch.setattr(publish.shutil, "rmtree", lambda *a, **k: None)  # a SIGKILL skips all cleanup
    with pytest.raises(KeyboardInterrupt):
        _publish(tmp_path, contract, models, log)
    assert len(list((tmp_path / "out").glob(".staging-v1-*"))) == 1
    assert not (tmp_path / "out" / "versions" / "v1").exists()

    monkeypatch.undo()
    assert clean_stale_staging(tmp_path / "out", log)
    _publish(tmp_path, contract, models, log)
    assert not list((tmp_path / "out").glob(".staging-*"))
    assert verify_published(tmp_path / "out" / "versions" / "v1", contract)[0]


def test_tampered_version_fails_verification(tmp_path, contract, models, log):
    final = _publish(tmp_path, contract, models, log)
    (final / "dinov2" / "1" / "model.onnx").write_bytes(b"truncated")
    ok, reason = verify_published(final, contract)
    assert not ok and "dinov2/1/model.onnx does not match its sha256" in reason


def test_republishing_over_an_invalid_version_keeps_the_old_one_aside(tmp_path, contract, models, log):
    final = _publish(tmp_path, contract, models, log)
    (final / "manifest.json").unlink()
    _publish(tmp_path, contract, models, log)
    assert verify_published(final, contract)[0]
    assert len(list((tmp_path / "out").glob(".rejected-v1-*"))) == 1


def test_config_name_must_match_its_directory(tmp_path, contract, models, log):
    configs = tmp_path / "configs"
    shutil.copytree(REPO_ROOT / "model_repository", configs)
    path = configs / "dinov2" / "config.pbtxt"
    path.write_text(path.read_text().replace('name: "dinov2"', 'name: "dino"'))
    with pytest.raises(PublishError, match="declares name 'dino', but its directory is 'dinov2'"):
        publish_repository(tmp_path / "out", "v1", contract, models, configs, {}, log, ServingOptions(trt_workspace_bytes=1))


def test_version_names_are_restricted():
    assert check_version("3f9a2c1d-17") == "3f9a2c1d-17"
    for bad in ("", "../x", "a/b", ".hidden", "x" * 129):
        with pytest.raises(UsageError):
            check_version(bad)


def _optimization_type():
    """The relevant corner of Triton's model_config.proto, enough to parse the block."""
    fdp = descriptor_pb2.FileDescriptorProto(name="trt_test.proto", package="t", syntax="proto3")
    entry = fdp.message_type.add(name="Accelerator")
    entry.field.add(name="name", number=1, type=9, label=1)
    params = entry.nested_type.add(name="ParametersEntry")
    params.options.map_entry = True
    params.field.add(name="key", number=1, type=9, label=1)
    params.field.add(name="value", number=2, type=9, label=1)
    entry.field.add(name="parameters", number=2, type=11, label=3, type_name=".t.Accelerator.ParametersEntry")
    accelerators = fdp.message_type.add(name="ExecutionAccelerators")
    accelerators.field.add(name="gpu_execution_accelerator", number=1, type=11, label=3, type_name=".t.Accelerator")
    policy = fdp.message_type.add(name="Policy")
    policy.field.add(name="execution_accelerators", number=4, type=11, label=1, type_name=".t.ExecutionAccelerators")
    root = fdp.message_type.add(name="Root")
    root.field.add(name="optimization", number=12, type=11, label=1, type_name=".t.Policy")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return GetMessageClass(pool.FindMessageTypeByName("t.Root"))


def test_tensorrt_block_is_added_to_the_three_networks_only_and_parses(tmp_path, contract, models, log):
    final = _publish(tmp_path, contract, models, log, tensorrt_fp16=True)
    root_type = _optimization_type()
    for name in contract.models:
        text = (final / name / "config.pbtxt").read_text()
        original = (REPO_ROOT / "model_repository" / name / "config.pbtxt").read_text()
        if name not in TENSORRT_MODELS:
            assert text == original
            continue
        assert text.startswith(original.rstrip("\n"))
        fields = [f for f in top_level_fields(text) if f.name == "optimization"]
        assert len(fields) == 1
        message = text_format.Parse(text[fields[0].start:fields[0].end], root_type())
        (accelerator,) = message.optimization.execution_accelerators.gpu_execution_accelerator
        assert accelerator.name == "tensorrt"
        assert dict(accelerator.parameters) == {
            "precision_mode": "FP16",
            "max_workspace_size_bytes": str(1 << 30),
            "trt_engine_cache_enable": "true",
            "trt_engine_cache_path": "/tmp/trt-engine-cache",
            "trt_force_sequential_engine_build": "true",
            **profile_parameters(tensorrt_profiles(DEFAULT_MAX_IMAGE_SIDE, DEFAULT_KEYPOINT_COUNT)[name]),
        }


def test_tensorrt_configs_parse_against_the_stacks_triton_schema(tmp_path, contract, models, log):
    final = _publish(tmp_path, contract, models, log, tensorrt_fp16=True)
    script = (
        "import * as fs from 'fs'; import * as protobuf from 'protobufjs';"
        "import * as textformat from 'protobufjs/ext/textformat';"
        "const t = protobuf.loadSync('lib/triton-model-config.proto').lookupType('inference.ModelConfig');"
        "const out: Record<string, unknown> = {};"
        "for (const m of ['superpoint', 'dinov2', 'omniglue', 'dinov2_preprocess']) {"
        "  const msg = textformat.fromText(t, fs.readFileSync(`${process.argv[1]}/${m}/config.pbtxt`, 'utf8'));"
        "  out[m] = (t.toObject(msg, { defaults: false }) as any).optimization ?? null; }"
        "console.log(JSON.stringify(out));"
    )
    if not (REPO_ROOT / "lib" / "triton-model-config.proto").is_file():
        pytest.skip("lib/triton-model-config.proto is not available")
    completed = run_tsx(["-e", script, str(final)])
    assert completed.returncode == 0, completed.stderr
    parsed = json.loads(completed.stdout)
    assert parsed["dinov2_preprocess"] is None
    for name in TENSORRT_MODELS:
        (accelerator,) = parsed[name]["executionAccelerators"]["gpuExecutionAccelerator"]
        assert accelerator["name"] == "tensorrt"
        assert accelerator["parameters"]["precision_mode"] == "FP16"
        assert accelerator["parameters"]["trt_engine_cache_enable"] == "true"
        assert accelerator["parameters"]["trt_engine_cache_path"] == "/tmp/trt-engine-cache"


def test_tensorrt_block_extends_an_existing_optimization_block():
    text = 'name: "m"\noptimization { graph { level: 1 } }\n'
    result = append_tensorrt_fp16(text, "m")
    assert [f.name for f in top_level_fields(result)] == ["name", "optimization"]
    assert "graph { level: 1 }" in result and 'name : "tensorrt"' in result
    with pytest.raises(PublishError, match="already declares execution_accelerators"):
        append_tensorrt_fp16(result, "m")


def test_old_versions_are_pruned_newest_first_and_the_current_one_is_kept(tmp_path, log):
    import os

    versions = tmp_path / "out" / "versions"
    for age, name in enumerate(["v5", "v4", "v3", "v2", "v1"]):
        (versions / name).mkdir(parents=True)
        os.utime(versions / name, (1_000_000 - age * 100, 1_000_000 - age * 100))
    assert prune_old_versions(tmp_path / "out", 3, "v1", log) == ["v2"]
    assert sorted(p.name for p in versions.iterdir()) == ["v1", "v3", "v4", "v5"]
    assert prune_old_versions(tmp_path / "out", 0, "v5", log) == []


def _raise_permission_error(directory):
    raise PermissionError(13, "Permission denied", str(directory))


def test_unwritable_volume_is_reported_with_uid_owner_mode_and_fix(tmp_path, monkeypatch):
    # Works as root too (CI): root ignores permission bits, so the probe is made to fail.
    root = tmp_path / "volume"
    root.mkdir()
    root.chmod(0o755)
    monkeypatch.setattr(publish, "_probe_write", _raise_permission_error)
    with pytest.raises(PublishError) as info:
        publish.check_writable(root, "--output-root")
    error = info.value
    assert f"--output-root {root} is not writable (Permission denied)" in error.message
    assert f"the Job runs as uid {os.getuid()} gid {os.getgid()}" in error.message
    st = root.stat()
    assert f"owned by uid {st.st_uid} gid {st.st_gid}, mode 0755" in error.message
    assert error.hint == publish.VOLUME_PERMISSION_FIX
    assert "EFS access point with uid/gid 1000" in error.hint and "honours fsGroup" in error.hint


def test_a_directory_that_cannot_be_created_names_its_nearest_parent(tmp_path, monkeypatch):
    parent = tmp_path / "nfs"
    parent.mkdir()

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(publish.Path, "mkdir", refuse)
    with pytest.raises(PublishError, match=r"nearest existing parent .*nfs\)"):
        publish.check_writable(parent / "work" / "weights", "--work-dir")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permission bits")
def test_a_read_only_directory_fails_the_real_probe(tmp_path):
    root = tmp_path / "volume"
    root.mkdir()
    root.chmod(0o555)
    try:
        with pytest.raises(PublishError, match=r"mode 0555") as info:
            publish.check_writable(root, "--output-root")
        assert info.value.hint == publish.VOLUME_PERMISSION_FIX
        assert list(root.iterdir()) == []
    finally:
        root.chmod(0o755)


def test_a_writable_directory_passes_and_is_left_empty(tmp_path):
    publish.check_writable(tmp_path / "new" / "root", "--output-root")
    assert list((tmp_path / "new" / "root").iterdir()) == []


def _rewrite_manifest(final, change):
    manifest = json.loads((final / "manifest.json").read_text())
    change(manifest)
    (final / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda m: m.update(files={}), "does not list ['dinov2/config.pbtxt', 'dinov2/1/model.onnx', "),
        (lambda m: m["files"].pop("omniglue_ensemble/config.pbtxt"), "does not list ['omniglue_ensemble/config.pbtxt']"),
        (lambda m: m["files"].pop("superpoint/1/model.onnx"), "does not list ['superpoint/1/model.onnx']"),
        (lambda m: m.update(files=[]), '"files" is a list, not an object'),
        (lambda m: m["files"]["dinov2/config.pbtxt"].pop("sha256"), "has no valid sha256 for dinov2/config.pbtxt"),
        (lambda m: m["files"].update({"../../etc/passwd": {"sha256": "0" * 64}}), "lists the path '../../etc/passwd' outside"),
        (lambda m: m.update(version="v0"), "is for version 'v0', not 'v1'"),
    ],
)
def test_already_published_is_trusted_only_when_the_manifest_covers_every_model(
    tmp_path, contract, models, log, change, reason
):
    final = _publish(tmp_path, contract, models, log)
    _rewrite_manifest(final, change)
    ok, why = verify_published(final, contract)
    assert not ok and reason in why


def test_a_missing_ensemble_version_directory_fails_verification(tmp_path, contract, models, log):
    final = _publish(tmp_path, contract, models, log)
    (final / "omniglue_ensemble" / "1").rmdir()
    ok, why = verify_published(final, contract)
    assert not ok and "the ensemble's version directory" in why


def test_rejected_versions_are_pruned_like_old_ones(tmp_path, log):
    out = tmp_path / "out"
    (out / "versions" / "v9").mkdir(parents=True)
    names = [f".rejected-v{i}-{1_700_000_000 + i * 10}" for i in range(5)] + [".rejected-v5-1700000045-ab12cd34"]
    for name in names:
        (out / name).mkdir()
        os.utime(out / name, (2_000_000_000, 2_000_000_000))  # a rename keeps no useful mtime: the name's time counts
    removed = prune_old_versions(out, 3, "v9", log)
    assert sorted(removed) == sorted(names[:3])
    assert sorted(p.name for p in out.glob(".rejected-*")) == sorted(names[3:])
    assert prune_old_versions(out, 0, "v9", log) == []


def test_a_second_rejection_in_the_same_second_gets_its_own_directory(tmp_path, contract, models, log, monkeypatch):
    monkeypatch.setattr(publish.time, "time", lambda: 1_800_000_000.0)
    final = _publish(tmp_path, contract, models, log)
    for _ in range(2):
        (final / "manifest.json").unlink()
        _publish(tmp_path, contract, models, log)
    rejected = sorted(p.name for p in (tmp_path / "out").glob(".rejected-v1-*"))
    assert len(rejected) == 2 and rejected[0] == ".rejected-v1-1800000000"
