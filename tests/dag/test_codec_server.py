"""`pit codec-server`: Temporal's own CLI shows a claim-checked result through it, and it
answers nobody else: not another browser origin, not without the token, not another
namespace."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client

from pit.client import PitClient
from pit.common.config import load_settings
from pit.dag.status import RunState
from pit.infra.temporal.claim_check import payload_claim
from pit.infra.temporal.devserver import temporal_binary
from pit.workers import build_worker, codec_server

pytestmark = pytest.mark.integration

UI = "http://127.0.0.1:8233"
TOKEN = "s3cret-token"
MARK = "claim-checked-and-back"


def _results(history_json: str) -> dict[str, bytes]:
    """The decoded result payloads (those that are JSON) of `temporal workflow show` output."""
    found: dict[str, bytes] = {}
    for event in json.loads(history_json)["events"]:
        for key, attributes in event.items():
            if not key.endswith("EventAttributes") or "result" not in attributes:
                continue
            payload = attributes["result"]["payloads"][0]
            if base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain":
                found[key[0].upper() + key[1 : -len("EventAttributes")]] = base64.b64decode(
                    payload["data"]
                )
    return found


def _post(
    url: str, body: bytes, headers: dict[str, str], method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def test_temporal_workflow_show_reads_a_claim_checked_result_through_the_codec_server(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    address = temporal_client.service_client.config.target_host
    settings = load_settings(
        environ={"PIT_CODEC__TOKEN": TOKEN},
        cwd=tmp_path,
        overrides={"state_dir": str(tmp_path / ".pit"), "temporal.address": address},
    )
    big = MARK + "z" * (300 * 1024)
    dag = {"name": "big-result", "nodes": [{"id": "echo", "activity": "pit.echo"}]}
    dag["nodes"][0]["inputs"] = {"text": "${inputs.text}"}
    async with await PitClient.connect(settings) as pit:
        assert pit.temporal is not None
        async with build_worker(pit.temporal, settings, task_queue=task_queue):
            handle = await pit.runs.start(dag, inputs={"text": big}, task_queue=task_queue)
            status = await asyncio.wait_for(handle.result(), 60)
    assert status.status is RunState.SUCCEEDED
    history = await temporal_client.get_workflow_handle(handle.id).fetch_history()
    completed = [
        e for e in history.events if e.HasField("activity_task_completed_event_attributes")
    ]
    reference = completed[0].activity_task_completed_event_attributes.result.payloads[0]
    assert payload_claim(reference) is not None  # history holds a reference, not the bytes

    def show(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                *(str(temporal_binary()), "workflow", "show", "-w", handle.id),
                *("--address", address, "--namespace", temporal_client.namespace),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )

    async with codec_server(settings, origins=[UI], port=0) as url:
        assert url.startswith("http://127.0.0.1:")
        plain = await asyncio.to_thread(show, "--output", "json")
        decoded = await asyncio.to_thread(
            show, "--output", "json", "--codec-endpoint", url, "--codec-auth", f"Bearer {TOKEN}"
        )
        refused = await asyncio.to_thread(show, "--codec-endpoint", url)
        body = json_format.MessageToJson(Payloads(payloads=[reference])).encode()
        asked = {"Content-Type": "application/json", "X-Namespace": temporal_client.namespace}
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        from_ui = await asyncio.to_thread(
            _post, f"{url}/download", body, {**asked, **bearer, "Origin": UI}
        )
        elsewhere = await asyncio.to_thread(
            _post, f"{url}/download", body, {**asked, **bearer, "Origin": "https://evil.example"}
        )
        no_token = await asyncio.to_thread(_post, f"{url}/download", body, asked)
        wrong_token = await asyncio.to_thread(
            _post, f"{url}/download", body, {**asked, "Authorization": "Bearer guess"}
        )
        other_namespace = await asyncio.to_thread(
            _post, f"{url}/download", body, {**asked, **bearer, "X-Namespace": "payroll"}
        )
        preflight = await asyncio.to_thread(
            _post,
            f"{url}/decode",
            b"",
            {"Origin": UI, "Access-Control-Request-Method": "POST"},
            "OPTIONS",
        )
    # without the codec, history shows references; through it, the payloads themselves
    assert plain.returncode == 0 and decoded.returncode == 0, plain.stderr + decoded.stderr
    assert _results(plain.stdout) == {}
    shown = _results(decoded.stdout)
    assert json.loads(shown["ActivityTaskCompleted"])["pit.output"] == {"text": big}
    assert json.loads(shown["WorkflowExecutionCompleted"])["nodes"]["echo"]["output"] == {
        "text": big
    }
    assert MARK not in refused.stdout + refused.stderr  # no token: nothing decoded

    status_code, headers, answer = from_ui
    assert status_code == 200 and headers["Access-Control-Allow-Origin"] == UI
    payload = json_format.Parse(answer, Payloads()).payloads[0]
    assert json.loads(payload.data) == {"pit.output": {"text": big}, "pit.attempt": 1}
    assert elsewhere[0] == 403 and "Access-Control-Allow-Origin" not in elsewhere[1]
    assert no_token[0] == 401 and wrong_token[0] == 401
    assert other_namespace[0] == 403 and b"payroll" in other_namespace[2]
    assert preflight[0] == 204 and preflight[1]["Access-Control-Allow-Origin"] == UI
    assert "Authorization" in preflight[1]["Access-Control-Allow-Headers"]
