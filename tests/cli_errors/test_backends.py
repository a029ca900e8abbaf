"""Backends that stall, die, come back, or answer without progress: `pit` exits with the
documented code and one line, within its timeouts, and waits out a server restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from pit.dag.run import DAG_WORKFLOW
from pit.infra.temporal.devserver import free_port, temporal_binary
from tests.cli_errors.support import ROOT, assert_one_line, pit_in_process, pit_subprocess

pytestmark = pytest.mark.integration

SLOW_DAG = """\
name: slow
defaults: {timeout: 30s, retry: {max_attempts: 5}}
nodes:
  - {id: nap, activity: pit.sleep, inputs: {seconds: 8}}
  - {id: after, activity: pit.echo, inputs: {slept: "${nodes.nap.output}"}}
"""


def eventually(check: Callable[[], bool], within: float, what: str) -> None:
    """Poll `check` until it holds; fail (not hang) after `within` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within:.0f}s: {what}")
        time.sleep(0.2)


# --- a port that accepts and never answers -----------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts every connection and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


@pytest.mark.parametrize(
    "argv",
    [
        ["ping"],
        ["dag", "status", "some-run"],
        ["dag", "list"],
        ["pool", "status"],
        ["stale", "progress", "some-run"],
        ["arbiter", "status"],
    ],
    ids=lambda argv: "-".join(argv),
)
def test_a_server_that_never_answers_is_exit_3_within_the_connect_timeout(
    silent_port: int, tmp_path: Path, argv: list[str]
) -> None:
    env = {"PIT_TEMPORAL__CONNECT_TIMEOUT": "1s"}
    code, err = pit_in_process(["--temporal", f"127.0.0.1:{silent_port}", *argv], tmp_path, env)
    assert_one_line(code, err, 3, f"cannot reach 127.0.0.1:{silent_port}", "timed out")


def test_as_a_process_a_silent_server_is_one_line_and_exit_3(
    silent_port: int, tmp_path: Path
) -> None:
    result = pit_subprocess(
        ["--temporal", f"127.0.0.1:{silent_port}", "ping"],
        tmp_path,
        {"PIT_TEMPORAL__CONNECT_TIMEOUT": "1s"},
        timeout=30,  # only a hang would reach it
    )
    assert_one_line(result.returncode, result.stderr, 3, "timed out")


# --- pit dev without its server -------------------------------------------------------------


