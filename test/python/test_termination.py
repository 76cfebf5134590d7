"""The one-line failure reason the Job leaves in its container's termination message."""

from __future__ import annotations

import re

import pytest

from omniglue_conversion import cli, termination
from omniglue_conversion.errors import EXIT_CHECKSUM, EXIT_UNEXPECTED, EXIT_USAGE
from omniglue_conversion.logs import StageLogger
from omniglue_conversion.termination import MAX_BYTES, report_failure, termination_reason, write_termination_message

# The documented format (termination.py, README "Troubleshooting").
REASON = re.compile(r"^(?P<kind>[a-z-]+) \(exit (?P<code>\d+)\): (?P<message>\S.*?)(?:; hint: (?P<hint>\S.*))?$")


def test_reason_names_kind_exit_code_message_and_hint():
    line = termination_reason("checksum", EXIT_CHECKSUM, "superpoint: sha256 ab differs from the pinned cd", "re-pin it")
    assert line == "checksum (exit 4): superpoint: sha256 ab differs from the pinned cd; hint: re-pin it"
    assert REASON.match(line).groupdict() == {
        "kind": "checksum", "code": "4", "message": "superpoint: sha256 ab differs from the pinned cd", "hint": "re-pin it",
    }


def test_reason_without_hint_has_no_hint_part():
    line = termination_reason("usage", EXIT_USAGE, "missing required arguments: --version")
    assert REASON.match(line).group("hint") is None
    assert "hint" not in line


@pytest.mark.parametrize(
    "message",
    ["two\nlines", "tabs\tand  spaces", "trailing newline\n", "x" * 5000, "é" * 3000, "\u2028 separator", "ends with a pile\r\n\r\n"],
)
def test_reason_is_one_line_of_bounded_utf8(message):
    line = termination_reason("export", 5, message, "hint\nover lines")
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert len(line.encode("utf-8")) <= MAX_BYTES
    assert line.encode("utf-8").decode("utf-8") == line
    assert REASON.match(line)


def test_a_cut_reason_ends_with_an_ellipsis_on_a_character_boundary():
    line = termination_reason("export", 5, "é" * 3000)
    assert line.endswith("…") and len(line.encode("utf-8")) <= MAX_BYTES


def test_writes_the_line_where_the_kubelet_reads_it(tmp_path):
    log = tmp_path / "termination-log"
    log.write_text("")
    assert report_failure("publish", 8, "/models is not writable", path=log) == "publish (exit 8): /models is not writable"
    assert log.read_text() == "publish (exit 8): /models is not writable\n"


def test_outside_a_pod_creates_no_file(tmp_path):
    assert write_termination_message("usage (exit 2): x", tmp_path / "termination-log") is False
    assert not (tmp_path / "termination-log").exists()


def test_an_unwritable_file_is_not_an_error(tmp_path):
    assert write_termination_message("usage (exit 2): x", tmp_path) is False


@pytest.fixture()
def termination_log(tmp_path, monkeypatch):
    log = tmp_path / "termination-log"
    log.write_text("")
    monkeypatch.setattr(termination, "TERMINATION_LOG", log)
    return log


def test_the_cli_leaves_a_conversion_error_in_the_termination_message(termination_log, capsys):
    assert cli.main(["--version", "v1"], log=StageLogger()) == EXIT_USAGE
    line = termination_log.read_text().rstrip("\n")
    assert REASON.match(line).group("kind", "code") == ("usage", str(EXIT_USAGE))
    assert "missing required arguments" in line


def test_the_cli_leaves_an_unexpected_error_in_the_termination_message(termination_log, monkeypatch, capsys):
    def boom(_args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli, "_options", boom)
    assert cli.main(["--version", "v1"], log=StageLogger()) == EXIT_UNEXPECTED
    assert termination_log.read_text() == "unexpected (exit 1): RuntimeError('disk on fire'); hint: the traceback is in the container log\n"
