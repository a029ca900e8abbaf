"""The Python examples run as a user runs them (their own process, their own working
directory), against the session's dev server; docs/python.md shows nothing they do not."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from temporalio.client import Client

from pit.client import PitClient
from pit.common.config import load_settings
from pit.workers import build_worker

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "python"


def run_example(name: str, args: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), EXAMPLES / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_own_worker_mixes_its_activity_with_the_pits_as_pit_worker_does(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    address = temporal_client.service_client.config.target_host
    shown = await asyncio.to_thread(run_example, "own_worker.py", [address], tmp_path, {})
    run = shown["run"]
    assert run["status"] == "succeeded"
    assert run["nodes"]["greet"] == {
        "state": "succeeded",
        "attempts": 1,
        "error_type": None,
        "output": {"who": "world"},
    }
    assert run["nodes"]["shout"]["output"] == {"text": "HELLO WORLD"}
    # non_retryable_errors: [command_failed] holds: one attempt, then on_failure: skip
    assert run["nodes"]["check"] == {
        "state": "skipped",
        "attempts": 1,
        "error_type": "command_failed",
        "output": None,
    }
    assert shown["resumed"]["status"] == "succeeded"
    assert sorted(shown["resumed"]["reused"]) == ["greet", "shout"]
    assert shown["artifact"] == {"version": 1, "found": ["notes/mixed.md"]}

    # the same graph under the worker `pit worker` runs: the same attempts, errors, outputs
    example = load_example("own_worker.py")
    settings = load_settings(environ={"PIT_STATE_DIR": str(tmp_path / "pit-worker")})
    worker = build_worker(
        temporal_client,
        settings,
        extra_activities=[example.shout],
        task_queue=task_queue,
        use_entry_points=False,
    )
    async with worker:
        pit = PitClient(temporal_client, settings)
        handle = await pit.runs.start(example.DAG, inputs={"who": "world"}, task_queue=task_queue)
        status = await asyncio.wait_for(handle.result(), 60)
    assert example.summary(status) == run["nodes"]


async def test_use_the_pit_runs_a_graph_built_in_code_and_reaches_every_component(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    address = temporal_client.service_client.config.target_host
    env = {"PIT_TEMPORAL__ADDRESS": address, "PIT_TEMPORAL__TASK_QUEUE": task_queue}
    settings = load_settings(environ={**env, "PIT_STATE_DIR": str(tmp_path / ".pit")})
    async with build_worker(temporal_client, settings, use_entry_points=False):
        shown = await asyncio.to_thread(run_example, "use_the_pit.py", [], tmp_path, env)
    assert shown["run"] == {"status": "succeeded", "said": ["ada", "grace", "linus"]}
    assert shown["artifact"] == {
        "version": 1,
        "text": "# Notes\nthe greetings ran",
        "found": ["tour/notes.md"],
    }
    assert shown["grant"]["action"] == "grant" and len(shown["grant"]["held"]) == 1
    assert shown["plan"]["id"].startswith("plan-")


def test_the_docs_show_the_examples_as_they_are() -> None:
    text = (ROOT / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    sources = [path.read_text() for path in EXAMPLES.glob("*.py")]
    assert blocks
    for block in blocks:
        assert any(block in source for source in sources), block[:200]
