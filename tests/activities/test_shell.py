"""`pit.shell`: what a command returns, and that no process it started outlives its node:
not on cancellation, and not when the worker running it is killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from pit.activities.shell import ShellInput, shell
from pit.client.runs import start_run
from pit.common.errors import CommandFailedError, InvalidInputError
from pit.dag.graph import parse_dag

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie nobody reaped yet counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def eventually(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        await asyncio.sleep(0.05)


def tree_command(pids: Path) -> str:
    """A shell that starts a grandchild, writing both pids (the shell's last)."""
    return f"sleep 300 & echo $! > {pids}/inner; echo $$ > {pids}/outer.tmp; mv {pids}/outer.tmp {pids}/outer; wait"


def read_pids(pids: Path) -> list[int]:
    return [int((pids / name).read_text()) for name in ("inner", "outer")]


async def test_a_command_answers_with_its_output_and_a_failure_names_its_exit() -> None:
    env = ActivityEnvironment()
    result = await env.run(shell, ShellInput(command=["python3", "-c", "print('hi')"]))
    assert (result.exit_code, result.stdout) == (0, "hi\n")
    result = await env.run(shell, ShellInput(command="echo out; echo err >&2"))
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    with pytest.raises(CommandFailedError, match="exited with 3: boom"):
        await env.run(shell, ShellInput(command="echo boom >&2; exit 3"))
    with pytest.raises(CommandFailedError, match="exited with -9"):
        await env.run(shell, ShellInput(command=["sh", "-c", "kill -9 $$"]))


async def test_a_program_that_does_not_exist_is_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="cannot be started: No such file"):
        await ActivityEnvironment().run(shell, ShellInput(command=["no-such-program-here"]))


async def test_cancelling_the_activity_kills_the_command_and_its_children(tmp_path: Path) -> None:
    env = ActivityEnvironment()
    running = asyncio.ensure_future(env.run(shell, ShellInput(command=tree_command(tmp_path))))
    await eventually(lambda: (tmp_path / "outer").exists())
    pids = read_pids(tmp_path)
    assert all(alive(pid) for pid in pids)
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await eventually(lambda: not any(alive(pid) for pid in pids), timeout=5)


@pytest.mark.integration
async def test_a_worker_killed_mid_command_leaves_no_process_behind(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    env["PYTHONPATH"] = str(ROOT)
    address = temporal_client.service_client.config.target_host
    worker = subprocess.Popen(
        [sys.executable, "-m", "pit", "--temporal", address, "worker", "--task-queue", task_queue],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    graph = parse_dag(
        {
            "name": "orphans",
            "nodes": [
                {
                    "id": "tree",
                    "activity": "pit.shell",
                    "inputs": {"command": tree_command(tmp_path)},
                    "retry": {"max_attempts": 1},
                }
            ],
        }
    )
    handle = await start_run(temporal_client, graph, task_queue=task_queue)
    try:
        await eventually(lambda: (tmp_path / "outer").exists(), timeout=60)
        pids = read_pids(tmp_path)
        assert all(alive(pid) for pid in pids)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        await eventually(lambda: not any(alive(pid) for pid in pids), timeout=10)
    finally:
        worker.kill()
        await handle.terminate("test over")
