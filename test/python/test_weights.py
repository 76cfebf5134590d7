from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import pytest

from omniglue_conversion.archives import extract_archive, find_saved_model, prepare_archive
from omniglue_conversion.errors import ChecksumError, DownloadError, ExportError, UsageError
from omniglue_conversion.weights import (
    DEFAULT_MAX_BYTES,
    DEFAULT_WEIGHT_URLS,
    WeightSource,
    fetch_weight,
    parse_assignments,
    parse_byte_caps,
    remove_partial_downloads,
    resolve_sources,
)


def _source(path: Path, sha: str | None = None, name: str = "dinov2") -> WeightSource:
    return WeightSource(name=name, url=path.as_uri(), expected_sha256=sha)


def _blob(tmp_path: Path, data: bytes = b"weights" * 1000) -> tuple[Path, str]:
    path = tmp_path / "upstream" / "dinov2_vitb14_pretrain.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_downloads_and_records_sha256(tmp_path, log):
    upstream, sha = _blob(tmp_path)
    fetched = fetch_weight(_source(upstream), tmp_path / "cache", log)
    assert fetched.sha256 == sha
    assert fetched.path.read_bytes() == upstream.read_bytes()
    assert not fetched.verified and not fetched.from_cache
    assert not list((tmp_path / "cache").rglob("*.part-*"))


def test_pinned_checksum_that_matches_is_verified(tmp_path, log):
    upstream, sha = _blob(tmp_path)
    assert fetch_weight(_source(upstream, sha), tmp_path / "cache", log).verified


def test_checksum_mismatch_is_rejected_with_expected_actual_and_path(tmp_path, log):
    upstream, sha = _blob(tmp_path)
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as info:
        fetch_weight(_source(upstream, wrong), tmp_path / "cache", log)
    message = str(info.value)
    assert wrong in message and sha in message
    assert str(tmp_path / "cache") in message
    assert info.value.exit_code == 4


def test_cache_is_reused_without_opening_the_url(tmp_path, log):
    upstream, sha = _blob(tmp_path)
    first = fetch_weight(_source(upstream), tmp_path / "cache", log)
    calls = []

    def spy(url, timeout):
        calls.append(url)
        return urllib.request.urlopen(url, timeout=timeout)

    second = fetch_weight(_source(upstream, sha), tmp_path / "cache", log, opener=spy)
    assert calls == []
    assert second.from_cache and second.verified and second.path == first.path


def test_cached_file_contradicting_the_pin_is_downloaded_again(tmp_path, log):
    upstream, sha = _blob(tmp_path)
    first = fetch_weight(_source(upstream), tmp_path / "cache", log)
    first.path.write_bytes(b"damaged")
    again = fetch_weight(_source(upstream, sha), tmp_path / "cache", log)
    assert again.sha256 == sha and not again.from_cache


def test_missing_file_url_gives_a_clear_error_with_the_air_gap_hint(tmp_path, log):
    missing = tmp_path / "nowhere" / "og_export.zip"
    with pytest.raises(DownloadError) as info:
        fetch_weight(_source(missing, name="omniglue"), tmp_path / "cache", log)
    text = str(info.value)
    assert missing.as_uri() in text
    assert "No such file" in text
    assert "--weights-url omniglue=file://" in text and "HTTPS_PROXY" in text
    assert info.value.exit_code == 3


def test_refused_connection_gives_a_clear_error(tmp_path, log):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/sp_v6.tgz"
    source = WeightSource(name="superpoint", url=url, expected_sha256=None)
    with pytest.raises(DownloadError) as info:
        fetch_weight(source, tmp_path / "cache", log, attempts=2, backoff_s=0.0, timeout_s=5)
    assert url in str(info.value) and "refused" in str(info.value).lower()
    assert [r["event"] for r in log.records].count("retry") == 1


def test_partial_downloads_of_a_killed_job_are_removed(tmp_path):
    stale = tmp_path / "cache" / "dinov2-abc" / "x.pth.part-1234"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    remove_partial_downloads(tmp_path / "cache")
    assert not stale.exists()


def test_overrides_and_pins_are_parsed_and_checked():
    sources = resolve_sources(
        parse_assignments(["omniglue=file:///data/og_export.zip"], "--weights-url"),
        parse_assignments(["dinov2=" + "A" * 64], "--weights-sha256"),
    )
    assert sources["omniglue"].url == "file:///data/og_export.zip"
    assert sources["superpoint"].url == DEFAULT_WEIGHT_URLS["superpoint"]
    assert sources["dinov2"].expected_sha256 == "a" * 64
    with pytest.raises(UsageError, match="unknown weight name 'sp'"):
        parse_assignments(["sp=https://x"], "--weights-url")
    with pytest.raises(UsageError, match="64 hexadecimal"):
        resolve_sources({}, {"dinov2": "abc"})
    with pytest.raises(UsageError, match="unsupported scheme 'ftp'"):
        resolve_sources({"dinov2": "ftp://host/x"}, {})


