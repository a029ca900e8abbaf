"""The arbiter entity workflow on a real Temporal dev server, with a worker in the test."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.worker import Worker

from pit.arbitration import ArbiterConfig, Request
from pit.arbitration.protocol import AcquireRequest
from pit.cli import run
from pit.client.arbiter import (
    ArbiterInput,
    acquire_grant,
    arbiter_status,
    arbiter_workflow_id,
    ensure_arbiter,
    release_grant,
    renew_grant,
)
from pit.common.errors import CapacityError
from pit.workflows.arbiter import ArbiterWorkflow
from tests.arbitration.support import eventually

pytestmark = pytest.mark.integration

CONFIG = ArbiterConfig.model_validate(
    {
        "strategy": "priority",
        "resources": {"gpu0.mem": "80GB", "lock": {"capacity": 1, "exclusive": True}},
        "tenants": {"bob": {"quota": {"gpu0.mem": "40GB"}}},
    }
)


async def _waiters(client: Client, domain: str, count: int) -> bool:
    return len((await arbiter_status(client, domain)).waiters) == count


def _ask(rid: str, tenant: str = "alice", **demands: object) -> Request:
    return Request.model_validate({"id": rid, "tenant": tenant, "demands": demands or {"lock": 1}})


@pytest_asyncio.fixture
async def domain(temporal_client: Client, task_queue: str) -> AsyncIterator[str]:
    name = f"d{uuid.uuid4().hex[:8]}"
    async with Worker(temporal_client, task_queue=task_queue, workflows=[ArbiterWorkflow]):
        await ensure_arbiter(
            temporal_client,
            ArbiterInput(
                domain=name, config=CONFIG, lease=timedelta(minutes=5), continue_after_events=60
            ),
            task_queue=task_queue,
        )
        yield name
        await temporal_client.get_workflow_handle(arbiter_workflow_id(name)).terminate()


async def test_a_waiting_request_is_granted_when_the_holder_releases(
    temporal_client: Client, domain: str
) -> None:
    first = await acquire_grant(temporal_client, domain, _ask("first"))
    assert first.action == "grant" and first.lease_until is not None
    second = asyncio.create_task(acquire_grant(temporal_client, domain, _ask("second", "bob")))
    await eventually(lambda: _waiters(temporal_client, domain, 1))
    status = await arbiter_status(temporal_client, domain)
    assert [h.request for h in status.holders] == ["first"]
    assert [w.request for w in status.waiters] == ["second"]
    assert "exclusive_clash:lock" in status.conflicts
    assert await release_grant(temporal_client, domain, "first") is True
    granted = await asyncio.wait_for(second, timeout=20)
    assert granted.action == "grant" and granted.rationale is not None
    assert (await arbiter_status(temporal_client, domain)).holders[0].request == "second"


async def test_a_request_beyond_quota_is_rejected_with_the_reason(
    temporal_client: Client, domain: str
) -> None:
    with pytest.raises(CapacityError, match="quota"):
        await acquire_grant(temporal_client, domain, _ask("huge", "bob", **{"gpu0.mem": "50GB"}))


async def test_a_crashed_holders_grant_is_reclaimed_when_its_lease_expires(
    temporal_client: Client, domain: str
) -> None:
    await acquire_grant(temporal_client, domain, _ask("crashes"), lease=timedelta(seconds=1))
    assert await renew_grant(temporal_client, domain, "crashes") is not None
    # the holder never renews again nor releases: the waiting request gets the lock
    reply = await acquire_grant(
        temporal_client,
        domain,
        _ask("patient"),
        poll=timedelta(seconds=0.5),
        timeout=timedelta(seconds=20),
    )
    assert reply.action == "grant"
    assert await renew_grant(temporal_client, domain, "crashes") is None


async def test_the_ledger_survives_continue_as_new(temporal_client: Client, domain: str) -> None:
    handle = temporal_client.get_workflow_handle(arbiter_workflow_id(domain))
    first_run = (await handle.describe()).run_id
    await acquire_grant(temporal_client, domain, _ask("keeper", **{"gpu0.mem": "8GB"}))
    for index in range(12):
        rid = f"cycle{index}"
        await acquire_grant(temporal_client, domain, _ask(rid))
        await release_grant(temporal_client, domain, rid)
    assert (await handle.describe()).run_id != first_run
    status = await arbiter_status(temporal_client, domain)
    assert [h.request for h in status.holders] == ["keeper"]
    assert status.free["gpu0.mem"] == 72_000_000_000


async def test_pit_arbiter_status_prints_holders_as_json(
    temporal_client: Client,
    domain: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    await acquire_grant(temporal_client, domain, _ask("shown"))
    monkeypatch.chdir(tmp_path)
    address = temporal_client.service_client.config.target_host
    code = await asyncio.to_thread(
        run, ["--temporal", address, "arbiter", "status", "--domain", domain, "--json"]
    )
    assert code == 0
    status = json.loads(capsys.readouterr().out)
    assert [h["request"] for h in status["holders"]] == ["shown"]
    assert "gini" in status["fairness"]


async def test_asking_twice_with_one_id_is_one_request(
    temporal_client: Client, domain: str
) -> None:
    await acquire_grant(temporal_client, domain, _ask("holder"))
    handle = temporal_client.get_workflow_handle(arbiter_workflow_id(domain))
    ask = AcquireRequest(request=_ask("same"))
    for _ in range(2):
        assert (await handle.execute_update(ArbiterWorkflow.register, ask)).action == "wait"
    assert [w.request for w in (await arbiter_status(temporal_client, domain)).waiters] == ["same"]
    fast = timedelta(seconds=0.2)
    twice = [
        asyncio.create_task(acquire_grant(temporal_client, domain, _ask("same"), poll=fast))
        for _ in range(2)
    ]
    await release_grant(temporal_client, domain, "holder")
    replies = await asyncio.wait_for(asyncio.gather(*twice), timeout=20)
    assert [r.action for r in replies] == ["grant", "grant"]
    assert [h.request for h in (await arbiter_status(temporal_client, domain)).holders] == ["same"]


async def test_a_request_beyond_max_waiting_is_rejected_up_front(
    temporal_client: Client, task_queue: str
) -> None:
    name = f"w{uuid.uuid4().hex[:8]}"
    async with Worker(temporal_client, task_queue=task_queue, workflows=[ArbiterWorkflow]):
        inputs = ArbiterInput(domain=name, config=CONFIG, max_waiting=2)
        await ensure_arbiter(temporal_client, inputs, task_queue=task_queue)
        await acquire_grant(temporal_client, name, _ask("holder"))
        waiting = [
            asyncio.create_task(acquire_grant(temporal_client, name, _ask(rid)))
            for rid in ("w1", "w2")
        ]
        await eventually(lambda: _waiters(temporal_client, name, 2))
        with pytest.raises(
            CapacityError, match=r"2 requests are already waiting \(max_waiting 2\)"
        ):
            await acquire_grant(temporal_client, name, _ask("w3"))
        status = await arbiter_status(temporal_client, name)
        assert sorted(w.request for w in status.waiters) == ["w1", "w2"]
        for rid in ("w1", "w2"):  # withdrawn: their waiting clients hear it and stop
            assert await release_grant(temporal_client, name, rid)
        for outcome in await asyncio.gather(*waiting, return_exceptions=True):
            assert isinstance(outcome, CapacityError)
        await temporal_client.get_workflow_handle(arbiter_workflow_id(name)).terminate()


async def test_forty_clients_take_turns_on_a_lock_without_errors(
    temporal_client: Client, domain: str
) -> None:
    """More clients at once than Temporal's 10 in-flight updates per workflow: none is
    refused, because none waits inside an update."""
    order: list[str] = []

    async def turn(index: int) -> None:
        rid = f"c{index}"
        await acquire_grant(temporal_client, domain, _ask(rid), poll=timedelta(seconds=0.2))
        order.append(rid)
        assert await release_grant(temporal_client, domain, rid)

    await asyncio.wait_for(asyncio.gather(*(turn(i) for i in range(40))), timeout=120)
    assert sorted(order) == sorted(f"c{i}" for i in range(40))
    status = await arbiter_status(temporal_client, domain)
    assert status.holders == [] and status.waiters == []
    assert status.recent_grants[-40:] == order  # each client saw its grant in grant order


async def test_a_request_still_waiting_at_its_max_wait_is_rejected_by_the_timer(
    temporal_client: Client, domain: str
) -> None:
    await acquire_grant(temporal_client, domain, _ask("holder"))
    impatient = Request.model_validate(
        {"id": "impatient", "tenant": "alice", "demands": {"lock": 1}, "max_wait": "1s"}
    )
    fast = timedelta(seconds=0.2)
    with pytest.raises(CapacityError, match="max_wait"):
        await asyncio.wait_for(
            acquire_grant(temporal_client, domain, impatient, poll=fast), timeout=30
        )
    assert (await arbiter_status(temporal_client, domain)).waiters == []