def test_pit_dev_stops_with_exit_3_when_its_server_dies(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    env["PYTHONPATH"] = str(ROOT)
    with subprocess.Popen(
        [sys.executable, "-m", "pit", "dev", "--no-ui"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as dev:
        try:
            assert dev.stdout is not None
            for line in dev.stdout:
                if "Press Ctrl-C" in line:
                    break
            server = json.loads((tmp_path / ".pit" / "temporal.json").read_text())
            os.kill(server["pid"], signal.SIGKILL)
            code = dev.wait(timeout=60)
        finally:
            if dev.poll() is None:
                dev.kill()
        stderr = dev.stderr.read() if dev.stderr else ""
    assert_one_line(code, stderr, 3, "the embedded server", f"(pid {server['pid']}) exited")


# --- a server that goes away and comes back -------------------------------------------------


class RestartableServer:
    """`temporal server start-dev` on a fixed port and database, killed and started again."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.ports = [str(free_port()), str(free_port())]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or start again, on the same port and database); the first start takes
        other ports if one it picked was taken meanwhile (the server exits at once)."""
        for _ in range(3 if self.process is None else 1):
            with (self.home / "server.log").open("ab") as log:
                self.process = self._popen(log)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.process.poll() is None:
                if self.serving():
                    return
                time.sleep(0.2)
            self.kill()  # exited (a port taken) or never served: new ports, if this is the first
            self.port = free_port()
            self.address = f"127.0.0.1:{self.port}"
            self.ports = [str(free_port()), str(free_port())]
        pytest.fail(f"temporal not serving at {self.address}: see {self.home / 'server.log'}")

    def _popen(self, log: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                str(temporal_binary()),
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http-port",
                self.ports[0],
                "--metrics-port",
                self.ports[1],
                "--headless",
                "--db-filename",
                str(self.home / "temporal.db"),
                "--log-level",
                "error",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def serving(self) -> bool:
        health = subprocess.run(
            [str(temporal_binary()), "operator", "cluster", "health", "--address", self.address],
            capture_output=True,
            text=True,
            check=False,
        )
        return "SERVING" in health.stdout

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def run_exists(self, run_id: str) -> bool:
        described = subprocess.run(
            [
                str(temporal_binary()),
                "workflow",
                "describe",
                "--workflow-id",
                run_id,
                "--address",
                self.address,
            ],
            capture_output=True,
            check=False,
        )
        return described.returncode == 0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RestartableServer]:
    server = RestartableServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.kill()


def _pit_process(
    argv: list[str], cwd: Path, env: dict[str, str], stderr_file: Path
) -> subprocess.Popen[bytes]:
    """`pit` in the background; stdout goes to STDERR_FILE.out, stderr to `stderr_file`."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    full_env.update(env, PYTHONPATH=str(ROOT))
    with stderr_file.open("w") as stderr, stderr_file.with_suffix(".out").open("w") as stdout:
        return subprocess.Popen(
            [sys.executable, "-m", "pit", *argv],
            cwd=cwd,
            env=full_env,
            stdout=stdout,
            stderr=stderr,
        )


def _start_slow_run(
    server: RestartableServer, home: Path, reconnect_timeout: str
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`pit run` of SLOW_DAG against `server`, once the run exists there: the process, the
    run id and the file its stderr goes to."""
    (home / "slow.yaml").write_text(SLOW_DAG)
    run_id = f"slow-{uuid.uuid4().hex[:8]}"
    stderr = home / "run.err"
    run = _pit_process(
        ["--temporal", server.address, "run", "slow.yaml", "--id", run_id],
        home,
        {"PIT_TEMPORAL__RECONNECT_TIMEOUT": reconnect_timeout},
        stderr,
    )
    eventually(lambda: server.run_exists(run_id), 60, "the run started")
    return run, run_id, stderr


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.mark.timeout(300)
def test_pit_run_waits_out_a_server_restart(server: RestartableServer, tmp_path: Path) -> None:
    serving = tmp_path / "worker.err"
    worker = _pit_process(["--temporal", server.address, "worker"], tmp_path, {}, serving)
    eventually(lambda: "serving task queue" in serving.read_text(), 60, "the worker started")
    run, run_id, waiting = _start_slow_run(server, tmp_path, "2m")
    try:
        server.kill()
        eventually(lambda: "does not answer" in waiting.read_text(), 60, "pit run noticed")
        assert run.poll() is None, "pit run gave up instead of waiting"
        server.start()
        run.wait(timeout=200)
    finally:
        _stop(run, worker)
    stderr = waiting.read_text()
    assert run.returncode == 0, stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert lines[0].startswith(f"pit: Temporal at {server.address} does not answer (")
    assert lines[0].endswith("retrying for up to 2m")
    assert lines[1] == f"pit: Temporal at {server.address} answers again"
    assert f"{run_id}: succeeded" in waiting.with_suffix(".out").read_text()


def test_pit_run_gives_up_with_exit_3_after_the_reconnect_timeout(
    server: RestartableServer, tmp_path: Path
) -> None:
    run, _, waiting = _start_slow_run(server, tmp_path, "3s")  # no worker: it only waits
    try:
        server.kill()
        run.wait(timeout=120)  # the SDK's own retries, then ours: 3s
    finally:
        _stop(run)
    stderr = waiting.read_text()
    assert run.returncode == 3, stderr
    assert "Traceback" not in stderr
    notice, error = stderr.splitlines()
    assert "does not answer" in notice
    assert error.startswith(f"pit: error: temporal: {server.address} did not answer for 3s")
    assert "(temporal.reconnect_timeout) while waiting on run" in error


# --- a run whose workflow task keeps failing --------------------------------------------------


@workflow.defn(name=DAG_WORKFLOW)
class BrokenDagWorkflow:
    """Stands in for the DAG workflow on a test queue: its code fails every workflow task
    (Temporal retries a failed task forever: the run stays open and makes no progress)."""

    @workflow.run
    async def run(self, _: Any) -> None:
        raise RuntimeError("the workflow code is broken")

    @workflow.query
    def status(self, _: Any) -> None:
        return None


def _broken_worker(client: Client, task_queue: str) -> Worker:
    # unsandboxed: the sandbox would re-import this test module and what it imports
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BrokenDagWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


def _address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def _task_failed_times(client: Client, run_id: str, times: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        description = await client.get_workflow_handle(run_id).describe()
        if description.raw_description.pending_workflow_task.attempt >= times:
            return
        await asyncio.sleep(0.3)
    pytest.fail(f"the workflow task of {run_id} did not fail {times} times")


async def test_a_stuck_run_is_reported_with_its_task_failure_and_exit_1(
    temporal_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    client = temporal_env.client
    run_id = f"stuck-{uuid.uuid4().hex[:8]}"
    async with _broken_worker(client, task_queue):
        await client.start_workflow(DAG_WORKFLOW, None, id=run_id, task_queue=task_queue)
        await _task_failed_times(client, run_id, 3)
        result = await asyncio.to_thread(
            pit_subprocess,
            ["--temporal", _address(temporal_env), "dag", "status", run_id],
            tmp_path,
        )
        await client.get_workflow_handle(run_id).terminate()
    assert_one_line(
        result.returncode,
        result.stderr,
        1,
        f"run '{run_id}' is stuck: its workflow task failed",
        "the workflow code is broken",
        f"pit dag cancel {run_id}",
    )


async def test_pit_run_on_a_stuck_run_exits_1_instead_of_waiting_forever(
    temporal_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    client = temporal_env.client
    (tmp_path / "slow.yaml").write_text(SLOW_DAG)
    run_id = f"stuck-{uuid.uuid4().hex[:8]}"
    async with _broken_worker(client, task_queue):
        result = await asyncio.to_thread(
            pit_subprocess,
            ["--temporal", _address(temporal_env), "run", "slow.yaml", "--id", run_id],
            tmp_path,
            {"PIT_TEMPORAL__TASK_QUEUE": task_queue},
            120,
        )
        await client.get_workflow_handle(run_id).terminate()
    assert_one_line(
        result.returncode, result.stderr, 1, f"run '{run_id}' is stuck", "workflow code is broken"
    )
