"""Names and numbers from the command line and the contract (names.py): full matches, ASCII only, no control
characters. The fuzz at the end compares every validator with an independent rule on random strings."""

from __future__ import annotations

import random
import re
import string

import pytest

from omniglue_conversion.contract import parse_contract
from omniglue_conversion.errors import ContractError, UsageError
from omniglue_conversion.publish import _rejected_time, check_version
from omniglue_conversion.throughput import parse_image_size
from omniglue_conversion.weights import WEIGHT_NAMES, parse_assignments, parse_byte_caps


@pytest.mark.parametrize("bad", ["x\n", "abc123\n", "x\r", "x\x00", "x\ty", "٣", "x" * 128 + "\n"])
def test_a_version_with_a_newline_or_control_character_is_refused(bad):
    with pytest.raises(UsageError, match=re.escape(f"--version {bad!r}: use 1-128 characters from [A-Za-z0-9._-]")):
        check_version(bad)


@pytest.mark.parametrize("raw", ["superpoint=https://mirror/sp_v6.tgz\n/x", "dinov2=file:///w/\tdino.pth", "omniglue=https://a\x00b"])
def test_a_weight_url_with_a_control_character_is_refused_not_stripped(raw):
    with pytest.raises(UsageError, match=r"--weights-url '.*' contains control characters \(\\[ntx]"):
        parse_assignments([raw], "--weights-url")


@pytest.mark.parametrize("bad", ["²", "١٠٠٠", "１０", "9" * 19, "1" * 5000, "10\n"])
def test_a_byte_cap_needs_ascii_digits(bad):
    with pytest.raises(UsageError, match="expected a positive whole number of bytes"):
        parse_byte_caps({"dinov2": bad})


@pytest.mark.parametrize("bad", ["６４０x480", "640x٤٨٠", "640x480\n", "1" * 5000 + "x480", "1234567x480", "640\tx480"])
def test_an_image_size_needs_ascii_digits_without_control_characters(bad):
    with pytest.raises(UsageError, match="must be WIDTHxHEIGHT in pixels"):
        parse_image_size(bad)
    assert parse_image_size(" 640 x 480 ") == (640, 480)


@pytest.mark.parametrize("name", ["../x", "a/b", "x\n", ".hidden", "", "n" * 129])
def test_a_contract_model_name_that_is_no_plain_directory_name_is_refused(name):
    models = {name: {"platform": "ensemble", "maxBatchSize": 0, "inputs": [], "outputs": []}}
    with pytest.raises(ContractError, match=re.escape(f"model name {name!r} is not 1-128 characters")):
        parse_contract({"ensemble": name, "models": models, "steps": []}, "c.json")


def test_a_rejected_directory_with_non_ascii_digits_falls_back_to_its_mtime(tmp_path):
    odd = tmp_path / ".rejected-v-²²²²²²²²²"
    odd.mkdir()
    assert _rejected_time(odd) == odd.stat().st_mtime
    assert _rejected_time(tmp_path / ".rejected-v-1700000000") == 1700000000.0


# --- fuzz: random strings against an independent statement of each rule ---------------------------------------

ALPHABET = string.ascii_letters + string.digits + "._-/=: x" + "\n\r\t\x00\x1f\x7f\x85" + "²٣６\u00a0é"
SAFE = set(string.ascii_letters + string.digits + "._-")


def _strings(seed: int, count: int, pieces: list[str]) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        if rng.random() < 0.5:
            out.append("".join(rng.choice(ALPHABET) for _ in range(rng.choice([0, 1, 2, 5, 20, 127, 128, 129]))))
        else:  # a valid-looking value with one character inserted or appended
            base = rng.choice(pieces)
            at = rng.randrange(len(base) + 1)
            out.append(base[:at] + rng.choice(ALPHABET) + base[at:])
    return out


def _is_ascii_number(text: str, most: int) -> bool:
    return 1 <= len(text) <= most and all(c in "0123456789" for c in text)


def _version_ok(s: str) -> bool:
    return 1 <= len(s) <= 128 and set(s) <= SAFE and s[0].isascii() and s[0].isalnum() and ".." not in s


def _cap_ok(s: str) -> bool:
    return _is_ascii_number(s, 18) and int(s) > 0


def _size_ok(s: str) -> bool:
    parts = s.strip(" ").replace("X", "x").split("x")
    return len(parts) == 2 and all(_is_ascii_number(p.strip(" "), 6) for p in parts)


def _assignment_ok(s: str) -> bool:
    name, sep, value = s.partition("=")
    controls = any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in s)
    return not controls and bool(sep) and bool(value.strip()) and name.strip() in WEIGHT_NAMES


def _model_ok(s: str) -> bool:
    return 1 <= len(s) <= 128 and set(s) <= SAFE and (s[0] == "_" or (s[0].isascii() and s[0].isalnum()))


def _contract(name: str):
    models = {name: {"platform": "ensemble", "maxBatchSize": 0, "inputs": [], "outputs": []}}
    return parse_contract({"ensemble": name, "models": models, "steps": []}).ensemble


CASES = [
    ("version", check_version, _version_ok, lambda s, r: r == s, ["abc123", "3f9a2c1d-17", "v.1_2"]),
    ("byte cap", lambda s: parse_byte_caps({"dinov2": s})["dinov2"], _cap_ok, lambda s, r: r == int(s), ["1048576", "1"]),
    ("image size", parse_image_size, _size_ok, lambda s, r: r == tuple(int(p) for p in s.strip(" ").replace("X", "x").split("x")),
     ["640x480", "14X14", " 1 x 2 "]),
    ("weight flag", lambda s: parse_assignments([s], "--weights-url"), _assignment_ok,
     lambda s, r: list(r.values()) == [s.partition("=")[2].strip()], [f"{n}=https://m/{n}" for n in WEIGHT_NAMES]),
    ("model name", _contract, _model_ok, lambda s, r: r == s, ["superpoint", "omniglue_ensemble", "_x.1-2"]),
]


@pytest.mark.parametrize("label,validate,allowed,faithful,pieces", CASES, ids=[c[0] for c in CASES])
def test_fuzz_every_name_validator_agrees_with_its_rule(label, validate, allowed, faithful, pieces):
    crashes, wrong, cases = [], [], _strings(sum(map(ord, label)), 600, pieces)
    for text in cases:
        try:
            result = validate(text)
        except (UsageError, ContractError):
            if allowed(text):
                wrong.append((text, "refused"))
            continue
        except Exception as exc:  # noqa: BLE001 - a crash is what the fuzz looks for
            crashes.append((text, repr(exc)))
            continue
        if not allowed(text) or not faithful(text, result):
            wrong.append((text, result))
    print(f"FUZZ names/{label}: cases={len(cases)} crashes={len(crashes)} accepted-but-wrong={len(wrong)}")
    assert (crashes, wrong) == ([], [])
