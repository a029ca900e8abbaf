"""`pit.shell`: run a command; a non-zero exit fails the node.

An output over `MAX_CAPTURE` characters is never silently cut: the worker's artifact store
keeps all of it, and the result names that artifact (`stdout_artifact`) beside the last
`MAX_CAPTURE` characters. Without a store (the bare `shell` function) such an output fails
the node, saying so."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from temporalio import activity

from pit.activities.artifacts import ArtifactRef
from pit.artifacts.store import ArtifactStore
from pit.common.errors import CommandFailedError, InvalidInputError, WorkFailedError
from pit.common.validation import Duration
from pit.infra import child_guard

MAX_CAPTURE = 64 * 1024
"""Characters of stdout / stderr a result carries; a larger output is stored as an artifact
(all of it) and the result carries its last MAX_CAPTURE characters and the reference."""
_SLUG = re.compile(r"[^a-z0-9._-]+")


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
    stdout_chars: int | None = None
    """How long stdout was when it is over MAX_CAPTURE (`stdout` holds its end)."""
    stdout_artifact: ArtifactRef | None = None
    """All of stdout, when it is over MAX_CAPTURE characters."""
    stderr_chars: int | None = None
    stderr_artifact: ArtifactRef | None = None

    lines: list[str] | None = None
    """With `lines: true`: stdout's non-blank lines, without their line ends."""

    @model_serializer(mode="wrap")
    def _without_unasked_lines(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("lines") is None:
            data.pop("lines", None)  # outputs stay as they were for commands not asked
        return data


class ShellActivities:
    """`pit.shell` with an artifact store for outputs over MAX_CAPTURE (a worker registers
    `shell` bound; the store is opened on first use)."""

    def __init__(self, store: ArtifactStore | Callable[[], ArtifactStore]) -> None:
        self._store = store

    @activity.defn(name="pit.shell")
    async def shell(self, inputs: ShellInput) -> ShellResult:
        """Runs `command` (see the module-level `shell`); an output over MAX_CAPTURE
        characters is stored whole as an artifact and referenced."""
        store = self._store if isinstance(self._store, ArtifactStore) else self._store()
        return await run_shell(inputs, store)


@activity.defn(name="pit.shell")
async def shell(inputs: ShellInput) -> ShellResult:
    """Runs `command`, heartbeating while it runs; killed (with its children) when the
    activity is cancelled or times out. An output over MAX_CAPTURE characters fails it
    (no store to keep it in: `ShellActivities` has one)."""
    return await run_shell(inputs, None)


async def run_shell(inputs: ShellInput, store: ArtifactStore | None) -> ShellResult:
    """`pit.shell`'s work; outputs over MAX_CAPTURE go to `store` (None: they fail it)."""
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
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
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
    for stream in ("stdout", "stderr"):
        await _keep_whole(result, stream, store)
    return result


async def _keep_whole(result: ShellResult, stream: str, store: ArtifactStore | None) -> None:
    """Cut `stream` of `result` to its last MAX_CAPTURE characters only once all of it is
    stored and referenced; without a store, an output that long fails the activity."""
    text: str = getattr(result, stream)
    if len(text) <= MAX_CAPTURE:
        return
    if store is None:
        raise WorkFailedError(
            f"{stream} is {len(text):,} characters, over the {MAX_CAPTURE:,} pit.shell "
            "returns, and this worker has no artifact store to keep it: write it to a file "
            "and store it with pit.artifacts.put",
            stream=stream,
            chars=len(text),
        )
    put = await store.put(
        _output_name(stream),
        text.encode(),
        media_type="text/plain",
        metadata=_where(),
        tags=["pit-shell-output"],
    )
    reference = ArtifactRef(artifact=put.name, version=put.version, digest=put.digest)
    setattr(result, stream, text[-MAX_CAPTURE:])
    setattr(result, f"{stream}_chars", len(text))
    setattr(result, f"{stream}_artifact", reference)


def _output_name(stream: str) -> str:
    """`pit/shell/<run>/<node>/<stream>`: ids lowercased to the artifact name rule, with a
    digest of the exact ids so that two runs whose ids differ only in case do not share."""
    info = activity.info()
    exact = f"{info.workflow_id}/{info.activity_id}".encode()
    short = hashlib.sha256(exact).hexdigest()[:8]
    run = _SLUG.sub("-", (info.workflow_id or "none").lower()).strip("-.")[:100] or "run"
    node = _SLUG.sub("-", info.activity_id.lower()).strip("-.")[:100] or "node"
    return f"pit/shell/{run}-{short}/{node}/{stream}"


def _where() -> dict[str, str | int | float | bool]:
    info = activity.info()
    return {"run_id": info.workflow_id or "", "node": info.activity_id, "attempt": info.attempt}


def _guarded(argv: list[str]) -> list[str]:
    return [sys.executable, "-I", "-S", child_guard.__file__, str(os.getpid()), "--", *argv]


def _cannot_start(command: str | list[str], reason: str | None) -> InvalidInputError:
    return InvalidInputError.for_field("command", command, f"cannot be started: {reason}")


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
