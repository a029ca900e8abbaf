"""How a `pit.dag` run runs its units of work: a node or map item's attempt (cache, activity
or child graph), recovery (retries are Temporal's; then skip, fallback or fail), a map node's
expansion and an approval node's wait (the workflow's middle class)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import (
    ApplicationError,
    ChildWorkflowError,
    FailureError,
    is_cancelled_exception,
)
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from pit.common.errors import InvalidInputError
    from pit.dag import approval
    from pit.dag.estimate import fingerprint
    from pit.dag.limits import child_run_id
    from pit.dag.mapping import resolve_items
    from pit.dag.run import DagRunInput, unwrap
    from pit.dag.spec import NodeSpec
    from pit.dag.status import DagStatus, NodeState, SkipCause
    from pit.infra.temporal.search_attributes import child_dag_tags
    from pit.workflows import dag_cache
    from pit.workflows.dag_book import RunBook
    from pit.workflows.dag_failures import NodeFailed, activity_failure, retry_policy
    from pit.workflows.dag_models import on_model_host
    from pit.workflows.dag_resources import hold_resources
    from pit.workflows.dag_units import Unit


CHILD_TAGS_PATCH = "pit-child-dag-tags"
"""Child graph runs start with PitKind, PitDag, PitNodes, PitProgress and a memo."""


class Steps(RunBook):
    """How a unit of work runs, recovers, expands (maps) and waits (approvals)."""

    async def _guarded(self, unit: Unit) -> None:
        """Run a unit under its resources; what ends it however it ends."""
        assert self._dag is not None
        try:
            async with hold_resources(
                self._dag.header, unit.node, unit.status, self._arbiters, unit.key
            ):
                await self._attempt(unit)
        except NodeFailed as refused:  # the arbiter did not grant the node's resources
            await self._recover(unit, refused)
        except asyncio.CancelledError:
            unit.status.error = unit.status.error or "cancelled"
            self._finish(unit, NodeState.CANCELLED)
        except Exception as bug:
            # a bug in this workflow's own code: fail the workflow task (Temporal retries it,
            # so a fixed worker can carry on) rather than leave the node running forever. A
            # Temporal failure raised from the run would close it instead, maybe while a
            # local activity is out: sdk-core then puts its marker after the close command
            # and the task fails forever (temporalio/sdk-rust#659)
            self._crashed = (
                RuntimeError(f"unexpected {type(bug).__name__}: {bug}")
                if isinstance(bug, FailureError)
                else bug
            )
            self._changed = True

    async def _attempt(self, unit: Unit) -> None:
        assert self._input is not None and self._dag is not None
        node, status = unit.node, unit.status
        try:
            if not self._condition_holds(unit):
                return
            inputs = self._resolve(node.inputs, f"{unit.field}.inputs", unit.item)
            parents = [self._nodes[p].fingerprint for p in self._dag.topology.parents[node.id]]
            status.fingerprint = fingerprint(self._dag.step_of[node.id], inputs, parents)
            if unit.item is None and self._reuse(node.id, status):
                return
            if unit.item is None:
                status.reason = status.reason or self._why_run(node.id)
            attempts: int | None = 1
            if node.dag is not None:
                output = await self._run_child(node, inputs)
            else:
                assert node.activity is not None
                slot = self._cache_slot(unit, inputs)
                if isinstance(slot, dag_cache.CacheSlot):
                    entry, note = await dag_cache.cached(slot, unit.key)
                    if entry is not None:
                        status.cached_from = entry.run_id
                        status.reason = f"cached: output stored by run {entry.run_id}"
                        status.output = entry.output
                        self._finish(unit, NodeState.SUCCEEDED)
                        return
                    status.reason = note or status.reason
                output, attempts = await self._execute(unit, node.activity, inputs)
                if isinstance(slot, dag_cache.CacheSlot):
                    note = await dag_cache.store(slot, output, unit.key, node.id, unit.index)
                    status.reason = note or status.reason
                elif slot is not None:
                    status.reason = slot
            self._succeed(unit, output, attempts)
        except NodeFailed as failure:
            await self._recover(unit, failure)

    def _cache_slot(self, unit: Unit, inputs: Any) -> dag_cache.CacheSlot | str | None:
        assert self._dag is not None and self._input is not None
        if unit.node.cache is None or self._input.no_cache:
            return None
        step = self._dag.step_of[unit.node.id]
        return dag_cache.cache_slot(self._dag.name, unit.node, step, inputs)

    async def _execute(
        self, unit: Unit, activity: str, inputs: Any, *, fallback: bool = False
    ) -> tuple[Any, int | None]:
        assert self._dag is not None
        spec = self._dag.settings
        node = unit.node
        # the node's id names its activity, so Temporal's CLI and UI name the node too
        # (`temporal activity complete --activity-id <node>`); a map item: `<node>[<index>]`
        activity_id = f"{unit.key}/fallback" if fallback else unit.key
        retry = spec.retry_of(node)
        timeout = spec.timeout_of(node)

        async def run_on(queue: str | None, pickup: timedelta | None) -> Any:
            if node.local:
                async with self._locals.slot():
                    return await workflow.execute_local_activity(
                        activity,
                        inputs,
                        activity_id=activity_id,
                        start_to_close_timeout=timeout,
                        retry_policy=retry_policy(retry),
                        # a cancelled node ends when its activity has: the run never closes
                        # while a local activity is out (temporalio/sdk-rust#659)
                        cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                        summary=f"{unit.key}: {activity} (local)",
                    )
            return await workflow.execute_activity(
                activity,
                inputs,
                activity_id=activity_id,
                task_queue=queue,
                schedule_to_start_timeout=pickup,
                start_to_close_timeout=timeout,
                heartbeat_timeout=spec.heartbeat_of(node),
                retry_policy=retry_policy(retry),
                summary=f"{unit.key}: {activity}",
            )

        try:
            pickup = spec.defaults.model_pickup
            result = await on_model_host(
                node, unit.status, timeout, pickup, run_on, self._hot, unit.key
            )
        except FailureError as error:  # a local activity's failure arrives unwrapped
            if is_cancelled_exception(error):
                raise asyncio.CancelledError from None
            raise activity_failure(error, retry) from None
        return unwrap(result)

    async def _run_child(self, node: NodeSpec, inputs: Any) -> dict[str, Any]:
        """A child graph as a child workflow; its output maps its sink nodes to their outputs."""
        assert self._dag is not None and self._input is not None
        child = self._dag.child(node.id)
        assert child is not None
        child_id = child_run_id(workflow.info().workflow_id, node.id)
        self._nodes[node.id].reason = f"child graph run {child_id}"
        fields: dict[str, Any] = {"no_cache": True} if self._input.no_cache else {}
        # runs recorded before child runs were tagged start them untagged on replay
        tagged = workflow.patched(CHILD_TAGS_PATCH)
        memo, attributes = child_dag_tags(child, node.id, self._input.search_attributes)
        try:
            result = await workflow.execute_child_workflow(
                "pit.dag",
                DagRunInput.for_plan(
                    child,
                    run_inputs=inputs if isinstance(inputs, dict) else {"value": inputs},
                    search_attributes=self._input.search_attributes,
                    payload_limit=self._input.payload_limit,
                    **fields,
                ),
                id=child_id,
                result_type=DagStatus,
                memo=memo if tagged else None,
                search_attributes=attributes if tagged else None,
                run_timeout=node.timeout,
                static_summary=f"child graph {child.name} of {node.id}",
            )
        except ChildWorkflowError as error:
            if is_cancelled_exception(error):
                raise asyncio.CancelledError from None
            cause = error.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause or error)
            raise NodeFailed(f"child graph {child_id}: {message}", "work_failed", 1) from None
        sinks = child.topology.sinks()
        return {sink: result.nodes[sink].output for sink in sinks if sink in result.nodes}

    async def _recover(self, unit: Unit, failure: NodeFailed) -> None:
        node, status = unit.node, unit.status
        status.attempts = failure.attempts or status.attempts
        status.error, status.error_type = failure.message, failure.error_type
        if node.on_failure == "skip":
            status.reason = "skipped after failure (on_failure: skip)"
            status.skipped_by = SkipCause.FAILURE
            self._finish(unit, NodeState.SKIPPED)
            return
        fallback = node.fallback
        if fallback is not None:
            status.fallback = True
            try:
                inputs = fallback.inputs if fallback.inputs is not None else node.inputs
                resolved = self._resolve(
                    inputs, f"{unit.field}.on_failure.fallback.inputs", unit.item
                )
                output, _ = await self._execute(unit, fallback.activity, resolved, fallback=True)
            except NodeFailed as second:
                status.error = f"{failure.message}; fallback {fallback.activity}: {second.message}"
            else:
                status.output = output
                status.reason = f"fallback {fallback.activity} ran after: {failure.message}"
                self._finish(unit, NodeState.SUCCEEDED)
                return
        await self._fail(unit)

    async def _fail(self, unit: Unit) -> None:
        self._finish(unit, NodeState.FAILED)
        if self._dag is not None and self._dag.settings.fail_fast:
            await self._stop_running(f"fail_fast: node {unit.key} failed")

    async def _stop_running(self, reason: str) -> None:
        assert self._dispatcher is not None
        self._dispatcher.cancel_pending(reason)
        running = [*self._tasks.values(), *self._approvals.values()]
        await self._cancel_all(running)
        # maps whose items were all cancelled or finished end now
        for node_id, items in self._dispatcher.maps.items():
            status = self._nodes[node_id]
            if items.finished and status.state is NodeState.RUNNING:
                self._finish_map(Unit(self._spec(node_id), status), items)
        self._changed = True

    async def _expand(self, node_id: str) -> None:
        """A map node starts: its condition, its list, then its items wait for slots."""
        assert self._dispatcher is not None and self._dag is not None
        unit = self._unit_of(node_id)
        if unit is None:
            return
        node, status = unit.node, unit.status
        try:
            if not self._condition_holds(unit):
                return
            assert node.for_each is not None and self._input is not None
            try:
                values = resolve_items(
                    node.for_each, self._outputs, self._input.run_inputs, f"{unit.field}.for_each"
                )
            except InvalidInputError as error:
                raise NodeFailed(error.message, error.code, 0) from None
        except NodeFailed as failure:
            await self._recover(unit, failure)
            return
        parents = [self._nodes[p].fingerprint for p in self._dag.topology.parents[node_id]]
        shape = {"for_each": values, "inputs": node.inputs}
        status.fingerprint = fingerprint(self._dag.step_of[node_id], shape, parents)
        if self._reuse(node_id, status):
            return
        status.reason = status.reason or self._why_run(node_id)
        self._map_values[node_id] = values
        items = self._dispatcher.expand(node_id, len(values), node.max_parallel)
        status.items = items.item_counts()
        if items.finished:  # an empty list
            self._finish_map(unit, items)
        self._tasks.pop(node_id, None)
        self._changed = True

    async def _wait_for_approval(self, node_id: str, carried: bool = False) -> None:
        unit = self._unit_of(node_id)
        if unit is None:
            return
        node, status = unit.node, unit.status
        assert node.approval is not None and status.started_at is not None
        try:
            if not carried:
                if not self._condition_holds(unit):
                    return
                status.reason = f"waiting for approval: {self._prompt(node)}"
                self._update_memo()
            deadline = approval.deadline(status.started_at, node.approval.timeout)
            left = deadline - workflow.now()
            try:
                if left <= timedelta(0):
                    raise TimeoutError
                await workflow.wait_condition(
                    lambda: status.state.finished, timeout=left, timeout_summary=f"{node_id}"
                )
            except TimeoutError:
                raise NodeFailed(
                    f"no answer within {node.approval.timeout}", "timeout", 0
                ) from None
        except NodeFailed as failure:
            await self._recover(unit, failure)
        except asyncio.CancelledError:
            if not self._handing_over and not status.state.finished:
                status.error = status.error or "cancelled"
                self._finish(unit, NodeState.CANCELLED)
