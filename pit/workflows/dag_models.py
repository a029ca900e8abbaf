"""Workflow side of a node's `model`: ask the pool registry where the model is hot (or which
host should warm it), make it hot there as a use of this run (so the host's predictor learns
the run's sequence of models), then run the node's activity on that host's task queue. Where
the model is hot already, the use rides in the node's activity (its `pit-model` header, see
`pit.infra.temporal.model_use`) instead of a warm activity first: one round trip fewer.

A host that does not pick the work up within `defaults.model_pickup` is taken as gone: the
node is placed again without it, up to `MAX_PLACEMENTS` times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    TimeoutError,
    TimeoutType,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from pit.activities.pool import PoolActivities, place
    from pit.dag.spec import NodeSpec
    from pit.dag.status import NodeStatus
    from pit.infra.temporal.model_use import MODEL_USE
    from pit.pool.placement import Placement
    from pit.pool.protocol import PlaceRequest, WarmRequest
    from pit.workflows.dag_failures import NodeFailed

MAX_PLACEMENTS = 3
T = TypeVar("T")
_WHY = {
    "hot": "hot there",
    "warming": "warming there",
    "assigned": "being warmed there",
    "room": "warmed there (free memory)",
    "evict": "warmed there (evicting idle models)",
    "busy": "warmed there (waiting for memory)",
}
USE_IN_NODE = "pit-model-use-in-node"
"""Patch: a hot model's use rides in the node's activity (runs recorded before: a warm
activity first, whatever the placement said)."""
REUSE_HOT = "pit-model-reuse-hot-placement"
"""Patch: a node on a model the run found hot on a host goes there without a placement."""
_WARM_RETRY = RetryPolicy(maximum_attempts=3, non_retryable_error_types=["not_found"])

RunOn = Callable[[str | None, timedelta | None], Awaitable[T]]
"""Runs the node's activity on a task queue (None: the run's own) with a pickup timeout."""


class HotPlacements:
    """A run's memory of where each of its models was last hot: the next node on that model
    goes straight there, without asking the registry, while no other node of the run uses
    the model (concurrent nodes are placed, so they spread over the hosts where it is hot).
    The header's acquire makes the model hot again should the host have evicted it since."""

    def __init__(self) -> None:
        self._where: dict[str, Placement] = {}
        self._using: dict[str, int] = {}

    def reusable(self, model: str, tried: list[str]) -> Placement | None:
        placement = self._where.get(model)
        if placement is None or self._using.get(model) or placement.host in tried:
            return None
        return placement

    def remember(self, model: str, placement: Placement) -> None:
        self._where[model] = placement

    def forget(self, model: str) -> None:
        self._where.pop(model, None)

    def use(self, model: str, delta: int) -> None:
        self._using[model] = self._using.get(model, 0) + delta


async def on_model_host(
    node: NodeSpec,
    status: NodeStatus,
    timeout: timedelta,
    pickup: timedelta,
    run: RunOn[T],
    hot: HotPlacements | None = None,
    key: str | None = None,
) -> T:
    """`run` on the host where `node.model` is hot (straight on the run's queue without a
    model). Raises `NodeFailed` when no host can take it; the activity's own failure
    propagates as its `ActivityError`. `hot`: where the run found models hot so far. `key`:
    what names the steps' activities (a map item's
    `node[3]`; default the node's id)."""
    if node.model is None:
        return await run(None, None)
    hot = hot or HotPlacements()
    key = key or node.id
    tried: list[str] = []
    for _ in range(MAX_PLACEMENTS):
        placement = hot.reusable(node.model, tried)
        if placement is not None and workflow.patched(REUSE_HOT):
            why = "hot there (placed earlier in this run)"
        else:
            placement = await _place(key, node.model, tried)
            why = _WHY[placement.reason]
        status.host = placement.host
        status.reason = f"model {node.model} on {placement.host}: {why}"
        try:
            if placement.reason == "hot" and workflow.patched(USE_IN_NODE):
                return await _use_in_node(node.model, placement, pickup, run, hot)
            await workflow.execute_activity_method(
                PoolActivities.warm,
                WarmRequest(model=node.model, session=workflow.info().workflow_id),
                activity_id=f"{key}/warm",
                task_queue=placement.queue,
                schedule_to_start_timeout=pickup,
                start_to_close_timeout=timeout,
                retry_policy=_WARM_RETRY,
                summary=f"{key}: warm {node.model} on {placement.host}",
            )
            return await run(placement.queue, pickup)
        except ActivityError as error:
            if is_cancelled_exception(error):
                raise asyncio.CancelledError from None
            if not _not_picked_up(error):
                if error.activity_type == "pit.pool.warm":
                    raise _unavailable(node.model, error) from None
                raise
            tried.append(placement.host)
    raise NodeFailed(
        f"model {node.model}: no host picked the work up (tried {', '.join(tried)})", "timeout", 0
    )


async def _use_in_node(
    model: str, placement: Placement, pickup: timedelta, run: RunOn[T], hot: HotPlacements
) -> T:
    """The node's activity on the host, carrying the run's use of `model` in its header."""
    token = MODEL_USE.set(model)
    hot.use(model, +1)
    try:
        result = await run(placement.queue, pickup)
    except BaseException:
        hot.forget(model)  # gone, evicted or failing there: ask the registry next time
        raise
    finally:
        hot.use(model, -1)
        MODEL_USE.reset(token)
    hot.remember(model, placement)
    return result


async def _place(node_id: str, model: str, tried: list[str]) -> Placement:
    try:
        # not a local activity, which would save a round trip: when a run ends in the same
        # activation as another node's local activity, sdk-core records the marker after the
        # close command and the task fails forever (temporalio/sdk-rust#659). (Seen when a
        # failed local activity's error, which arrives unwrapped rather than as an
        # ActivityError, escaped the handler below and failed the run; a run whose nodes
        # repeat a model mostly skips this round trip anyway: `HotPlacements`.)
        return await workflow.execute_activity(
            place,
            PlaceRequest(model=model, exclude=tuple(tried)),
            activity_id=f"{node_id}/place",
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(
                maximum_attempts=5, non_retryable_error_types=["not_found", "capacity"]
            ),
            summary=f"place {model}",
        )
    except ActivityError as error:
        if is_cancelled_exception(error):
            raise asyncio.CancelledError from None
        raise _unavailable(model, error) from None


def _not_picked_up(error: ActivityError) -> bool:
    cause = error.cause
    return isinstance(cause, TimeoutError) and cause.type is TimeoutType.SCHEDULE_TO_START


def _unavailable(model: str, error: ActivityError) -> NodeFailed:
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return NodeFailed(cause.message, cause.type, 0)
    return NodeFailed(f"model {model}: {cause or error}", None, 0)
