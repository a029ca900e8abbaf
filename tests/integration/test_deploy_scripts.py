"""The scripts the compose stack runs, run here the way Docker runs them (a process with the
stack's environment) against the real dev server and moto's S3: the worker health check, the
S3 bucket step and the namespace / search-attribute step."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

import boto3
import pytest
from pytest_httpserver import HTTPServer
from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType, TaskQueueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from pit.infra.temporal.claim_check import worker_identity
from pit.infra.temporal.connect import DATA_CONVERTER
from pit.infra.temporal.devserver import free_port, temporal_binary
from pit.infra.temporal.search_attributes import PIT_SEARCH_ATTRIBUTES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


# unsandboxed: the sandbox re-imports this module, which resolves paths and imports boto3
@workflow.defn(name="test.deploy.noop", sandboxed=False)
class NoopWorkflow:
    @workflow.run
    async def run(self) -> None:
        return None


async def _run(argv: list[str], environment: Mapping[str, str]) -> tuple[int, str, str]:
    """Run `argv` with only these variables beside PATH and HOME (no PIT_* of the test
    process leaks in), without blocking the event loop the test's workers run on."""
    base = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    process = await asyncio.create_subprocess_exec(
        *argv,
        env={**base, **environment},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def _until_polled(client: Client, task_queue: str) -> None:
    for _ in range(100):
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        if response.pollers:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no poller on {task_queue} after 10 s")


async def _health(temporal_env: WorkflowEnvironment, task_queue: str) -> tuple[int, str, str]:
    return await _run(
        [sys.executable, str(DEPLOY / "worker/healthcheck.py")],
        {"PIT_TEMPORAL__ADDRESS": _address(temporal_env), "PIT_TEMPORAL__TASK_QUEUE": task_queue},
    )


# the worker health check


async def test_health_check_passes_while_a_worker_on_this_host_polls(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = temporal_env.client  # identity pid@hostname, as in a worker container
    # and as a Pit worker says it: naming its claim-check store after the SDK's identity
    identity = worker_identity(client.identity, "s3://pit/team/")
    async with Worker(client, task_queue=task_queue, workflows=[NoopWorkflow], identity=identity):
        await _until_polled(client, task_queue)
        code, out, _ = await _health(temporal_env, task_queue)
    assert code == 0, out
    assert out.startswith("healthy: ") and task_queue in out


async def test_health_check_fails_when_only_other_hosts_poll(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    elsewhere = await Client.connect(
        _address(temporal_env), identity="1@another-container", data_converter=DATA_CONVERTER
    )
    async with Worker(elsewhere, task_queue=task_queue, workflows=[NoopWorkflow]):
        await _until_polled(elsewhere, task_queue)
        code, out, err = await _health(temporal_env, task_queue)
    assert code == 1
    assert out.startswith("unhealthy: no worker on ") and err == ""


async def test_health_check_fails_in_one_line_when_temporal_is_unreachable() -> None:
    code, out, err = await _run(
        [sys.executable, str(DEPLOY / "worker/healthcheck.py")],
        {
            "PIT_TEMPORAL__ADDRESS": f"127.0.0.1:{free_port()}",
            "PIT_TEMPORAL__CONNECT_TIMEOUT": "2s",
        },
    )
    assert code == 1
    assert out.startswith("unhealthy: temporal: cannot reach 127.0.0.1:")
    assert len(out.splitlines()) == 1 and "Traceback" not in err


# the S3 bucket step


def _storage(endpoint: str, url: str) -> dict[str, str]:
    return {
        "PIT_STORAGE__URL": url,
        "PIT_STORAGE__S3_ENDPOINT": endpoint,
        "PIT_STORAGE__S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


async def _setup_storage(environment: Mapping[str, str]) -> tuple[int, str, str]:
    return await _run([sys.executable, str(DEPLOY / "worker/setup_storage.py")], environment)


async def test_storage_step_creates_the_bucket_once_and_leaves_nothing_in_it(
    s3_endpoint: str,
) -> None:
    environment = _storage(s3_endpoint, "s3://pit-artifacts/pit")
    first = await _setup_storage(environment)
    again = await _setup_storage(environment)
    assert first[0] == 0, first[2]
    assert "bucket created; conditional writes honoured" in first[1]
    assert again[0] == 0, again[2]
    assert "bucket exists; conditional writes honoured" in again[1]
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.head_bucket(Bucket="pit-artifacts")
    assert s3.list_objects_v2(Bucket="pit-artifacts").get("KeyCount") == 0  # probes removed


async def test_storage_step_refuses_a_server_that_ignores_if_none_match(
    httpserver: HTTPServer,
) -> None:
    # an S3 stand-in that accepts every write, as a server without conditional writes does
    httpserver.expect_request("/pit-artifacts", method="HEAD").respond_with_data("")
    httpserver.expect_request(re.compile("/pit-artifacts/.+"), method="PUT").respond_with_data(
        "", headers={"ETag": '"0"'}
    )
    httpserver.expect_request("/pit-artifacts", method="POST").respond_with_data(
        "<DeleteResult/>", content_type="application/xml"
    )
    endpoint = httpserver.url_for("/").rstrip("/")
    code, out, err = await _setup_storage(_storage(endpoint, "s3://pit-artifacts/pit"))
    assert code == 1 and out == ""
    assert "the S3 server ignores If-None-Match: *" in err
    assert len(err.splitlines()) == 1
    puts = [request for request, _ in httpserver.log if request.method == "PUT"]
    assert [request.headers.get("If-None-Match") for request in puts] == ["*", "*"]
    assert any(request.method == "POST" for request, _ in httpserver.log)  # probe deleted


async def test_storage_step_fails_in_one_line_when_s3_is_unreachable() -> None:
    code, out, err = await _setup_storage(
        _storage(f"http://127.0.0.1:{free_port()}", "s3://pit-artifacts/pit")
    )
    assert code == 3 and out == ""
    assert err.startswith("setup-storage: s3://pit-artifacts/pit/: ")
    assert len(err.splitlines()) == 1


async def test_storage_step_refuses_a_store_that_is_not_s3(tmp_path: Path) -> None:
    code, _, err = await _setup_storage(_storage("http://127.0.0.1:9", str(tmp_path / "store")))
    assert code == 2
    assert "storage.url" in err and "must be s3://bucket/prefix here" in err


# the namespace and search attribute step


async def _setup_namespace(env: WorkflowEnvironment, namespace: str) -> tuple[int, str, str]:
    return await _run(
        ["sh", str(DEPLOY / "temporal/setup-namespace.sh")],
        {
            "PATH": f"{temporal_binary().parent}{os.pathsep}{os.environ['PATH']}",
            "TEMPORAL_ADDRESS": _address(env),
            "NAMESPACE": namespace,
            "SETUP_PAUSE_SECONDS": "1",
        },
    )


async def test_namespace_step_registers_pit_search_attributes_and_can_run_again(
    temporal_env: WorkflowEnvironment,
) -> None:
    namespace = f"setup-{uuid.uuid4().hex[:12]}"
    first = await _setup_namespace(temporal_env, namespace)
    again = await _setup_namespace(temporal_env, namespace)
    assert first[0] == 0, first[2]
    assert f"created namespace {namespace}" in first[1]
    assert again[0] == 0, again[2]
    assert "created namespace" not in again[1]
    listed = await temporal_env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    assert {
        key.name: IndexedValueType.Name(listed.custom_attributes[key.name])
        for key in PIT_SEARCH_ATTRIBUTES
    } == {
        key.name: IndexedValueType.Name(int(key.indexed_value_type))
        for key in PIT_SEARCH_ATTRIBUTES
    }


async def test_namespace_step_fails_at_once_on_an_attribute_of_another_type(
    temporal_env: WorkflowEnvironment,
) -> None:
    namespace = f"setup-{uuid.uuid4().hex[:12]}"
    temporal = str(temporal_binary())
    address = ["--address", _address(temporal_env), "--namespace", namespace]
    made = await _run([temporal, "operator", "namespace", "create", *address], {})
    assert made[0] == 0, made[2]
    wrong = ["--name", "PitNodes", "--type", "Keyword"]
    added = await _run([temporal, "operator", "search-attribute", "create", *address, *wrong], {})
    assert added[0] == 0, added[2]
    code, _, err = await _setup_namespace(temporal_env, namespace)
    assert code == 1
    assert err.startswith("temporal-setup: ") and "PitNodes already exists" in err
    assert "different type Keyword" in err