def test_superpoint_url_is_pinned_to_a_commit():
    assert "/master/" not in DEFAULT_WEIGHT_URLS["superpoint"]
    assert DEFAULT_WEIGHT_URLS["superpoint"].endswith("/pretrained_models/sp_v6.tgz")


def _tar_with(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_saved_model_archives_are_extracted_once_and_located(tmp_path):
    archive = tmp_path / "sp_v6.tgz"
    _tar_with(archive, {"sp_v6/saved_model.pb": b"pb", "sp_v6/variables/variables.index": b"i"})
    first = extract_archive(archive, "f" * 64, tmp_path)
    assert find_saved_model(first, "SuperPoint") == first / "sp_v6"
    assert extract_archive(archive, "f" * 64, tmp_path) == first

    zipped = tmp_path / "og_export.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("og_export/saved_model.pb", b"pb")
    assert find_saved_model(extract_archive(zipped, "e" * 64, tmp_path), "OmniGlue").name == "og_export"


def test_archive_members_escaping_the_target_are_refused(tmp_path):
    archive = tmp_path / "evil.tgz"
    _tar_with(archive, {"../escape.txt": b"x"})
    with pytest.raises(ExportError, match="points outside"):
        extract_archive(archive, "d" * 64, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_a_checksum_mismatch_never_enters_the_cache(tmp_path, log):
    upstream, sha = _blob(tmp_path)
    with pytest.raises(ChecksumError, match="the download was discarded, not cached"):
        fetch_weight(_source(upstream, "0" * 64), tmp_path / "cache", log)
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_a_stream_without_end_stops_at_the_size_cap(tmp_path, log):
    source = WeightSource(name="dinov2", url="file:///dev/zero", expected_sha256=None, max_bytes=3 << 20)
    with pytest.raises(DownloadError) as info:
        fetch_weight(source, tmp_path / "cache", log)
    assert str(info.value).startswith(
        "the dinov2 weights at file:///dev/zero sent more than 3145728 bytes, over the cap of 3145728 bytes"
    )
    assert "--weights-max-bytes dinov2=BYTES" in info.value.hint
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
    assert not [r for r in log.records if r["event"] == "retry"]


class _FakeResponse:
    """An HTTP response: headers, and a body served in chunks (with a clock advance per read)."""

    def __init__(self, body: bytes, content_length: int | None = None, on_read=None):
        self.headers = {} if content_length is None else {"Content-Length": str(content_length)}
        self._body = io.BytesIO(body)
        self._on_read = on_read

    def read(self, size):
        if self._on_read:
            self._on_read()
        return self._body.read(min(size, 1000))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _http(name="omniglue"):
    return WeightSource(name=name, url="https://mirror.example/og_export.zip", expected_sha256=None, max_bytes=10_000)


def test_an_announced_size_over_the_cap_is_refused_before_reading(tmp_path, log):
    def opener(url, timeout):
        return _FakeResponse(b"", content_length=10_001)

    with pytest.raises(DownloadError, match="announces 10001 bytes, over the cap of 10000 bytes"):
        fetch_weight(_http(), tmp_path / "cache", log, opener=opener)


def test_a_body_shorter_than_its_content_length_is_retried_then_reported(tmp_path, log):
    def opener(url, timeout):
        return _FakeResponse(b"x" * 500, content_length=900)

    with pytest.raises(DownloadError, match=r"connection closed after 500 of 900 bytes"):
        fetch_weight(_http(), tmp_path / "cache", log, opener=opener, attempts=2, backoff_s=0.0)
    assert [r["event"] for r in log.records].count("retry") == 1


def test_all_downloads_share_one_deadline(tmp_path, log, monkeypatch):
    from omniglue_conversion import weights

    now = [1000.0]
    monkeypatch.setattr(weights.time, "monotonic", lambda: now[0])

    def slow_read():
        now[0] += 10.0

    def opener(url, timeout):
        assert 0 < timeout <= 60
        return _FakeResponse(b"x" * 5000, on_read=slow_read)

    with pytest.raises(DownloadError) as info:
        fetch_weight(_http(), tmp_path / "cache", log, opener=opener, deadline=1030.0, total_timeout_s=30)
    assert str(info.value).startswith(
        "the downloads did not finish within 30 s (--download-timeout-seconds); stopped while reading the "
        "omniglue weights from https://mirror.example/og_export.zip"
    )
    with pytest.raises(DownloadError, match="did not finish within 30 s"):
        fetch_weight(_http(), tmp_path / "cache", log, opener=opener, deadline=now[0], total_timeout_s=30)
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_byte_caps_are_parsed_and_default_per_weight():
    sources = resolve_sources({}, {}, parse_byte_caps({"dinov2": "500000000"}))
    assert sources["dinov2"].max_bytes == 500_000_000
    assert sources["superpoint"].max_bytes == DEFAULT_MAX_BYTES["superpoint"]
    for bad in ("0", "-1", "1e9", "lots"):
        with pytest.raises(UsageError, match=f"--weights-max-bytes dinov2={bad}: expected a positive whole number"):
            parse_byte_caps({"dinov2": bad})


def _archive_weight(tmp_path, log, data: bytes, name="superpoint"):
    upstream = tmp_path / "upstream" / "sp_v6.tgz"
    upstream.parent.mkdir(parents=True, exist_ok=True)
    upstream.write_bytes(data)
    source = WeightSource(name=name, url=upstream.as_uri(), expected_sha256=None)
    return upstream, source


def _good_tgz() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in {"sp_v6/saved_model.pb": b"pb" * 4000, "sp_v6/variables/variables.index": b"i"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_cached_archive_that_does_not_extract_is_downloaded_again_once(tmp_path, log):
    upstream, source = _archive_weight(tmp_path, log, _good_tgz())
    cache = tmp_path / "cache"
    cached = fetch_weight(source, cache, log)
    good = cached.path.read_bytes()
    cached.path.write_bytes(good[: len(good) // 2])  # a truncated copy: gzip passes is_tarfile, then EOF
    damaged = fetch_weight(source, cache, log)
    assert damaged.from_cache

    calls = []

    def refetch():
        calls.append(1)
        return fetch_weight(source, cache, log)

    ready = prepare_archive(damaged, refetch, log)
    assert calls == [1] and not ready.from_cache and ready.path.read_bytes() == good
    assert find_saved_model(extract_archive(ready.path, ready.sha256, ready.path.parent), "SuperPoint").name == "sp_v6"
    (warning,) = [r for r in log.records if r["event"] == "archive-unusable"]
    assert warning["path"] == str(damaged.path) and warning["from_cache"] is True
    assert "EOFError" in warning["reason"] or "ReadError" in warning["reason"]
    assert not list(cache.rglob(".extracting-*"))


def test_an_archive_that_fails_twice_names_the_cache_file_and_leaves_the_cache(tmp_path, log):
    upstream, source = _archive_weight(tmp_path, log, b"<html>proxy error</html>")
    cache = tmp_path / "cache"
    first = fetch_weight(source, cache, log)
    with pytest.raises(ExportError) as info:
        prepare_archive(first, lambda: fetch_weight(source, cache, log), log)
    message = str(info.value)
    assert f"the superpoint archive {first.path} cannot be extracted, also after downloading it again from " in message
    assert upstream.as_uri() in message and "neither a tar nor a zip archive" in message
    assert not first.path.exists()
    assert info.value.exit_code == 5


def test_a_pinned_archive_that_does_not_extract_is_not_downloaded_again(tmp_path, log):
    data = b"not an archive"
    upstream, source = _archive_weight(tmp_path, log, data)
    pinned = WeightSource(source.name, source.url, hashlib.sha256(data).hexdigest())
    weight = fetch_weight(pinned, tmp_path / "cache", log)

    def refetch():
        raise AssertionError("a pinned file downloads to the same bytes")

    with pytest.raises(ExportError, match=r"matches its pinned sha256 but cannot be extracted"):
        prepare_archive(weight, refetch, log)


def test_half_extracted_directories_and_partial_downloads_of_a_killed_job_are_removed(tmp_path):
    half = tmp_path / "cache" / "superpoint-abc" / ".extracting-1234" / "sp_v6"
    half.mkdir(parents=True)
    (half / "saved_model.pb").write_bytes(b"half")
    kept = tmp_path / "cache" / "superpoint-abc" / "extracted-ffff"
    kept.mkdir()
    removed = remove_partial_downloads(tmp_path / "cache")
    assert removed == [str(half.parent)]
    assert not half.parent.exists() and kept.is_dir()


def test_a_failed_extraction_leaves_no_half_extracted_directory(tmp_path):
    good = _good_tgz()
    archive = tmp_path / "sp_v6.tgz"
    archive.write_bytes(good[: len(good) // 2])
    with pytest.raises(ExportError, match=rf"cannot extract {archive}: (EOFError|ReadError)"):
        extract_archive(archive, "c" * 64, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
