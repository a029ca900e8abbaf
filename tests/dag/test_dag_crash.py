"""A worker killed mid-run (SIGKILL) and started again: the run finishes as if nothing
happened, and no node that had succeeded runs again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from pit.client.runs import start_run
from pit.dag.graph import parse_dag
from pit.dag.status import NodeState, RunState
from tests.dag.support import read_log

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def start_worker(address: str, queue: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pit",
            "--temporal",
            address,
            "worker",
            "--task-queue",
            queue,
            "--activities",
            "tests.dag.support:ACTIVITIES",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_for(predicate, timeout: float = 30) -> None:
    for _ in range(int(timeout * 10)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition never held")


async def test_killed_worker_restarted_finishes_the_run_without_rerunning_succeeded_nodes(
    temporal_env: WorkflowEnvironment, temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    log = tmp_path / "log.jsonl"
    address = temporal_client.service_client.config.target_host

    def rec(node_id: str, seconds: float, depends_on: list[str]) -> dict:
        inputs = {"node": node_id, "log": str(log), "seconds": seconds}
        return {
            "id": node_id,
            "activity": "test.record",
            "inputs": inputs,
            "depends_on": depends_on,
            "heartbeat": "1s",
            "retry": {"max_attempts": 5, "initial_interval": "100ms"},
        }

    data = {
        "name": "crash",
        "nodes": [
            rec("first", 0.1, []),
            rec("wide_a", 3, ["first"]),
            rec("wide_b", 3, ["first"]),
            rec("last", 0.1, ["wide_a", "wide_b"]),
        ],
    }
    worker = start_worker(address, task_queue)
    try:
        handle = await start_run(temporal_client, parse_dag(data), task_queue=task_queue)
        starts = lambda: Counter(e["node"] for e in read_log(log) if e["event"] == "start")  # noqa: E731
        await wait_for(lambda: starts()["wide_a"] >= 1 and starts()["wide_b"] >= 1)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        worker = start_worker(address, task_queue)
        status = await asyncio.wait_for(handle.result(), 90)
    finally:
        worker.kill()
        worker.wait(timeout=10)

    assert status.status is RunState.SUCCEEDED
    ends = Counter(e["node"] for e in read_log(log) if e["event"] == "end")
    assert ends == {"first": 1, "wide_a": 1, "wide_b": 1, "last": 1}
    assert starts()["first"] == 1, "a node that had succeeded ran again"
    assert starts()["last"] == 1
    assert starts()["wide_a"] == 2 and status.nodes["wide_a"].attempts == 2
    assert all(node.state is NodeState.SUCCEEDED for node in status.nodes.values())
