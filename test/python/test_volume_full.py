"""A volume out of space, inodes or quota (ENOSPC, EDQUOT) wherever the Job creates something: exit 8 naming
the path (volume.py), injected at each place, through the whole Job."""

from __future__ import annotations

import errno
import os
import pathlib
import shutil

import pytest

from test_cli_pipeline import Fakes, _run, job  # noqa: F401 - job is a fixture
from omniglue_conversion import locking, publish, weights


def _full(code=errno.ENOSPC):
    return OSError(code, os.strerror(code))


def _mkdir_fails_for(monkeypatch, matches, code=errno.ENOSPC):
    real = pathlib.Path.mkdir

    def mkdir(self, *args, **kwargs):
        if matches(self):
            raise _full(code)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)


def _raise(code=errno.ENOSPC):
    def fail(*_args, **_kwargs):
        raise _full(code)

    return fail


def _lock_create_fails(monkeypatch):
    real = os.open

    def open_(path, flags, *args):
        if str(path).endswith(locking.LOCK_NAME):
            raise _full()
        return real(path, flags, *args)

    monkeypatch.setattr(locking.os, "open", open_)


def _download_fails(monkeypatch):
    real = os.fsync

    def fsync(fd):
        if ".part-" in os.readlink(f"/proc/self/fd/{fd}"):
            raise _full()
        return real(fd)

    monkeypatch.setattr(weights.os, "fsync", fsync)


INJECTIONS = {
    "the write probe": (lambda mp: mp.setattr(publish, "_probe_write", _raise()), "creating a file in --output-root"),
    "the lock file": (_lock_create_fails, "creating the lock file"),
    "the lock record": (lambda mp: mp.setattr(locking, "_write_record", _raise(errno.EDQUOT)), "writing the holder's record into"),
    "a download": (_download_fails, "downloading into"),
    "an extraction directory": (lambda mp: _mkdir_fails_for(mp, lambda p: p.name.startswith(".extracting-")), "creating"),
    "an extracted file": (lambda mp: mp.setattr(shutil, "copyfileobj", _raise(errno.EDQUOT)), "extracting into"),
    "the build directory": (lambda mp: _mkdir_fails_for(mp, lambda p: p.parent.name == "build"), "creating"),
    "the staging directory": (lambda mp: _mkdir_fails_for(mp, lambda p: p.name.startswith(".staging-")), "creating"),
    "a published file": (lambda mp: mp.setattr(publish, "_write_file", _raise(errno.EDQUOT)), "writing the version into"),
}


@pytest.mark.parametrize("where", INJECTIONS)
def test_a_full_volume_exits_8_naming_the_path_at_every_place_that_creates_files(tmp_path, contract, job, monkeypatch, where):  # noqa: F811
    inject, action = INJECTIONS[where]
    inject(monkeypatch)
    code, records = _run(job, Fakes(contract))
    error = records[-1]
    assert (code, error["kind"]) == (8, "volume-full"), error
    assert error["message"].startswith(f"the volume is full: {action} ")
    assert "no space, no inodes or no quota is left" in error["message"] and "df -i" in error["hint"]
    assert not [r for r in records if r["event"] in ("retry", "archive-unusable")]
    root = tmp_path / "volume" / "repository"
    assert not (root / "versions" / "abc123").exists() and not list(root.glob(".staging-*"))


def test_a_full_volume_during_an_export_is_not_a_conversion_failure(tmp_path, contract, job):  # noqa: F811
    fakes = Fakes(contract)
    steps = fakes.steps()

    def export(weight, spec, out_dir, log):
        raise OSError(errno.ENOSPC, "No space left on device", str(out_dir / "model.onnx"))

    steps.exports = {**steps.exports, "dinov2": export}
    import io
    import json

    from omniglue_conversion.cli import main
    from omniglue_conversion.logs import StageLogger

    stream = io.StringIO()
    assert main(job, log=StageLogger(stream), steps=steps) == 8
    last = json.loads(stream.getvalue().splitlines()[-1])
    assert last["message"].startswith("the volume is full: writing the dinov2 conversion: ")
    assert str(tmp_path / "volume" / "work" / "build" / "abc123" / "dinov2" / "model.onnx") in last["message"]


def test_an_archive_that_met_a_full_volume_stays_in_the_cache(tmp_path, contract, job, monkeypatch):  # noqa: F811
    INJECTIONS["an extracted file"][0](monkeypatch)
    assert _run(job, Fakes(contract))[0] == 8
    assert [p.name for p in (tmp_path / "volume" / "work" / "weights").rglob("*") if p.is_file()] != []
