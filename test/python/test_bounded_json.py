"""JSON the Job reads from the volume or the ConfigMap, nested deeper than it ever writes (bounded_json.py)."""

from __future__ import annotations

import json
import os
import random

import pytest

from test_cli_pipeline import Fakes, _run, job  # noqa: F401 - job is a fixture
from omniglue_conversion import bounded_json
from omniglue_conversion.contract import load_contract
from omniglue_conversion.errors import ContractError
from omniglue_conversion.locking import read_holder
from omniglue_conversion.publish import verify_published

DEEP = "[" * 100_000 + "]" * 100_000


def test_a_manifest_nested_100k_deep_is_not_trusted_and_the_version_is_rebuilt(tmp_path, contract, job):  # noqa: F811
    final = tmp_path / "volume" / "repository" / "versions" / "abc123"
    (final / contract.ensemble / "1").mkdir(parents=True)
    (final / "manifest.json").write_text('{"version": "abc123", "files": ' + DEEP + "}")
    ok, reason = verify_published(final, contract)
    assert not ok and reason.endswith("is unreadable: JSON nested more than 32 levels deep")
    code, records = _run(job, Fakes(contract))
    assert code == 0
    assert any(r["event"] == "invalid-existing-version" and "nested more than 32 levels" in r["reason"] for r in records)


def test_a_manifest_larger_than_a_mebibyte_is_not_trusted(tmp_path, contract):
    (tmp_path / "manifest.json").write_text('{"files": {}, "pad": "' + "x" * (1 << 20) + '"}')
    assert verify_published(tmp_path, contract)[1].endswith(f"is unreadable: {tmp_path / 'manifest.json'} is larger than 1048576 bytes")


def test_a_lock_record_nested_deeply_names_an_unknown_holder(tmp_path):
    path = tmp_path / "lock"
    path.write_text("[" * 4096)
    fd = os.open(path, os.O_RDONLY)
    try:
        holder = read_holder(fd, 0.0)
    finally:
        os.close(fd)
    assert holder.pid is None and holder.note.startswith("the lock file holds no record of this tool: '[[[[")


def test_a_contract_nested_100k_deep_is_a_contract_error(tmp_path):
    path = tmp_path / "contract.json"
    path.write_text('{"models": ' + DEEP + "}")
    with pytest.raises(ContractError, match="cannot read the model contract .*: JSON nested more than 32 levels deep"):
        load_contract(path)


@pytest.mark.parametrize("pid", ["Infinity", "-Infinity", "NaN", "1e400"])
def test_a_lock_record_with_a_non_finite_pid_names_an_unknown_holder(tmp_path, pid):
    path = tmp_path / "lock"
    path.write_text('{"tool": "omniglue-conversion", "pid": ' + pid + ', "host": "h", "acquired_at": "2026-01-01T00:00:00+00:00"}')
    fd = os.open(path, os.O_RDONLY)
    try:
        assert read_holder(fd, 0.0).note.startswith("the lock file holds no record of this tool")
    finally:
        os.close(fd)
    with pytest.raises(ValueError, match="JSON has no|out of range"):
        bounded_json.loads(f"[{pid}]")


def test_brackets_inside_strings_do_not_count():
    assert bounded_json.nesting_depth('{"a": "[[[[{{{\\"[[["}') == 1
    assert bounded_json.loads('{"a": ["' + "[" * 1000 + '"]}') == {"a": ["[" * 1000]}


# --- fuzz: random documents around and far beyond the limit -----------------------------------------------

def _document(rng: random.Random) -> tuple[str, int | None]:
    """A JSON text and its nesting depth (None for text that is not strict JSON)."""
    depth = 100_000 if rng.random() < 0.03 else rng.choice([0, 1, 2, 31, 32, 33, 64, 999, 1000, 5000])
    opens = rng.choices("[{", k=depth)
    keys = rng.choices(["", "[", "{", chr(92) + chr(34)], k=depth)  # brackets, escaped quotes in keys must not count
    head = "".join("[" if b == "[" else f'{{"k{key}": ' for b, key in zip(opens, keys))
    leaf = rng.choice(["0", '"s"', "-1.5e3", "Infinity", "NaN", "1e400"])
    text = head + leaf + "".join("]" if b == "[" else "}" for b in reversed(opens))
    if rng.random() < 0.3:  # cut anywhere: truncated documents
        return text[: rng.randrange(len(text))], None
    return text, depth if leaf in ("0", '"s"', "-1.5e3") else None  # not strict JSON: refused


def _readers(tmp_path, contract):
    """Each reader of JSON the Job does not control, on one text; each must answer, never raise."""
    def manifest(text):
        (tmp_path / "manifest.json").write_text(text)
        return verify_published(tmp_path, contract)

    def lock_record(text):
        (tmp_path / "lock").write_text(text)
        fd = os.open(tmp_path / "lock", os.O_RDONLY)
        try:
            return read_holder(fd, 0.0)
        finally:
            os.close(fd)

    def contract_file(text):
        (tmp_path / "contract.json").write_text(text)
        with pytest.raises(ContractError):
            load_contract(tmp_path / "contract.json")

    return manifest, lock_record, contract_file


def test_fuzz_nested_documents_are_parsed_or_refused_never_crash(tmp_path, contract):
    rng = random.Random(7)
    readers = _readers(tmp_path, contract)
    crashes, wrong, cases = [], [], 150
    for case in range(cases):
        text, depth = _document(rng)
        try:
            readers[case % 3](text)
            value = bounded_json.loads(text)
        except ValueError:
            if depth is not None and depth <= bounded_json.MAX_DEPTH:
                wrong.append((text[:40], "refused"))
            continue
        except Exception as exc:  # noqa: BLE001 - a crash is what the fuzz looks for
            crashes.append((text[:40], repr(exc)))
            continue
        if depth is None or depth > bounded_json.MAX_DEPTH or value != json.loads(text):
            wrong.append((text[:40], "accepted"))
    print(f"FUZZ json nesting (manifest, lock record, contract): cases={cases} crashes={len(crashes)} accepted-but-wrong={len(wrong)}")
    assert (crashes, wrong) == ([], [])
