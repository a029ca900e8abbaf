"""Before a run starts: do the workers of its queue read the store this client writes to?

A run input over 256 KiB (big `--input` values, a big spec) is claim-checked into the
client's artifact store and history keeps a reference. A worker with another store cannot
resolve it: its first workflow task would fail forever. Pit workers name their store in their
Temporal identity (`pit.infra.temporal.claim_check.worker_identity`), so the client refuses
such a run up front. (A big result the other way fails to read with a line saying where the
client looked: `ArtifactPayloadDriver.retrieve`.)
"""

from __future__ import annotations

from temporalio.client import Client

from pit.common.errors import InvalidInputError
from pit.infra.temporal.claim_check import (
    claim_checked,
    claim_store_location,
    identity_location,
)
from pit.infra.temporal.task_queues import workflow_poller_infos


async def worker_stores(client: Client, task_queue: str) -> dict[str, str]:
    """The store each Pit worker polling `task_queue` for workflow tasks names, by identity
    (workers that do not say are left out)."""
    found: dict[str, str] = {}
    for poller in await workflow_poller_infos(client, task_queue):
        location = identity_location(poller.identity)
        if location is not None:
            found[poller.identity] = location
    return found


async def require_shared_store(client: Client, task_queue: str, run_input: object) -> None:
    """InvalidInputError (on `storage.url`) when `run_input` is big enough to be claim-checked
    and a Pit worker of `task_queue` keeps payloads in another store than `client`: its first
    workflow task could never read it. Nothing polling yet, or workers that do not say, pass:
    there is nothing to compare. A run whose input stays in history starts as before."""
    mine = claim_store_location(client.data_converter)
    if mine is None or not claim_checked(client.data_converter, run_input):
        return
    for identity, theirs in (await worker_stores(client, task_queue)).items():
        if theirs != mine:
            worker = identity.partition(" ")[0]
            raise InvalidInputError.for_field(
                "storage.url",
                mine,
                f"the worker {worker} of task queue {task_queue!r} keeps payloads over 256 KiB "
                f"in {theirs}: this run's input is one and could not be read there; give "
                "every client and worker the same store (one s3:// URL, or the same state dir)",
            )
