"""`pit run` and `pit dag ...` as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.dag.support import read_log

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def pit(*args: str, cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pit", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`pit dev` serving the test activities; yields its address."""
    home = tmp_path_factory.mktemp("dev")
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pit",
            "dev",
            "--no-ui",
            "--json",
            "--activities",
            "tests.dag.support:ACTIVITIES",
        ],
        cwd=home,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as dev:
        assert dev.stdout is not None
        address = json.loads(dev.stdout.readline())["address"]
        try:
            yield address
        finally:
            dev.terminate()
            dev.wait(timeout=30)


def test_run_with_embedded_server_prints_the_status_document(tmp_path: Path) -> None:
    result = pit(
        "run", str(ROOT / "examples" / "hello.yaml"), "--input", "who=world", "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["status"] == "succeeded"
    assert status["nodes"]["report"]["output"] == {"message": "hello, world: 2\n"}
    assert status["started_at"].endswith("Z") and len(status["started_at"]) == 24  # ms precision
    assert set(status["nodes"]["greet"]) >= {
        "state",
        "attempts",
        "started_at",
        "finished_at",
        "output",
        "error",
        "fallback",
    }


def test_invalid_dag_exits_2_with_a_line_per_problem_and_starts_nothing(tmp_path: Path) -> None:
    dag = tmp_path / "bad.yaml"
    dag.write_text(
        "name: bad\nnodes:\n"
        "  - {id: a, activity: pit.echo, depends_on: [b]}\n"
        "  - {id: b, activity: pit.echo, depends_on: [a]}\n"
        "  - {id: c, activity: demo.unknown, timeout: soon}\n"
    )
    result = pit("run", str(dag), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "pit: error: nodes[2].timeout: 'soon': a duration such as 250ms, 30s, 5m, "
        "1h30m, 7d (units ms s m h d w) or seconds"
    ]
    dag.write_text(dag.read_text().replace(", timeout: soon", ""))
    lines = pit("run", str(dag), cwd=tmp_path).stderr.strip().splitlines()
    assert len(lines) == 2
    assert "nodes[2].activity: 'demo.unknown'" in lines[0]
    assert "cycle a -> b -> a" in lines[1]
    assert not (tmp_path / ".pit").exists()


def test_failed_run_exits_1_then_status_and_resume(dev_server: str, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.touch()
    log = tmp_path / "log.jsonl"
    dag = tmp_path / "flow.yaml"
    dag.write_text(
        "name: flow\ndefaults: {retry: {max_attempts: 1}}\nnodes:\n"
        f"  - {{id: one, activity: test.gate, inputs: {{node: one, log: '{log}', blocker: '{tmp_path}/no'}}}}\n"
        f"  - {{id: two, activity: test.gate, depends_on: [one], inputs: {{node: two, log: '{log}', blocker: '{blocker}'}}}}\n"
    )
    first = pit("--temporal", dev_server, "run", str(dag), "--id", "flow-1", cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    assert "flow-1: failed" in first.stdout

    status = pit("--temporal", dev_server, "dag", "status", "flow-1", "--json", cwd=tmp_path)
    assert status.returncode == 1
    assert json.loads(status.stdout)["nodes"]["two"]["state"] == "failed"

    blocker.unlink()
    resumed = pit("--temporal", dev_server, "dag", "resume", "flow-1", "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    document = json.loads(resumed.stdout)
    assert document["run_id"] == "flow-1-r1"
    assert "reused" in document["nodes"]["one"]["reason"]
    assert [json.loads(line)["node"] for line in log.read_text().splitlines()] == [
        "one",
        "two",
        "two",
    ]

    listed = pit("--temporal", dev_server, "dag", "list", "--json", cwd=tmp_path)
    states = {run["run_id"]: run["status"] for run in json.loads(listed.stdout)}
    assert (states["flow-1"], states["flow-1-r1"]) == ("failed", "succeeded")  # status's words
    lines = pit("--temporal", dev_server, "dag", "list", cwd=tmp_path).stdout.splitlines()
    assert any(line.split()[:2] == ["flow-1-r1", "succeeded"] for line in lines), lines


def _status_json(dev_server: str, run_id: str, cwd: Path) -> tuple[int, dict]:
    shown = pit("--temporal", dev_server, "dag", "status", run_id, "--json", cwd=cwd)
    return shown.returncode, json.loads(shown.stdout) if shown.stdout else {}


def test_a_run_terminated_by_temporal_is_reported_terminated_and_resumes_reusing_what_succeeded(
    dev_server: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.touch()
    log = tmp_path / "log.jsonl"
    dag = tmp_path / "term.yaml"
    dag.write_text(
        "name: term\nnodes:\n"
        f"  - {{id: one, activity: test.gate, inputs: {{node: one, log: '{log}', blocker: '{tmp_path}/no'}}}}\n"
        f"  - {{id: two, activity: test.gate, depends_on: [one], retry: {{max_attempts: 1000, backoff_coefficient: 1}}, inputs: {{node: two, log: '{log}', blocker: '{blocker}'}}}}\n"
    )
    started = pit(
        "--temporal", dev_server, "run", str(dag), "--id", "term-1", "--no-wait", cwd=tmp_path
    )
    assert started.returncode == 0, started.stderr
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until `one` succeeded and `two` keeps failing
        code, status = _status_json(dev_server, "term-1", tmp_path)
        if [e["node"] for e in read_log(log)].count("two") >= 2:
            break
        time.sleep(0.3)
    assert code == 0 and status["status"] == "running"
    assert status["nodes"]["one"]["state"] == "succeeded"

    async def terminate() -> None:
        client = await Client.connect(dev_server)
        await client.get_workflow_handle("term-1").terminate(reason="operator gave up")

    asyncio.run(terminate())

    shown = pit("--temporal", dev_server, "dag", "status", "term-1", cwd=tmp_path)
    assert shown.returncode == 1, shown.stderr
    assert "term-1: terminated" in shown.stdout
    assert "operator gave up" in shown.stdout
    code, status = _status_json(dev_server, "term-1", tmp_path)
    assert code == 1 and status["status"] == "terminated"
    assert status["nodes"]["two"]["state"] == "cancelled"
    assert status["progress"]["eta_seconds"] is None
    listed = pit("--temporal", dev_server, "dag", "list", "--json", cwd=tmp_path)
    assert {r["run_id"]: r["status"] for r in json.loads(listed.stdout)}["term-1"] == "terminated"

    blocker.unlink()
    runs_of_one = [e["node"] for e in read_log(log)].count("one")
    resumed = pit("--temporal", dev_server, "dag", "resume", "term-1", "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    document = json.loads(resumed.stdout)
    assert document["run_id"] == "term-1-r1" and document["status"] == "succeeded"
    assert "reused from run term-1" in document["nodes"]["one"]["reason"]
    assert [e["node"] for e in read_log(log)].count("one") == runs_of_one  # not run again

    again = pit("--temporal", dev_server, "dag", "resume", "term-1", "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["run_id"] == "term-1-r2"  # -r1 is taken


def test_no_wait_then_cancel(dev_server: str, tmp_path: Path) -> None:
    dag = tmp_path / "long.yaml"
    dag.write_text(
        "name: long\nnodes:\n  - {id: nap, activity: pit.sleep, heartbeat: 2s, inputs: {seconds: 60}}\n"
    )
    started = pit(
        "--temporal",
        dev_server,
        "run",
        str(dag),
        "--id",
        "long-1",
        "--no-wait",
        "--json",
        cwd=tmp_path,
    )
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["run_id"] == "long-1"
    assert pit("--temporal", dev_server, "dag", "cancel", "long-1", cwd=tmp_path).returncode == 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = pit("--temporal", dev_server, "dag", "status", "long-1", "--json", cwd=tmp_path)
        if json.loads(shown.stdout)["status"] == "cancelled":
            break
        time.sleep(0.5)
    assert json.loads(shown.stdout)["nodes"]["nap"]["state"] == "cancelled"
    listed = pit("--temporal", dev_server, "dag", "list", "--json", cwd=tmp_path)
    assert {r["run_id"]: r["status"] for r in json.loads(listed.stdout)}["long-1"] == "cancelled"


def test_unknown_run_is_a_clear_not_found(dev_server: str, tmp_path: Path) -> None:
    result = pit("--temporal", dev_server, "dag", "status", "no-such-run", cwd=tmp_path)
    assert result.returncode == 2
    assert "no DAG run 'no-such-run'" in result.stderr


def _refused(result: subprocess.CompletedProcess[str], home: Path) -> str:
    """The one line a refused command printed, after checking it started nothing."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pit: error: "), result.stderr
    assert lines[0].isprintable() and "Traceback" not in result.stderr
    assert not (home / ".pit").exists(), "a refused run started the embedded server"
    return lines[0]


def test_a_100000_node_dag_is_refused_up_front_naming_the_limit(tmp_path: Path) -> None:
    nodes = [{"id": f"n{i}", "activity": "pit.echo"} for i in range(100_000)]
    dag = tmp_path / "huge.json"
    dag.write_text(json.dumps({"name": "huge", "nodes": nodes}))
    line = _refused(pit("run", str(dag), "--no-wait", cwd=tmp_path), tmp_path)
    assert line == (
        "pit: error: nodes: 100000 nodes: over the limit of 20,000 per DAG (child graphs' "
        "nodes count too): split the work into several runs"
    )


def test_a_50_mb_node_input_is_refused_up_front_naming_the_limit(tmp_path: Path) -> None:
    for suffix, opening, closing, limit in (
        (
            ".yaml",
            "name: fat\nnodes:\n  - {id: a, activity: pit.echo, inputs: {blob: '",
            "'}}\n",
            1,
        ),
        (
            ".json",
            '{"name": "fat", "nodes": [{"id": "a", "activity": "pit.echo", "inputs": {"blob": "',
            '"}}]}',
            16,
        ),
    ):
        dag = tmp_path / f"fat{suffix}"
        with dag.open("w") as handle:
            handle.write(opening)
            for _ in range(50):
                handle.write("x" * 1024 * 1024)
            handle.write(closing)
        line = _refused(pit("run", str(dag), cwd=tmp_path), tmp_path)
        assert f"is larger than {limit} MiB, the limit for this kind of file" in line
    dag = tmp_path / "fat.yaml"
    dag.write_text(
        "name: fat\nnodes:\n  - {id: a, activity: pit.echo, inputs: {blob: '"
        + "x" * 100_000
        + "'}}\n"
    )
    line = _refused(pit("run", str(dag), cwd=tmp_path), tmp_path)
    assert line.startswith("pit: error: nodes[0].inputs: {...}: 97.7 KiB of JSON, over the limit")


def test_names_and_run_ids_with_control_characters_or_too_long_are_refused(
    tmp_path: Path,
) -> None:
    dag = tmp_path / "named.yaml"
    dag.write_text('name: "a\\0b\\nc"\nnodes:\n  - {id: a, activity: pit.echo}\n')
    line = _refused(pit("run", str(dag), cwd=tmp_path), tmp_path)
    assert line.startswith("pit: error: name: 'a\\x00b\\nc': 1 to 100 characters")
    dag.write_text("name: fine\nnodes:\n  - {id: a, activity: pit.echo}\n")
    for bad in ("x" * 2000, "two\nlines", "tab\there"):
        line = _refused(pit("run", str(dag), "--id", bad, cwd=tmp_path), tmp_path)
        assert line.startswith("pit: error: --id: ") and "1 to 128 characters" in line
        for command in (("dag", "status", bad), ("dag", "cancel", bad), ("dag", "resume", bad)):
            line = _refused(pit(*command, cwd=tmp_path), tmp_path)
            assert line.startswith("pit: error: RUN_ID: "), line
    line = _refused(pit("dag", "resume", "fine-1", "--id", "x" * 129, cwd=tmp_path), tmp_path)
    assert line.startswith("pit: error: --id: ")


def test_pit_run_on_a_queue_no_worker_polls_says_so_and_keeps_waiting(
    dev_server: str, tmp_path: Path
) -> None:
    dag = tmp_path / "alone.yaml"
    dag.write_text("name: alone\nnodes:\n  - {id: a, activity: pit.echo}\n")
    env = {**_env(), "PIT_TEMPORAL__TASK_QUEUE": "nobody-polls-this"}
    command = [sys.executable, "-m", "pit", "--temporal", dev_server, "run", str(dag)]
    command += ["--id", "alone-1"]
    with subprocess.Popen(
        command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as waiting:
        try:
            assert waiting.stderr is not None
            line = waiting.stderr.readline()  # blocks until the notice (or the end)
            assert "no worker polls task queue 'nobody-polls-this'" in line, line
            assert "still waiting" in line
            time.sleep(1)
            assert waiting.poll() is None  # it keeps waiting
        finally:
            waiting.kill()
    cancelled = pit("--temporal", dev_server, "dag", "cancel", "alone-1", cwd=tmp_path)
    assert cancelled.returncode == 0, cancelled.stderr
