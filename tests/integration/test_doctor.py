"""`pit doctor` against a healthy dev server, a namespace whose search attributes are missing
or of the wrong type, a namespace that does not exist, a store its user cannot write, and a
Temporal that does not answer: one line per check, and the exit code the failure earns."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError

from pit.cli import run
from pit.infra.temporal.devserver import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def doctor(
    capsys: pytest.CaptureFixture[str], *args: str, as_json: bool = False
) -> tuple[int, Any]:
    code = run([*args, "doctor", *(["--json"] if as_json else [])])
    out = capsys.readouterr().out
    return code, json.loads(out) if as_json else out.splitlines()


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["status"] for check in report["checks"]}


def address(client: Client) -> str:
    return client.service_client.config.target_host


def test_a_healthy_deployment_passes_every_check(
    temporal_client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = doctor(
        capsys, "--temporal", address(temporal_client), "--state-dir", str(tmp_path)
    )
    assert code == 0, lines
    names = [line.split(":", 1)[0].split(None, 1)[1] for line in lines]
    assert names == [
        "temporal",
        "namespace",
        "search attribute PitKind",
        "search attribute PitDag",
        "search attribute PitNodes",
        "search attribute PitProgress",
        "store",
        "index",
        "versions",
    ]
    assert all(line.startswith("ok ") for line in lines)
    assert "server 1." in lines[-1] and "temporalio SDK 1." in lines[-1]
    # the probe blob is gone again: the store holds nothing it did not hold before
    assert not [p for p in (tmp_path / "artifacts").rglob("*") if p.is_file()]


async def _namespace_with_a_wrong_attribute(client: Client) -> str:
    """A new namespace where PitKind is Text (the Pit writes Keyword) and the others are
    missing, once the server answers for it."""
    namespace = f"doctor-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace)
            )
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=namespace,
                    search_attributes={"PitKind": IndexedValueType.INDEXED_VALUE_TYPE_TEXT},
                )
            )
            return namespace
        except RPCError:
            assert time.monotonic() < deadline, "the new namespace never answered"
            await asyncio.sleep(0.2)


def test_missing_and_mistyped_search_attributes_fail_with_the_fix(
    temporal_client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = asyncio.run(_namespace_with_a_wrong_attribute(temporal_client))
    where = ["--temporal", address(temporal_client), "--state-dir", str(tmp_path)]
    code, report = doctor(capsys, *where, "--namespace", namespace, as_json=True)
    assert code == 1 and report["exit_code"] == 1 and report["ok"] is False
    checks = {check["name"]: check for check in report["checks"]}
    assert statuses(report) == {
        "temporal": "ok",
        "namespace": "ok",
        "search attribute PitKind": "failed",
        "search attribute PitDag": "failed",
        "search attribute PitNodes": "failed",
        "search attribute PitProgress": "failed",
        "store": "ok",
        "index": "ok",
        "versions": "ok",
    }
    assert (
        "registered as Text; the Pit writes Keyword" in checks["search attribute PitKind"]["detail"]
    )
    assert checks["search attribute PitNodes"]["detail"] == (
        "not registered: `temporal operator search-attribute create --namespace "
        f"{namespace} --name PitNodes --type Int`"
    )


def test_a_namespace_that_does_not_exist_fails(
    temporal_client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--temporal", address(temporal_client), "--state-dir", str(tmp_path)]
    code, report = doctor(capsys, *where, "--namespace", "no-such-namespace", as_json=True)
    assert code == 1
    assert statuses(report)["namespace"] == "failed"
    assert "does not exist: create it with" in report["checks"][1]["detail"]


def test_an_unreachable_temporal_exits_3_and_still_checks_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    nowhere = f"127.0.0.1:{free_port()}"
    code, lines = doctor(capsys, "--temporal", nowhere, "--state-dir", str(tmp_path))
    assert code == 3
    assert time.monotonic() - started < 30  # the connect timeout, not a hang
    assert lines[0].startswith("unreachable  temporal: cannot reach " + nowhere)
    assert lines[1].startswith("skipped      namespace: ")
    assert [line.split()[0] for line in lines[3:]] == ["ok", "ok", "ok"]  # store, index, versions


WITHOUT_OVERRIDES = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
"""Root as an ordinary user sees files: the permission bits hold for it too."""


def test_a_store_its_user_cannot_write_fails(temporal_client: Client, tmp_path: Path) -> None:
    store, state = tmp_path / "store", tmp_path / "state"
    store.mkdir(mode=0o555)
    state.mkdir()
    as_root = os.geteuid() == 0
    if as_root and shutil.which("setpriv") is None:
        pytest.skip("root ignores permission bits and setpriv (util-linux) is not installed")
    done = subprocess.run(
        [
            *(WITHOUT_OVERRIDES if as_root else []),
            *(sys.executable, "-m", "pit", "--temporal", address(temporal_client)),
            *("--state-dir", str(state), "doctor"),
        ],
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(state),
            "PYTHONPATH": str(ROOT),
            "PIT_STORAGE__URL": str(store),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout + done.stderr
    store_line = next(line for line in lines if line.split()[1] == "store:")
    assert store_line.startswith("failed ") and "ermission denied" in store_line, store_line
    assert [line.split()[0] for line in lines if "store:" not in line] == ["ok"] * 8
    assert done.stderr == ""


def _s3_doctor(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    temporal_client: Client,
    tmp_path: Path,
    *,
    url: str,
    endpoint: str,
) -> tuple[int, dict[str, dict[str, str]]]:
    monkeypatch.setenv("PIT_STORAGE__URL", url)
    monkeypatch.setenv("PIT_STORAGE__S3_ENDPOINT", endpoint)
    monkeypatch.setenv("PIT_STORAGE__S3_REGION", "us-east-1")
    where = ["--temporal", address(temporal_client), "--state-dir", str(tmp_path)]
    code, report = doctor(capsys, *where, as_json=True)
    return code, {check["name"]: check for check in report["checks"]}


def test_an_s3_store_is_written_and_left_as_it_was(
    temporal_client: Client,
    tmp_path: Path,
    s3_endpoint: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="doctor")
    code, checks = _s3_doctor(
        capsys, monkeypatch, temporal_client, tmp_path, url="s3://doctor/pit", endpoint=s3_endpoint
    )
    assert code == 0, checks
    assert checks["store"]["detail"].startswith("s3://doctor/pit/: a probe blob was written")
    assert s3.list_objects_v2(Bucket="doctor").get("KeyCount", 0) == 0  # the probe is gone


def test_a_missing_bucket_fails_and_an_unreachable_s3_exits_3(
    temporal_client: Client,
    tmp_path: Path,
    s3_endpoint: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, checks = _s3_doctor(
        capsys, monkeypatch, temporal_client, tmp_path, url="s3://absent/pit", endpoint=s3_endpoint
    )
    assert code == 1 and checks["store"]["status"] == "failed", checks
    nowhere = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    code, checks = _s3_doctor(
        capsys, monkeypatch, temporal_client, tmp_path, url="s3://doctor/pit", endpoint=nowhere
    )
    assert code == 3 and checks["store"]["status"] == "unreachable", checks
    assert checks["temporal"]["status"] == "ok" and checks["index"]["status"] == "ok"
    assert time.monotonic() - started < 60
