"""The SavedModel archives: encrypted and unknown-method zips, truncated tars (archives.py), and a fuzz of
archive variants. Every bad archive is an ExportError (exit 5) that leaves the cache, never a traceback."""

from __future__ import annotations

import io
import json
import lzma
import random
import struct
import tarfile
import zipfile

import pytest

from test_cli_pipeline import Fakes, _run, job  # noqa: F401 - job is a fixture
from omniglue_conversion.archives import extract_archive
from omniglue_conversion.errors import ExportError

TREE = {"m/saved_model.pb": bytes(range(256)) * 9, "m/variables/variables.index": b"index" * 150}


def tar_bytes(tree=TREE, members=None) -> bytes:
    """An uncompressed tar of `tree`; `members` (TarInfo, data) replace it when given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members or [(tarfile.TarInfo(name), data) for name, data in tree.items()]:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def compress(raw: bytes, kind: str) -> bytes:
    import bz2
    import gzip

    return {"tar": lambda b: b, "tgz": lambda b: gzip.compress(b, mtime=0), "txz": lzma.compress, "tbz": bz2.compress}[kind](raw)


def zip_bytes(tree=TREE, method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as zf:
        for name, data in tree.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def patch_zip(data: bytes, *, flags: int | None = None, method: int | None = None) -> bytes:
    """Sets the general purpose flags or the method of every member, in local and central headers alike."""
    out = bytearray(data)
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = out.find(signature)
        while at >= 0:
            if flags is not None:
                struct.pack_into("<H", out, at + flag_at, flags)
            if method is not None:
                struct.pack_into("<H", out, at + method_at, method)
            at = out.find(signature, at + 4)
    return bytes(out)


def test_an_encrypted_zip_exits_5_and_leaves_the_cache(tmp_path, contract, job):  # noqa: F811
    (tmp_path / "mirror" / "og_export.zip").write_bytes(patch_zip(zip_bytes(), flags=1))
    code, records = _run(job, Fakes(contract))
    assert code == 5
    assert "member 'm/saved_model.pb' is encrypted (a SavedModel archive is not)" in records[-1]["message"]
    assert "cannot be extracted, also after downloading it again" in records[-1]["message"]
    assert not [p for p in (tmp_path / "volume" / "work" / "weights").rglob("og_export.zip*")]


@pytest.mark.parametrize("method", [99, 93, 6])
def test_a_zip_with_an_unknown_compression_method_is_an_export_error(tmp_path, method):
    archive = tmp_path / "og_export.zip"
    archive.write_bytes(patch_zip(zip_bytes(), method=method))
    with pytest.raises(ExportError, match=f"uses compression method {method}; only stored, deflate, bzip2, lzma can be"):
        extract_archive(archive, "a" * 64, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_zip_member_of_compressed_patched_data_is_an_export_error(tmp_path):
    archive = tmp_path / "og_export.zip"
    archive.write_bytes(patch_zip(zip_bytes(), flags=0x20))  # flag bit 5: CPython raises NotImplementedError on open
    with pytest.raises(ExportError, match=r"member 'm/saved_model.pb': compressed patched data \(flag bit 5\)"):
        extract_archive(archive, "d" * 64, tmp_path / "out")


def test_a_corrupt_xz_stream_is_an_export_error_not_an_lzma_traceback(tmp_path):
    data = bytearray(compress(tar_bytes(), "txz"))
    data[24] ^= 0x10  # inside the first block's header: lzma.LZMAError, which is no OSError
    archive = tmp_path / "sp.tar.xz"
    archive.write_bytes(bytes(data))
    with pytest.raises(ExportError, match=rf"cannot extract {archive}: LZMAError: "):
        extract_archive(archive, "e" * 64, tmp_path / "out")


@pytest.mark.parametrize("kind", ["tgz", "txz", "tbz", "tar"])
def test_a_tar_cut_after_its_first_member_is_refused_though_tarfile_lists_it_without_error(tmp_path, kind):
    raw = tar_bytes()
    first_member_end = 512 + 2304  # header + data (2304 = 4.5 blocks, padded to 5)
    archive = tmp_path / f"sp.{kind}"
    archive.write_bytes(compress(raw[: first_member_end + 256], kind))
    with tarfile.open(archive) as tar:
        assert [m.name for m in tar.getmembers()] == ["m/saved_model.pb"]  # CPython: no error
    with pytest.raises(ExportError, match=r"is truncated or damaged: no end-of-archive marker after its 1 member\(s\)"):
        extract_archive(archive, "b" * 64, tmp_path / "out")


@pytest.mark.parametrize("kind", ["tgz", "txz", "tbz"])
def test_a_compressed_tar_missing_its_last_bytes_is_refused(tmp_path, kind):
    archive = tmp_path / f"sp.{kind}"
    archive.write_bytes(compress(tar_bytes(), kind)[:-3])
    with pytest.raises(ExportError, match=rf"cannot extract {archive}: EOFError: Compressed file ended"):
        extract_archive(archive, "c" * 64, tmp_path / "out")


# --- fuzz: archive variants -----------------------------------------------------------------------------------

def _link(name: str, kind: bytes, target: str = "m/saved_model.pb"):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def _variants(rng: random.Random):
    """(label, bytes, tree expected when accepted or None when it must be refused)."""
    raw = tar_bytes()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        tar.getmembers()
        marker = tar.offset  # the two zero blocks that end the archive; zero padding to the record size follows
    for kind in ("tgz", "txz", "tbz", "tar"):
        whole = compress(raw, kind)
        yield f"{kind} whole", whole, TREE
        # Tar-stream cuts of every class: in a header, in data, at a member boundary, in the end marker; a cut in
        # the padding after the marker loses nothing.
        for cut in sorted({1, 511, 512, 513, 2816, 2817, 3072, marker, marker + 511, marker + 1023, *rng.sample(range(1, marker + 1024), 6)}):
            yield f"{kind} tar cut at {cut}", compress(raw[:cut], kind), None
        yield f"{kind} tar cut in the padding", compress(raw[: marker + 1024 + rng.randrange(len(raw) - marker - 1024)], kind), TREE
        if kind != "tar":  # compressed-stream cuts and corruption: a checksum or the stream's end must catch them
            for cut in sorted({1, 10, len(whole) - 1, len(whole) - 4, len(whole) - 8, *rng.sample(range(len(whole)), 8)}):
                yield f"{kind} cut at {cut}", whole[:cut], None
            for at in rng.sample(range(len(whole)), 10):
                flipped = bytearray(whole)
                flipped[at] ^= 1 << rng.randrange(8)
                yield f"{kind} bit flip at {at}", bytes(flipped), TREE  # accepted only when intact
    for label, members in (
        ("symlink", [_link("m/link", tarfile.SYMTYPE)]), ("hardlink", [_link("m/hard", tarfile.LNKTYPE)]),
        ("device", [_link("m/dev", tarfile.CHRTYPE, "")]), ("fifo", [_link("m/fifo", tarfile.FIFOTYPE, "")]),
        ("traversal", [(tarfile.TarInfo("../../escape"), b"x")]), ("absolute", [(tarfile.TarInfo("/tmp/escape"), b"x")]),
        ("nested traversal", [(tarfile.TarInfo("m/../../escape"), b"x")]),
    ):
        yield f"tgz {label}", compress(tar_bytes(members=[(tarfile.TarInfo("m/saved_model.pb"), b"pb"), *members]), "tgz"), None
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        whole = zip_bytes(method=method)
        yield f"zip {method} whole", whole, TREE
        yield f"zip {method} encrypted", patch_zip(whole, flags=1), None
        yield f"zip {method} method 99", patch_zip(whole, method=99), None
        yield f"zip {method} method {method ^ 14}", patch_zip(whole, method=method ^ 14), None
        for cut in rng.sample(range(1, len(whole)), 6):
            yield f"zip {method} cut at {cut}", whole[:cut], None
        for at in rng.sample(range(len(whole)), 10):
            flipped = bytearray(whole)
            flipped[at] ^= 1 << rng.randrange(8)
            yield f"zip {method} bit flip at {at}", bytes(flipped), TREE
    for name in ("../escape", "/abs/escape", "m\\..\\..\\escape"):
        yield f"zip member {name!r}", zip_bytes({name: b"x"}), None


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_fuzz_archive_variants_extract_exactly_or_are_refused(tmp_path):
    rng = random.Random(11)
    crashes, wrong, cases = [], [], 0
    for case, (label, data, expected) in enumerate(_variants(rng)):
        cases += 1
        archive, out = tmp_path / f"a{case}", tmp_path / f"out{case}"
        archive.write_bytes(data)
        out.mkdir()
        try:
            extracted = extract_archive(archive, f"{case:064d}", out)
        except ExportError:
            if not list(out.iterdir()) == []:
                wrong.append((label, "refused but left files"))
            continue
        except Exception as exc:  # noqa: BLE001 - a crash is what the fuzz looks for
            crashes.append((label, repr(exc)))
            continue
        if expected is None or _tree(extracted) != expected:
            wrong.append((label, sorted(_tree(extracted))))
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()
    print(f"FUZZ archives: cases={cases} crashes={len(crashes)} accepted-but-wrong={len(wrong)}")
    assert (crashes, wrong) == ([], []), json.dumps([*crashes, *wrong], default=str)[:2000]
