"""The one mapping from an exception to the line `pit` prints and the code it exits with."""

from __future__ import annotations

import errno
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.service import RPCError, RPCStatusCode

from pit.cli._failures import explain
from pit.common.errors import ERROR_TYPES, InvalidInputError, PitError


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [
        (errno.ENOSPC, 1),
        (errno.EDQUOT, 1),
        (errno.EIO, 1),
        (errno.ENOTDIR, 2),
        (errno.EISDIR, 2),
        (errno.EACCES, 2),
        (errno.EROFS, 2),
        (errno.ENOENT, 2),
        (errno.ECONNREFUSED, 3),
        (errno.EHOSTUNREACH, 3),
    ],
)
def test_an_os_error_names_the_path_the_reason_and_the_errno(code: int, exit_code: int) -> None:
    failure = explain(OSError(code, "something", "/data/x.json"))
    assert failure.exit_code == exit_code
    assert failure.lines == (f"pit: error: /data/x.json: something ({errno.errorcode[code]})",)


def test_an_os_error_without_a_path_is_a_failure_not_bad_input() -> None:
    failure = explain(OSError(errno.ENOSPC, "No space left on device"))
    assert failure == explain(OSError(errno.ENOSPC, "No space left on device"))
    assert failure.exit_code == 1
    assert failure.lines == ("pit: error: No space left on device (ENOSPC)",)


def test_a_rename_names_both_paths() -> None:
    failure = explain(OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b"))
    assert failure.lines == ("pit: error: /a -> /b: Invalid cross-device link (EXDEV)",)


@pytest.mark.parametrize(
    ("status", "exit_code"),
    [
        (RPCStatusCode.UNAVAILABLE, 3),
        (RPCStatusCode.DEADLINE_EXCEEDED, 3),
        (RPCStatusCode.NOT_FOUND, 2),
        (RPCStatusCode.INVALID_ARGUMENT, 2),
        (RPCStatusCode.PERMISSION_DENIED, 2),
        (RPCStatusCode.INTERNAL, 1),
        (RPCStatusCode.RESOURCE_EXHAUSTED, 1),
    ],
)
def test_a_temporal_rpc_error_gets_the_code_of_what_it_means(
    status: RPCStatusCode, exit_code: int
) -> None:
    failure = explain(RPCError("the server said so\nin two lines", status, b""))
    assert failure.exit_code == exit_code
    assert len(failure.lines) == 1
    assert failure.lines[0].startswith("pit: error: temporal: ")
    assert "the server said so in two lines" in failure.lines[0]


@pytest.mark.parametrize("cls", list(ERROR_TYPES.values()), ids=list(ERROR_TYPES))
def test_every_pit_error_exits_with_its_own_code(cls: type[PitError]) -> None:
    failure = explain(cls("went wrong"))
    assert failure.exit_code == cls.exit_code
    assert failure.lines == ("pit: error: went wrong",)


def test_a_bug_is_one_line_naming_a_file_that_holds_its_traceback() -> None:
    def deep_inside() -> None:
        raise ZeroDivisionError("division by zero")

    try:
        deep_inside()
    except ZeroDivisionError as error:
        failure = explain(error)
    assert failure.exit_code == 1
    (line,) = failure.lines
    assert line.startswith("pit: internal error: ZeroDivisionError: division by zero (a bug;")
    match = re.search(r"the traceback is in (\S+\.log)\)$", line)
    assert match is not None, line
    saved = Path(match.group(1)).read_text()
    Path(match.group(1)).unlink()
    assert "Traceback (most recent call last)" in saved
    assert "deep_inside" in saved


def test_the_error_inside_a_task_group_is_the_one_reported() -> None:
    group = ExceptionGroup("tasks", [InvalidInputError("--x: 1: too big")])
    assert explain(group).lines == ("pit: error: --x: 1: too big",)
    assert explain(group).exit_code == 2


def test_ctrl_c_is_interrupted() -> None:
    assert explain(KeyboardInterrupt()).exit_code == 130


_exceptions = st.sampled_from(
    [ValueError, RuntimeError, KeyError, OSError, TimeoutError, PitError, InvalidInputError]
)


@settings(max_examples=60, deadline=None)
@given(_exceptions, st.text(max_size=3000))
def test_whatever_is_raised_is_printed_as_lines_without_line_breaks(
    cls: type[BaseException], message: str
) -> None:
    failure = explain(cls(message))
    for path in re.findall(r"the traceback is in (\S+\.log)\)$", failure.lines[-1]):
        Path(path).unlink()
    assert failure.exit_code in (1, 2, 3)
    assert len(failure.lines) == 1
    assert all("\n" not in line and "\r" not in line for line in failure.lines)
    assert all(len(line) <= 1000 for line in failure.lines)
