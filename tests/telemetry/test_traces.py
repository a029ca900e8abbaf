"""Traces: with tracing on, one DAG run started through a `PitClient` is one trace, from the
client's start through the workflow to a span per node (and the artifact spans inside)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pytest_httpserver import HTTPServer
from temporalio.client import Client

from pit.arbitration import ArbiterConfig
from pit.arbitration.protocol import ArbiterInput, arbiter_workflow_id
from pit.client import PitClient
from pit.common.config import Settings, load_settings
from pit.dag.status import RunState
from pit.infra.telemetry import Tracing, start_tracing
from pit.workers import build_worker

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

DAG = {
    "name": "traced",
    "nodes": [
        {"id": "hello", "activity": "pit.echo", "inputs": {"x": 1}},
        {"id": "keep", "activity": "pit.artifacts.put", "inputs": {"name": "t.txt", "text": "x"}},
        {"id": "read", "activity": "pit.artifacts.get", "inputs": "${nodes.keep.output}"},
        {"id": "bye", "activity": "pit.echo", "depends_on": ["hello"], "inputs": {"x": 2}},
    ],
}


@pytest.fixture
def exporter() -> Iterator[tuple[InMemorySpanExporter, Tracing]]:
    """This process traced into memory while the test runs (tracing is process-wide)."""
    spans = InMemorySpanExporter()
    tracing = start_tracing(
        load_settings(environ={}).telemetry,
        processor=SimpleSpanProcessor(spans),
        set_global=False,
    )
    assert tracing is not None
    try:
        yield spans, tracing
    finally:
        tracing.close()


def _settings(client: Client, tmp_path: Path) -> Settings:
    return load_settings(
        environ={
            "PIT_TEMPORAL__ADDRESS": client.service_client.config.target_host,
            "PIT_TEMPORAL__TASK_QUEUE": f"traced-{uuid.uuid4().hex[:8]}",
        },
        cwd=tmp_path,
    )


async def test_one_dag_run_is_one_trace_with_a_span_per_node(
    temporal_client: Client,
    tmp_path: Path,
    exporter: tuple[InMemorySpanExporter, Tracing],
) -> None:
    spans, _ = exporter
    settings = _settings(temporal_client, tmp_path)
    async with await PitClient.connect(settings) as pit:
        assert pit.temporal is not None
        async with build_worker(pit.temporal, settings):
            handle = await pit.runs.start(DAG)
            status = await asyncio.wait_for(handle.result(), 60)
    assert status.status is RunState.SUCCEEDED

    finished = spans.get_finished_spans()
    assert len({span.context.trace_id for span in finished}) == 1, "one run, one trace"
    names = Counter(span.name for span in finished)
    assert names["StartWorkflow:pit.dag"] == 1
    assert names["RunWorkflow:pit.dag"] >= 1
    nodes = [span for span in finished if span.name == "pit.dag.node"]
    assert sorted(str((span.attributes or {})["pit.node"]) for span in nodes) == sorted(
        node["id"] for node in DAG["nodes"]
    )
    by_id = {span.context.span_id: span for span in finished}
    for node in nodes:
        # each node's span sits under the SDK's span of the activity that ran it
        assert node.parent is not None
        assert by_id[node.parent.span_id].name.startswith("RunActivity:")
    # the store's own work shows inside the nodes that did it
    put = next(span for span in finished if span.name == "pit.artifacts.put")
    assert put.parent is not None
    keep = by_id[put.parent.span_id]
    assert keep.name == "pit.dag.node" and (keep.attributes or {})["pit.node"] == "keep"


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)


def _pit(args: list[str], tmp_path: Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    env |= {"PYTHONPATH": str(ROOT), "PIT_TELEMETRY__OTLP_ENDPOINT": endpoint}
    return subprocess.run(
        [sys.executable, "-m", "pit", "--state-dir", str(tmp_path), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_command_sends_its_spans_to_the_collector_before_it_exits(
    temporal_client: Client, tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/traces", method="POST").respond_with_data(b"", status=200)
    (tmp_path / "dag.json").write_text(json.dumps(DAG))
    where = ["--temporal", temporal_client.service_client.config.target_host]
    done = _pit([*where, "run", "dag.json", "--no-wait"], tmp_path, httpserver.url_for("/"))
    assert done.returncode == 0, done.stderr
    posted = [request for request, _ in httpserver.log if request.path == "/v1/traces"]
    assert posted, "no spans reached the collector"
    sent = ExportTraceServiceRequest.FromString(posted[0].get_data())
    names = [
        span.name
        for resource in sent.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    assert "StartWorkflow:pit.dag" in names
    service = {a.key: a.value.string_value for a in sent.resource_spans[0].resource.attributes}
    assert service["service.name"] == "pit"


def test_a_collector_that_does_not_answer_costs_seconds_not_the_command(
    temporal_client: Client, tmp_path: Path
) -> None:
    (tmp_path / "dag.json").write_text(json.dumps(DAG))
    where = ["--temporal", temporal_client.service_client.config.target_host]
    with socket.socket() as silent:  # takes connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        collector = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        done = _pit([*where, "run", "dag.json", "--no-wait"], tmp_path, collector)
        took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert took < 30, took


async def test_a_program_waiting_for_a_grant_is_one_span_under_its_own(
    temporal_client: Client,
    tmp_path: Path,
    exporter: tuple[InMemorySpanExporter, Tracing],
) -> None:
    spans, tracing = exporter
    settings = _settings(temporal_client, tmp_path)
    domain = f"traced-{uuid.uuid4().hex[:8]}"
    config = ArbiterConfig.model_validate({"resources": {"slots": 1}})
    async with await PitClient.connect(settings) as pit:
        assert pit.temporal is not None
        async with build_worker(pit.temporal, settings):
            await pit.arbiter.ensure(ArbiterInput(domain=domain, config=config))
            with tracing.tracer.start_as_current_span("my program"):
                async with pit.arbiter.hold(domain, {"slots": 1}, request_id="job-1"):
                    pass
            await pit.temporal.get_workflow_handle(arbiter_workflow_id(domain)).terminate()
    finished = spans.get_finished_spans()
    wait = next(span for span in finished if span.name == "pit.arbiter.wait")
    assert dict(wait.attributes or {}) == {"pit.domain": domain, "pit.request": "job-1"}
    program = next(span for span in finished if span.name == "my program")
    assert wait.parent is not None and wait.parent.span_id == program.context.span_id
