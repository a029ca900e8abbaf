"""The one mapping from an exception that reached `pit` to the line(s) it prints and its exit
code. Commands raise; only `pit.cli._app.run` catches, through `explain`.

    exception                               exit  line
    click usage error                       2     `pit CMD: error: ... (see 'pit CMD --help')`
    PitError                                its   its message (one line per problem)
    OSError: ENOSPC EDQUOT EFBIG EIO ...    1     `pit: error: PATH: No space left on device
                                                  (ENOSPC)`
    OSError: ECONNREFUSED ETIMEDOUT ...     3     the same shape
    OSError: any other errno (ENOENT,       2     the same shape: a path the user gave is wrong
      ENOTDIR, EISDIR, EACCES, EROFS ...)
    Temporal RPC: unavailable, deadline,    3     `pit: error: temporal: unreachable: ...`
      timeout; the SDK's "Unavailable"
    Temporal RPC: not found, invalid
      argument, permission, credentials     2     `pit: error: temporal: ...`
    a workflow's failure                    1     its PitError's message
    MemoryError                             1     `pit: error: out of memory`
    Ctrl-C                                  130   `pit: interrupted`
    anything else (a bug)                   1     `pit: internal error: TYPE: MESSAGE (traceback
                                                   in /tmp/pit-crash-....log)`

No traceback ever reaches the terminal: a bug's traceback goes to a file whose path the line
names.
"""

from __future__ import annotations

import asyncio
import errno
import os
import sys
import tempfile
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from pit.common.errors import PitError, os_error_exit_code

if TYPE_CHECKING:
    from temporalio.service import RPCError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass(frozen=True)
class Failure:
    """What `pit` prints on stderr (one line each) and exits with."""

    lines: tuple[str, ...]
    exit_code: int


def explain(error: BaseException) -> Failure:
    """The lines and exit code for `error`; a bug's traceback is saved to a file first."""
    error = _leaf(error)
    if isinstance(error, click.UsageError):
        where = error.ctx.command_path if error.ctx else "pit"
        return _one(
            f"{where}: error: {error.format_message()} (see '{where} --help')", EXIT_BAD_INPUT
        )
    if isinstance(error, click.ClickException):
        code = EXIT_BAD_INPUT if error.exit_code == EXIT_BAD_INPUT else EXIT_FAILED
        return _one(f"pit: error: {error.format_message()}", code)
    if isinstance(error, PitError):
        return _pit_error(error)
    if isinstance(error, click.Abort | KeyboardInterrupt | asyncio.CancelledError):
        return _one("pit: interrupted", EXIT_INTERRUPTED)
    if "temporalio" in sys.modules:  # a command that never loaded Temporal has no such errors
        temporal = _temporal_failure(error)
        if temporal is not None:
            return temporal
    if isinstance(error, OSError):
        return _os_error(error)
    if isinstance(error, MemoryError):
        return _one("pit: error: out of memory", EXIT_FAILED)
    return _bug(error)


def _temporal_failure(error: BaseException) -> Failure | None:
    from temporalio.client import WorkflowFailureError
    from temporalio.service import RPCError

    from pit.infra.temporal.failures import from_failure
    from pit.infra.temporal.reconnect import unreachable

    if isinstance(error, WorkflowFailureError):
        return _pit_error(from_failure(error))
    if isinstance(error, RPCError):
        return _rpc_error(error)
    if not isinstance(error, OSError) and unreachable(error):
        # the SDK core's own words for a server it cannot reach
        return _one(
            f"pit: error: temporal: unreachable: {one_line(str(error), 300)}", EXIT_UNREACHABLE
        )
    return None


def _one(line: str, exit_code: int) -> Failure:
    return Failure((one_line(line),), exit_code)


def one_line(text: str, limit: int = 1000) -> str:
    """`text` on a single line (no newline a terminal would break it at), at most `limit`
    characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _leaf(error: BaseException) -> BaseException:
    """The exception that matters inside task-group wrappers: the first one that is not a
    cancellation caused by another."""
    while isinstance(error, BaseExceptionGroup):
        inner = [e for e in error.exceptions if not isinstance(e, asyncio.CancelledError)]
        error = (inner or list(error.exceptions))[0]
    return error


def _pit_error(error: PitError) -> Failure:
    problems = error.details.get("problems")
    lines = problems if isinstance(problems, list) and problems else [error.message]
    return Failure(tuple(one_line(f"pit: error: {line}") for line in lines), error.exit_code)


_REFUSED_RPC = frozenset(
    {"NOT_FOUND", "INVALID_ARGUMENT", "ALREADY_EXISTS", "PERMISSION_DENIED", "UNAUTHENTICATED"}
)
"""RPC status names that mean the server refused what was asked (bad input)."""


def _rpc_error(error: RPCError) -> Failure:
    from pit.infra.temporal.reconnect import unreachable

    message = error.message or error.status.name.lower()
    if unreachable(error):
        return _one(f"pit: error: temporal: unreachable: {message}", EXIT_UNREACHABLE)
    code = EXIT_BAD_INPUT if error.status.name in _REFUSED_RPC else EXIT_FAILED
    return _one(f"pit: error: temporal: {error.status.name.lower()}: {message}", code)


def _os_error(error: OSError) -> Failure:
    reason = error.strerror or str(error) or type(error).__name__
    name = errno.errorcode.get(error.errno or 0)
    if name:
        reason = f"{reason} ({name})"
    paths = [str(p) for p in (error.filename, error.filename2) if p is not None]
    where = f"{' -> '.join(paths)}: " if paths else ""
    return _one(f"pit: error: {where}{reason}", os_error_exit_code(error))


def _bug(error: BaseException) -> Failure:
    saved = _save_traceback(error)
    detail = one_line(f"{type(error).__name__}: {error}", 300)
    return _one(f"pit: internal error: {detail} ({saved})", EXIT_FAILED)


def _save_traceback(error: BaseException) -> str:
    text = "".join(traceback.format_exception(error))
    try:
        fd, path = tempfile.mkstemp(prefix="pit-crash-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(text)
    except OSError as cannot:
        return f"a bug; its traceback could not be saved: {cannot.strerror}"
    return f"a bug; the traceback is in {path}"
