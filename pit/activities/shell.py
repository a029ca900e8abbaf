"""`pit.shell`: run a command; a non-zero exit fails the node."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from temporalio import activity

from pit.common.errors import CommandFailedError, InvalidInputError
from pit.common.validation import Duration
from pit.infra import child_guard

MAX_CAPTURE = 64 * 1024
"""Characters of stdout / stderr kept; a larger output belongs in an artifact."""


class ShellInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str | list[str] = Field(description="a shell line, or an argv list (no shell)")
    cwd: Path | None = None
    env: dict[str, str] = Field(default_factory=dict)
    """Added to the worker's environment."""
    timeout: Duration | None = None
    lines: bool = False
    """Also return stdout's non-blank lines as a list (`lines`): what a map's `for_each`
    takes (`${nodes.list.output.lines}`)."""


class ShellResult(BaseModel):
    exit_code: int
    stdout: str
    stderr: str
    lines: list[str] | None = None
    """With `lines: true`: stdout's non-blank lines, without their line ends."""

    @model_serializer(mode="wrap")
    def _without_unasked_lines(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("lines") is None:
            data.pop("lines", None)  # outputs stay as they were for commands not asked
        return data


@activity.defn(name="pit.shell")
async def shell(inputs: ShellInput) -> ShellResult:
    """Runs `command`, heartbeating while it runs; killed (with its children) when the
    activity is cancelled or times out."""
    if isinstance(inputs.command, list) and not inputs.command:
        raise InvalidInputError.for_field("command", [], "must name a program")
    if inputs.cwd is not None and not inputs.cwd.is_dir():
        raise InvalidInputError.for_field("cwd", str(inputs.cwd), "must be an existing directory")
    env = {**os.environ, **inputs.env}
    argv = ["/bin/sh", "-c", inputs.command] if isinstance(inputs.command, str) else inputs.command
    try:
        # the guard leads a process group of its own and kills all of it when this worker
        # dies, even by SIGKILL, so a retried node never runs beside its orphaned first try
        process = await asyncio.create_subprocess_exec(
            *_guarded(argv),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            cwd=inputs.cwd,
            env=env,
            start_new_session=True,
        )
    except OSError as error:
        raise _cannot_start(inputs.command, error.strerror) from None
    communicate = asyncio.ensure_future(process.communicate())
    limit = inputs.timeout.total_seconds() if inputs.timeout else None
    waited = 0.0
    try:
        while not communicate.done():
            await asyncio.wait({communicate}, timeout=1.0)
            waited += 1.0
            activity.heartbeat()
            if limit is not None and waited >= limit and not communicate.done():
                _kill(process)
                await communicate
                raise CommandFailedError(f"command timed out after {limit:g}s", timeout=limit)
        stdout, stderr = communicate.result()
    except asyncio.CancelledError:
        _kill(process)
        raise
    if process.returncode == child_guard.CANNOT_START and stderr.startswith(
        child_guard.MARKER.encode()
    ):
        reason = stderr.decode(errors="replace").strip().rpartition(": ")[2]
        raise _cannot_start(inputs.command, reason)
    result = ShellResult(
        exit_code=process.returncode if process.returncode is not None else -1,
        stdout=stdout.decode(errors="replace")[-MAX_CAPTURE:],
        stderr=stderr.decode(errors="replace")[-MAX_CAPTURE:],
    )
    if inputs.lines:
        result.lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.exit_code != 0:
        last = result.stderr.strip().splitlines()[-1:] or ["no stderr"]
        raise CommandFailedError(
            f"command exited with {result.exit_code}: {last[0][:300]}",
            exit_code=result.exit_code,
            stderr=result.stderr[-2000:],
        )
    return result


def _guarded(argv: list[str]) -> list[str]:
    return [sys.executable, "-I", "-S", child_guard.__file__, str(os.getpid()), "--", *argv]


def _cannot_start(command: str | list[str], reason: str | None) -> InvalidInputError:
    return InvalidInputError.for_field("command", command, f"cannot be started: {reason}")


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
