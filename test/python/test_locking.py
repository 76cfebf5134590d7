from __future__ import annotations

import fcntl
import json
import os
import socket

import pytest

from omniglue_conversion import locking
from omniglue_conversion.errors import EXIT_LOCK, LockError
from omniglue_conversion.locking import exclusive_lock, read_holder


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def _hold(path, record):
    """Another Job: its own open file description holding the flock, with its record written."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, record)
    return fd


def test_takes_the_lock_writes_its_record_and_clears_it_on_release(tmp_path, log):
    path = tmp_path / ".publish.lock"
    with exclusive_lock(path, log, version="v7"):
        record = json.loads(path.read_text())
        assert record["tool"] == "omniglue-conversion" and record["version"] == "v7"
        assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
        fd = os.open(path, os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)
    assert path.read_text() == ""
    assert [r["event"] for r in log.records] == ["acquired"]


def test_waits_logging_holder_pid_host_and_age_then_gives_up_after_the_timeout(tmp_path, log):
    path = tmp_path / ".publish.lock"
    acquired = "2026-01-01T10:00:00+00:00"
    record = {"tool": "omniglue-conversion", "pid": 4242, "host": "convert-abc-x1", "acquired_at": acquired, "version": "v6"}
    fd = _hold(path, json.dumps(record).encode())
    clock = FakeClock()
    wall = 1767261600.0 + 300  # 2026-01-01T10:05:00Z
    try:
        with pytest.raises(LockError) as info:
            with exclusive_lock(path, log, timeout_s=150, poll_s=5, report_every_s=60, clock=clock,
                                wall_clock=lambda: wall + clock.now, sleep=clock.sleep):
                pytest.fail("the lock is held by another open file")
    finally:
        os.close(fd)
    error = info.value
    assert error.exit_code == EXIT_LOCK == 9
    assert error.message == (
        f"gave up waiting for the lock {path} after 150 s (--lock-timeout-seconds 150); it is held by pid 4242 "
        "on host convert-abc-x1, for 450 s, converting version v6"
    )
    waits = [r for r in log.records if r["event"] == "waiting"]
    assert [w["waited_s"] for w in waits] == [0, 60, 120]
    assert waits[0]["holder_pid"] == 4242 and waits[0]["holder_host"] == "convert-abc-x1"
    assert [w["holder_age_s"] for w in waits] == [300, 360, 420]
    assert sum(clock.sleeps) == 150


def test_a_holder_that_ends_lets_the_waiter_in(tmp_path, log):
    path = tmp_path / ".publish.lock"
    fd = _hold(path, b"")
    clock = FakeClock()

    def sleep(seconds):
        clock.sleep(seconds)
        os.close(fd)  # the other Job ends: the kernel releases its flock

    with exclusive_lock(path, log, timeout_s=60, clock=clock, sleep=sleep):
        pass
    waiting, acquired = log.records
    assert waiting["event"] == "waiting" and waiting["holder_note"] == "the lock file is empty"
    assert acquired["event"] == "acquired"


def test_a_foreign_record_is_reported_as_an_unknown_holder(tmp_path):
    path = tmp_path / "lock"
    path.write_text("12345\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        holder = read_holder(fd, 0.0)
    finally:
        os.close(fd)
    assert holder.pid is None
    assert holder.describe() == "an unknown holder (the lock file holds no record of this tool: '12345')"


def test_a_directory_at_the_lock_path_is_a_clear_error(tmp_path, log):
    path = tmp_path / ".publish.lock"
    path.mkdir()
    with pytest.raises(LockError) as info:
        with exclusive_lock(path, log):
            pass
    assert info.value.message == f"the lock file {path} is a directory"
    assert "remove it" in info.value.hint and info.value.exit_code == 9


def test_a_symlink_at_the_lock_path_is_not_followed(tmp_path, log):
    target = tmp_path / "elsewhere"
    target.write_text("")
    path = tmp_path / ".publish.lock"
    path.symlink_to(target)
    with pytest.raises(LockError, match=r"is a symbolic link; the Job does not follow it"):
        with exclusive_lock(path, log):
            pass


def test_a_fifo_at_the_lock_path_is_refused_without_blocking(tmp_path, log):
    path = tmp_path / ".publish.lock"
    os.mkfifo(path)
    with pytest.raises(LockError, match=rf"the lock file {path} is not a regular file \(owned by uid \d+"):
        with exclusive_lock(path, log):
            pass


def test_a_lock_file_of_another_user_names_owner_and_mode(tmp_path, log, monkeypatch):
    path = tmp_path / ".publish.lock"
    path.write_text("")
    path.chmod(0o644)
    real_open = os.open

    def refuse(p, *args, **kwargs):
        if str(p) == str(path):
            raise PermissionError(13, "Permission denied", str(p))
        return real_open(p, *args, **kwargs)

    monkeypatch.setattr(locking.os, "open", refuse)
    st = path.stat()
    with pytest.raises(LockError) as info:
        with exclusive_lock(path, log):
            pass
    assert info.value.message == (
        f"cannot open the lock file {path} (Permission denied); the Job runs as uid {os.getuid()} gid {os.getgid()}, "
        f"the file is owned by uid {st.st_uid} gid {st.st_gid}, mode 0644"
    )


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permission bits")
def test_an_unreadable_lock_file_fails_the_real_open(tmp_path, log):
    path = tmp_path / ".publish.lock"
    path.write_text("")
    path.chmod(0o000)
    with pytest.raises(LockError, match=r"mode 0000"):
        with exclusive_lock(path, log):
            pass


def test_a_filesystem_without_flock_is_a_clear_error(tmp_path, log, monkeypatch):
    def no_locks(fd, op):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(locking.fcntl, "flock", no_locks)
    with pytest.raises(LockError, match=r"cannot lock .*\.publish\.lock: No locks available") as info:
        with exclusive_lock(tmp_path / ".publish.lock", log):
            pass
    assert "NFSv4" in info.value.hint


def test_a_lock_path_that_cannot_be_created_is_a_clear_error(tmp_path, log):
    path = tmp_path / "gone" / ".publish.lock"
    with pytest.raises(LockError, match=rf"cannot open the lock file {path}: No such file or directory"):
        with exclusive_lock(path, log):
            pass
