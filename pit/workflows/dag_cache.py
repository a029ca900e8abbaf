"""Workflow side of a node's `cache:`: look its key up before running, store its output after
(docs/dag.md#cache). The store's answers are activity results, recorded in history, and
freshness is judged with `workflow.now()`: replay decides exactly as the run did.

The cache is an optimisation: a lookup that fails is a miss, a store that fails leaves the
node succeeded (its reason says so); neither fails the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from pit.common.errors import InvalidInputError
    from pit.dag.cache_key import cache_artifact_name, cache_key, cache_metadata, is_fresh
    from pit.dag.protocol import CACHE_GET, CACHE_PUT, CacheEntry, CacheGet, CachePut
    from pit.dag.spec import NodeSpec

_TIMEOUT = timedelta(minutes=2)
_RETRY = RetryPolicy(maximum_attempts=3, non_retryable_error_types=["validation"])


@dataclass(frozen=True)
class CacheSlot:
    """Where one node's (or map item's) output is cached."""

    name: str
    key: str
    ttl: timedelta


def cache_slot(dag_name: str, node: NodeSpec, step: str, inputs: Any) -> CacheSlot | str:
    """The node's cache slot for these resolved inputs, or why it has none (inputs with no
    canonical JSON form: the node runs uncached)."""
    assert node.cache is not None
    try:
        key = cache_key(step, node.cache.version, inputs, node.cache.key)
    except InvalidInputError as error:
        return f"not cached: {error.message}"
    return CacheSlot(cache_artifact_name(dag_name, node.id, key), key, node.cache.ttl)


async def cached(slot: CacheSlot, activity_id: str) -> tuple[CacheEntry | None, str | None]:
    """(a fresh entry or None, a note when the lookup failed)."""
    try:
        entry = await workflow.execute_activity(
            CACHE_GET,
            CacheGet(name=slot.name),
            result_type=CacheEntry,
            activity_id=f"{activity_id}/cache-get",
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
            summary=f"cache lookup {slot.name}",
        )
    except ActivityError as error:
        if is_cancelled_exception(error):
            raise
        return None, f"cache lookup failed ({_cause(error)}): ran"
    if not entry.found or entry.stored_at is None:
        return None, None
    if not is_fresh(entry.stored_at, slot.ttl, workflow.now()):
        return None, f"cached output of run {entry.run_id} expired (ttl {slot.ttl}): ran"
    return entry, None


async def store(
    slot: CacheSlot, output: Any, activity_id: str, node_id: str, item: int | None
) -> str | None:
    """Store `output` under the slot; a note when that failed (the node still succeeded)."""
    metadata = cache_metadata(workflow.info().workflow_id, node_id, slot.key, item)
    try:
        await workflow.execute_activity(
            CACHE_PUT,
            CachePut(name=slot.name, output=output, metadata=metadata),
            activity_id=f"{activity_id}/cache-put",
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
            summary=f"cache store {slot.name}",
        )
    except ActivityError as error:
        if is_cancelled_exception(error):
            raise
        return f"output not cached: {_cause(error)}"
    return None


def _cause(error: ActivityError) -> str:
    cause = error.cause
    return str(cause) if cause is not None else str(error)
