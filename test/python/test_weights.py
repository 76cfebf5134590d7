from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import pytest

from omniglue_conversion.archives import extract_archive, find_saved_model
from omniglue_conversion.errors import ChecksumError, DownloadError, ExportError, UsageError
from omniglue_conversion.weights import (
    DEFAULT_WEIGHT_URLS,
    WeightSource,
    fetch_weight,
    parse_assignments,
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
