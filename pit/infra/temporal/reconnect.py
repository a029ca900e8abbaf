"""Waiting out a Temporal server that went away: which errors mean "unreachable", and a
patient retry loop that says so on stderr and gives up after `temporal.reconnect_timeout`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from temporalio.service import RPCError, RPCStatusCode

from pit.common.errors import BackendUnavailableError
from pit.common.validation import format_duration

T = TypeVar("T")

UNREACHABLE_RPC = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}
)
"""gRPC statuses that mean no answer came in time (the SDK reports a call's own
`rpc_timeout` running out as CANCELLED, "Timeout expired")."""


def unreachable(error: BaseException) -> bool:
    """True when `error` says the server could not be reached, not that it refused."""
    if isinstance(error, BackendUnavailableError):
        return True
    if isinstance(error, RPCError):
        return error.status in UNREACHABLE_RPC
    if isinstance(error, RuntimeError):
        # the SDK core reports some calls (a worker's start-up checks) only as text
        return any(marker in str(error) for marker in _SDK_UNREACHABLE)
    return isinstance(error, ConnectionError | TimeoutError)


_SDK_UNREACHABLE = ("code: Unavailable", "tcp connect error", "code: DeadlineExceeded")


def process_gone(pid: int) -> bool:
    """True when process `pid` has exited (or is a zombie waiting to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists; it just is not ours
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False  # no /proc (not Linux): the signal probe is all we have
    return "\nState:\tZ" in status


async def wait_process_gone(pid: int, poll: float = 0.5) -> None:
    """Return once process `pid` has exited."""
    while not process_gone(pid):
        await asyncio.sleep(poll)


async def while_process_lives(
    work: Awaitable[T], pid: int | None, gone: Callable[[], Exception]
) -> T:
    """`await work`, unless process `pid` exits first: then `gone()` is raised at once
    (a dead embedded server is noticed in half a second, not after the SDK's retries)."""
    task = asyncio.ensure_future(work)
    if pid is None:
        return await task
    watcher = asyncio.ensure_future(wait_process_gone(pid))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        raise gone()
    finally:
        task.cancel()
        watcher.cancel()


class Patience:
    """Retries with backoff while a server is unreachable; one line on stderr when it goes and
    one when it is back; `BackendUnavailableError` once `timeout` has passed without it.

    `server_pid`: the embedded server this command depends on; if that process is gone
    there is nothing to wait for, and the command fails at once.
    """

    def __init__(
        self,
        address: str,
        timeout: timedelta,
        say: Callable[[str], None],
        *,
        server_pid: int | None = None,
        what: str = "",
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.say = say
        self.server_pid = server_pid
        self.what = what
        self._since: float | None = None
        self._delay = _FIRST_DELAY

    async def pause(self, error: BaseException) -> None:
        """After `error`: wait before the next try, or raise if that makes no sense."""
        if not unreachable(error):
            raise error
        if self.server_pid is not None and process_gone(self.server_pid):
            raise self.server_exited() from None
        now = time.monotonic()
        if self._since is None:
            self._since = now
            self.say(
                f"pit: Temporal at {self.address} does not answer ({_reason(error)}); "
                f"retrying for up to {format_duration(self.timeout)}"
            )
        if now - self._since >= self.timeout.total_seconds():
            raise BackendUnavailableError(
                f"temporal: {self.address} did not answer for "
                f"{format_duration(self.timeout)} (temporal.reconnect_timeout){self._while()}: "
                f"{_reason(error)}"
            ) from None
        await asyncio.sleep(self._delay)
        self._delay = min(self._delay * 2, _MAX_DELAY)

    def server_exited(self) -> BackendUnavailableError:
        """The error for an embedded server that is gone."""
        return BackendUnavailableError(
            f"temporal: the embedded server at {self.address} (pid {self.server_pid}) "
            f"exited{self._while()}"
        )

    async def until_server_exits(self, work: Awaitable[T]) -> T:
        """`await work`, failing at once if the embedded server exits meanwhile."""
        return await while_process_lives(work, self.server_pid, self.server_exited)

    def answered(self) -> None:
        """The server answered again."""
        if self._since is not None:
            self.say(f"pit: Temporal at {self.address} answers again")
        self._since = None
        self._delay = _FIRST_DELAY

    def _while(self) -> str:
        return f" while {self.what}" if self.what else ""


_FIRST_DELAY = 0.5
_MAX_DELAY = 10.0


def _reason(error: BaseException) -> str:
    text = error.message if isinstance(error, RPCError | BackendUnavailableError) else str(error)
    with contextlib.suppress(IndexError):
        text = text.strip().splitlines()[0]
    return text[:200] or type(error).__name__
