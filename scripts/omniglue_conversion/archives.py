"""Safe extraction of the SavedModel archives (sp_v6.tgz, og_export.zip).

The archives come from the internet (or from whatever an operator put on the
volume), so members that would escape the target directory or create links
are refused instead of trusted.
"""

from __future__ import annotations

import lzma
import os
import shutil
import tarfile
import uuid
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable

from .errors import ExportError
from .logs import StageLogger
from .volume import creating, full_error, is_full
from .weights import FetchedWeight, discard_cached

# The weights that arrive as archives of a TensorFlow SavedModel.
ARCHIVE_WEIGHTS = frozenset({"superpoint", "omniglue"})


def _check_member_name(archive: Path, name: str) -> None:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts:
        raise ExportError(f"refusing to extract {archive}: member {name!r} points outside the archive")


def _check_tar_end(archive: Path, tar: tarfile.TarFile) -> None:
    """Refuses a tar archive that does not end as written: its end-of-archive marker and its compressed end.

    CPython's tarfile (Lib/tarfile.py, TarFile.next) ends the member list without an error at the first header
    block after the first member that is empty, truncated or invalid (EmptyHeaderError, TruncatedHeaderError,
    InvalidHeaderError at offset > 0), so an archive cut at a member boundary lists fewer members and extracts
    "complete". It also stops reading there, so the compression's own end (gzip's CRC-32 and length, the xz
    and bzip2 checks) is never verified. Hence: the two zero blocks that end a tar archive (POSIX ustar) must be
    at the offset where the listing stopped, and the stream must read to its end (GzipFile, LZMAFile and
    BZ2File raise EOFError on a cut stream and an error on a bad check).
    """
    stream = tar.fileobj
    assert stream is not None
    stream.seek(tar.offset)
    if stream.read(2 * tarfile.BLOCKSIZE) != tarfile.NUL * (2 * tarfile.BLOCKSIZE):
        raise ExportError(
            f"{archive} is truncated or damaged: no end-of-archive marker after its {len(tar.getmembers())} "
            f"member(s) (offset {tar.offset} of the tar stream)"
        )
    while stream.read(1 << 20):
        pass


def _extract_tar(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:*") as tar:
        for member in tar.getmembers():
            _check_member_name(archive, member.name)
            if not (member.isfile() or member.isdir()):
                raise ExportError(
                    f"refusing to extract {archive}: member {member.name!r} is a link or device"
                )
        _check_tar_end(archive, tar)
        for member in tar.getmembers():
            target = dest / member.name
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)


# The methods CPython's zipfile decompresses (Lib/zipfile.py, _check_compression and _get_decompressor); for any
# other it raises NotImplementedError, and for an encrypted member without a password RuntimeError (ZipFile.open).
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
_ZIP_ENCRYPTED = 0x1  # general purpose bit 0 (APPNOTE.TXT 4.4.4); strong encryption (bit 6) sets it too


def _check_zip_member(archive: Path, info: zipfile.ZipInfo) -> None:
    _check_member_name(archive, info.filename)
    # Unix symlinks are stored with S_IFLNK in the upper 16 bits.
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        raise ExportError(f"refusing to extract {archive}: member {info.filename!r} is a symlink")
    if info.flag_bits & _ZIP_ENCRYPTED:
        raise ExportError(f"cannot extract {archive}: member {info.filename!r} is encrypted (a SavedModel archive is not)")
    if info.compress_type not in _ZIP_METHODS:
        raise ExportError(
            f"cannot extract {archive}: member {info.filename!r} uses compression method {info.compress_type}; "
            f"only {', '.join(_ZIP_METHODS.values())} can be extracted"
        )


def _extract_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            _check_zip_member(archive, info)
        for info in zf.infolist():
            target = dest / info.filename
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                source = zf.open(info)
            except (NotImplementedError, RuntimeError) as exc:  # a variant the checks above do not know (flag bit 5)
                raise ExportError(f"cannot extract {archive}: member {info.filename!r}: {exc}") from exc
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)


def extract_archive(archive: Path, sha256: str, dest_root: Path) -> Path:
    """Extracts once per archive content (keyed by its sha256) and returns the directory."""
    dest = dest_root / f"extracted-{sha256[:16]}"
    if dest.is_dir():
        return dest
    staging = dest_root / f".extracting-{uuid.uuid4().hex[:8]}"
    with creating(staging, "creating"):
        staging.mkdir(parents=True)
    try:
        if tarfile.is_tarfile(archive):
            _extract_tar(archive, staging)
        elif zipfile.is_zipfile(archive):
            _extract_zip(archive, staging)
        else:
            raise ExportError(f"{archive} is neither a tar nor a zip archive")
        os.replace(staging, dest)
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, ValueError, OSError) as exc:
        if is_full(exc):  # the archive is fine: discarding and fetching it again would fail the same way
            raise full_error(exc, staging, "extracting into") from exc
        # A truncated .tgz passes is_tarfile() (its first block reads) and fails with EOFError midway.
        raise ExportError(f"cannot extract {archive}: {type(exc).__name__}: {exc}") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return dest


def prepare_archive(weight: FetchedWeight, refetch: Callable[[], FetchedWeight], log: StageLogger) -> FetchedWeight:
    """Extracts an archive weight now, so a bad archive costs one download, not every future run.

    Without a pinned checksum nothing else tells a damaged cache file (a truncated copy on the volume, a proxy's
    error page) from the real one, and it would fail identically on every re-run. So an archive that does not
    extract leaves the cache and is downloaded once more; a second failure names the file and the URL.
    Export steps later call extract_archive() again and find the extracted directory.
    """
    try:
        extract_archive(weight.path, weight.sha256, weight.path.parent)
        return weight
    except ExportError as exc:
        first = exc
    discard_cached(weight)
    if weight.verified:
        raise ExportError(
            f"the {weight.name} archive {weight.path} matches its pinned sha256 but cannot be extracted "
            f"({first.message}); it was removed from the cache",
            hint=f"the pin (--weights-sha256 {weight.name}=...) names a file that is not a usable archive: "
            "check the pin and the URL",
        )
    log.warning(
        "weights", "archive-unusable", weight=weight.name, path=str(weight.path), from_cache=weight.from_cache,
        reason=first.message, action="removed from the cache; downloading again",
    )
    again = refetch()
    try:
        extract_archive(again.path, again.sha256, again.path.parent)
    except ExportError as exc:
        discard_cached(again)
        raise ExportError(
            f"the {again.name} archive {again.path} cannot be extracted, also after downloading it again from "
            f"{again.url} ({exc.message}); it was removed from the cache",
            hint="the URL does not serve a tar or zip SavedModel archive (an error page, a proxy, a wrong file): "
            f"check --weights-url {again.name}=...",
        ) from exc
    return again


def find_saved_model(root: Path, what: str) -> Path:
    """The single directory under `root` that holds a saved_model.pb."""
    found = sorted({p.parent for p in root.rglob("saved_model.pb")})
    if len(found) != 1:
        listing = ", ".join(str(p) for p in found) or "none"
        raise ExportError(
            f"expected exactly one TensorFlow SavedModel (saved_model.pb) in the {what} archive "
            f"extracted at {root}, found {listing}"
        )
    return found[0]
