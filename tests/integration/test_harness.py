"""The harness itself: each fixture starts a real server that answers."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from pit.activities import BUILTIN_ACTIVITIES
from pit.common.check import CheckInput
from pit.workflows import CheckWorkflow

pytestmark = pytest.mark.integration


async def test_dev_server_runs_a_workflow(temporal_client: Client, task_queue: str) -> None:
    async with Worker(
        temporal_client,
        task_queue=task_queue,
        workflows=[CheckWorkflow],
        activities=list(BUILTIN_ACTIVITIES),
    ):
        result = await temporal_client.execute_workflow(
            CheckWorkflow.run,
            CheckInput(message="ping"),
            id=f"wf-{task_queue}",
            task_queue=task_queue,
        )
    assert result.echoed == "ping"


async def test_time_skipping_server_skips_timers(time_skipping_env: WorkflowEnvironment) -> None:
    before = await time_skipping_env.get_current_time()
    await time_skipping_env.sleep(timedelta(days=3))
    after = await time_skipping_env.get_current_time()
    assert after - before >= timedelta(days=3)


def test_moto_server_stores_objects_seen_by_a_second_client(s3_endpoint: str) -> None:
    writer = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    writer.create_bucket(Bucket="harness")
    writer.put_object(Bucket="harness", Key="k", Body=b"bytes")
    reader = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    assert reader.get_object(Bucket="harness", Key="k")["Body"].read() == b"bytes"
