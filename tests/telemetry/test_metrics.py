"""`pit worker --metrics-port`: a DAG run through a worker in its own process, then its
Prometheus endpoint scraped: the Pit's documented metrics and the Temporal SDK's, with the
labels and counts the run implies, and no label that grows with the work (run ids, names)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from pit.client.runs import start_run
from pit.common.config import load_settings
from pit.common.metrics import DAG_NODE_DURATION, PIT_METRICS, MetricKind
from pit.dag.graph import parse_dag
from pit.dag.status import NodeState, RunState
from pit.infra.temporal.devserver import free_port
from pit.workers import PitPlugin

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

Sample = tuple[str, dict[str, str], float]
_LINE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')


def parse(text: str) -> list[Sample]:
    """Samples of a Prometheus text page (what a scraper reads; comments skipped)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        assert match, f"not a sample line: {line!r}"
        labels = {m["key"]: m["value"] for m in _LABEL.finditer(match["labels"] or "")}
        samples.append((match["name"], labels, float(match["value"])))
    return samples


def scrape(url: str) -> list[Sample]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as response:
        return parse(response.read().decode())


def values(samples: list[Sample], name: str, **labels: str) -> list[float]:
    return [v for n, got, v in samples if n == name and labels.items() <= got.items()]


@pytest.fixture
def metrics_worker(temporal_client: Client, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """`pit worker --metrics-port` on a queue of its own, hosting one simulated model; yields
    the queue, the metrics URL and the worker's log."""
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    port = free_port()
    (tmp_path / "models.yaml").write_text("- {id: embed, memory_bytes: 1GiB, load_seconds: 0.1}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "PIT_POOL__MODELS_FILE": str(tmp_path / "models.yaml"),
        "PIT_POOL__HOST": f"host-{queue}",
        "PIT_POOL__PUBLISH_INTERVAL": "200ms",
    }
    log = tmp_path / "worker.log"
    address = temporal_client.service_client.config.target_host
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [
                *(sys.executable, "-m", "pit", "--temporal", address),
                *("--state-dir", str(tmp_path / "state"), "worker", "--task-queue", queue),
                *("--activities", "tests.dag.support:ACTIVITIES", "--metrics-port", str(port)),
            ],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield queue, f"http://127.0.0.1:{port}/metrics", log
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


def wait_for(url: str, log: Path, check: Any, timeout: float = 60) -> list[Sample]:
    """Scrape until `check(samples)` holds (poll with a deadline: series appear as they are
    recorded, pool ones at the sampler's next second)."""
    deadline = time.monotonic() + timeout
    samples: list[Sample] = []
    while time.monotonic() < deadline:
        try:
            samples = scrape(url)
        except (urllib.error.URLError, ConnectionError):
            samples = []
        if samples and check(samples):
            return samples
        time.sleep(0.2)
    said = log.read_text()[-3000:] if log.exists() else ""
    raise AssertionError(f"metrics never held; worker log:\n{said}")


def dag(domain: str) -> dict[str, Any]:
    return {
        "name": "metered",
        "arbiter": {"domain": domain, "config": {"resources": {"gpu0.mem": "10GB"}}},
        "nodes": [
            {"id": "embed1", "activity": "pit.echo", "model": "embed", "inputs": {"x": 1}},
            {
                "id": "embed2",
                "activity": "pit.echo",
                "model": "embed",
                "depends_on": ["embed1"],
                "inputs": {"x": 2},
            },
            {
                "id": "keep",
                "activity": "pit.artifacts.put",
                "inputs": {"name": "notes/metered.txt", "text": "twelve bytes"},
            },
            {"id": "read", "activity": "pit.artifacts.get", "inputs": "${nodes.keep.output}"},
            *(
                {
                    "id": f"gpu{i}",
                    "activity": "test.record",
                    "resources": {"gpu0.mem": "6GB"},
                    "inputs": {"node": f"gpu{i}", "log": os.devnull, "seconds": 0.3},
                }
                for i in (1, 2)
            ),
            {
                "id": "broken",
                "activity": "test.flaky",
                "retry": {"max_attempts": 2, "initial_interval": "100ms"},
                "inputs": {},
            },
        ],
    }


async def test_a_worker_with_a_metrics_port_serves_pit_and_sdk_metrics(
    temporal_client: Client, metrics_worker: tuple[str, str, Path]
) -> None:
    queue, url, log = metrics_worker
    # the pool host has sampled once: the model is known before any node asks for it
    await asyncio.to_thread(wait_for, url, log, lambda s: values(s, "pit_pool_models"))
    domain = f"m-{queue}"
    handle = await start_run(temporal_client, parse_dag(dag(domain)), task_queue=queue)
    status = await asyncio.wait_for(handle.result(), 90)
    assert status.status is RunState.FAILED  # `broken` fails; everything else succeeded
    assert status.nodes["broken"].state is NodeState.FAILED
    assert all(n.state is NodeState.SUCCEEDED for k, n in status.nodes.items() if k != "broken")
    duration = "pit_dag_node_duration_seconds_count"

    def complete(samples: list[Sample]) -> bool:
        return (
            sum(values(samples, duration)) == 8  # 7 nodes, `broken` twice
            and sum(values(samples, "pit_pool_hits_total")) >= 1
            and bool(values(samples, "pit_arbiter_wait_seconds_count", domain=domain))
        )

    samples = await asyncio.to_thread(wait_for, url, log, complete)

    # every DAG node attempt, by activity and outcome
    assert values(samples, duration, activity="pit.echo", outcome="succeeded") == [2]
    assert values(samples, duration, activity="test.record", outcome="succeeded") == [2]
    assert values(samples, duration, activity="test.flaky", outcome="failed") == [2]
    assert values(samples, duration, activity="pit.artifacts.put", outcome="succeeded") == [1]
    buckets = values(samples, "pit_dag_node_duration_seconds_bucket", activity="test.record")
    assert len(buckets) == 17 and buckets[-1] == 2  # the documented buckets and +Inf
    # the pool: one cold start, then a hit, one GiB held on the accelerator
    assert values(samples, "pit_pool_cold_starts_total", model="embed") == [1]
    assert values(samples, "pit_pool_hits_total", model="embed") == [1]
    assert values(samples, "pit_pool_memory_bytes", tier="accelerator") == [1024**3]
    assert values(samples, "pit_pool_models", state="hot") == [1]
    # the arbiter: two grants, the second after the first was released; nobody waits now
    assert values(samples, "pit_arbiter_wait_seconds_count", domain=domain) == [2]
    assert values(samples, "pit_arbiter_wait_seconds_sum", domain=domain)[0] > 0
    assert values(samples, "pit_arbiter_waiting", domain=domain) == [0]
    # artifacts: the version's bytes once written, once read
    assert values(samples, "pit_artifact_bytes_total", operation="put") == [12]
    assert values(samples, "pit_artifact_bytes_total", operation="get") == [12]
    assert values(samples, "pit_artifact_operations_total", operation="put", outcome="ok") == [1]

    # the SDK's own, labelled by activity type and task queue
    sdk = "temporal_activity_execution_latency_seconds_count"
    assert values(samples, sdk, activity_type="test.flaky", task_queue=queue) == [2]
    assert values(samples, "temporal_activity_execution_failed_total", activity_type="test.flaky")
    assert values(samples, "temporal_workflow_completed_total") or values(
        samples, "temporal_workflow_failed_total", workflow_type="pit.dag"
    )
    assert values(samples, "temporal_worker_task_slots_available", task_queue=queue)

    # every documented metric is there, with exactly its documented labels (and the SDK's
    # fixed ones), never a label that names a run, a node or an artifact
    sdk_labels = {"service_name", "namespace", "task_queue", "workflow_type", "le"}
    for spec in PIT_METRICS:
        name = spec.name + ("_count" if spec.kind is MetricKind.HISTOGRAM else "")
        found = [labels for n, labels, _ in samples if n == name]
        assert found, f"{spec.name} missing"
        for labels in found:
            assert set(spec.labels) <= labels.keys() <= set(spec.labels) | sdk_labels, labels
    run_id = handle.id
    assert not [line for line in map(str, samples) if run_id in line or "metered" in line]

    # the compose stack's Grafana dashboard reads only names a worker serves
    names = {name for name, _, _ in samples}
    for wanted in dashboard_metrics() - {"up", *ONLY_AFTER_A_FAILURE}:
        assert wanted in names, f"the dashboard reads {wanted}, which no worker serves"


ONLY_AFTER_A_FAILURE = {"temporal_workflow_task_execution_failed_total"}
"""Series the SDK creates at their first count: this run fails no workflow task."""


def dashboard_metrics() -> set[str]:
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/pit-workers.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    return {m for e in expressions for m in re.findall(r"([a-z_]+)\{", e)}


async def test_your_own_worker_with_the_pit_plugin_records_pit_metrics_through_its_runtime(
    temporal_client: Client, tmp_path: Path
) -> None:
    port = free_port()
    runtime = Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}"))
    )
    settings = load_settings(environ={}, cwd=tmp_path)
    client = await Client.connect(
        address(temporal_client), plugins=[PitPlugin(settings)], runtime=runtime
    )
    queue = f"own-{uuid.uuid4().hex[:8]}"
    graph = {"name": "own", "nodes": [{"id": "a", "activity": "pit.echo", "inputs": {}}]}
    async with Worker(client, task_queue=queue):
        handle = await start_run(client, parse_dag(graph), task_queue=queue)
        assert (await asyncio.wait_for(handle.result(), 60)).status is RunState.SUCCEEDED
        url = f"http://127.0.0.1:{port}/metrics"
        samples = await asyncio.to_thread(
            wait_for,
            url,
            tmp_path / "none",
            lambda s: values(s, "pit_dag_node_duration_seconds_count"),
        )
    labels = {"activity": "pit.echo", "outcome": "succeeded"}
    assert values(samples, "pit_dag_node_duration_seconds_count", **labels) == [1]
    # once the worker stopped, the Pit's instruments record nothing more
    assert not DAG_NODE_DURATION.bound


def address(client: Client) -> str:
    return client.service_client.config.target_host
