"""Sweeping claim-checked payloads no retained run needs any more (`pit stale sweep-payloads`).

Temporal is asked what it still keeps: the namespace's retention (DescribeNamespace) and every
workflow execution it lists (open ones, and closed ones within the retention); each history's
bytes are searched for the payload names it holds. What no such history names and was stored
more than the retention ago is soft-deleted (`pit.artifacts.payloads.sweep`). Histories of
runs that started while the sweep ran are read once more afterwards, and what they name is
restored at once, so a run that reused an old payload just then does not lose it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError

from pit.artifacts import payloads
from pit.artifacts.store import ArtifactStore
from pit.common.errors import BackendUnavailableError

_HISTORY_PARALLEL = 8


class PayloadSweepReport(BaseModel):
    """What a sweep of claim-checked payloads found and did."""

    retention_seconds: float
    runs_read: int
    kept_referenced: int
    kept_young: int
    deleted: list[str]
    """`name@version` of the payload versions soft-deleted (all that would be, with dry_run)."""
    kept_after_all: int = 0
    """Restored at once: a run that started during the sweep names them."""


async def namespace_retention(client: Client) -> timedelta:
    """How long Temporal keeps a closed run's history in the client's namespace."""
    try:
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=client.namespace)
        )
    except RPCError as error:
        raise BackendUnavailableError(f"temporal: {error.message}") from None
    return described.config.workflow_execution_retention_ttl.ToTimedelta()


async def retained_references(client: Client, query: str | None = None) -> tuple[set[str], int]:
    """The payload names every history Temporal lists (for `query`) holds; (names, runs)."""
    limit = asyncio.Semaphore(_HISTORY_PARALLEL)
    names: set[str] = set()

    async def read(workflow_id: str, run_id: str | None) -> None:
        async with limit:
            history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        for event in history.events:
            names.update(payloads.references(event.SerializeToString()))

    try:
        runs = [(e.id, e.run_id) async for e in client.list_workflows(query)]
        await asyncio.gather(*(read(workflow_id, run_id) for workflow_id, run_id in runs))
    except RPCError as error:
        raise BackendUnavailableError(f"temporal: {error.message}") from None
    return names, len(runs)


async def sweep_payloads(
    client: Client, store: ArtifactStore, *, now: datetime, dry_run: bool = False
) -> PayloadSweepReport:
    """Soft-delete the claim-checked payloads no run Temporal keeps names and older than the
    namespace's retention; see the module's docstring for the order of things."""
    retention = await namespace_retention(client)
    started = datetime.now(now.tzinfo)
    named, runs = await retained_references(client)
    report = await payloads.sweep(store, named, now=now, retention=retention, dry_run=dry_run)
    kept = 0
    if report.deleted and not dry_run:
        since = started - timedelta(minutes=1)  # clock skew between here and the server
        later, more = await retained_references(client, f"StartTime >= '{since.isoformat()}'")
        runs += more
        kept = await payloads.keep(store, report.deleted, later)
    return PayloadSweepReport(
        retention_seconds=retention.total_seconds(),
        runs_read=runs,
        kept_referenced=report.kept_referenced,
        kept_young=report.kept_young,
        deleted=[f"{name}@{version}" for name, version in report.deleted],
        kept_after_all=kept,
    )
