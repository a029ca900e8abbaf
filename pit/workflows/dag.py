"""`pit.dag`: a DAG file run as one durable workflow whose nodes are activities.

Temporal history is the checkpoint: every finished node is an event, a crashed worker resumes
by replay, and a long run continues-as-new carrying its node states, under one workflow id.
The DAG arrives compiled (checked by the client): loading it costs milliseconds, and a node's
spec is read only when the node runs.

A map node's items are activities of this same workflow (see docs/dag.md#map-for_each), an
approval node waits for the `approve` update, a `when` is evaluated here (CEL, no I/O), and a
node with `cache:` asks the artifact store before it runs (`pit.workflows.dag_cache`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator, Mapping
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from pit.arbitration.protocol import GRANT_SIGNAL, Answers
    from pit.common.errors import InvalidInputError, WorkFailedError
    from pit.dag import approval
    from pit.dag.compiled import CompiledDag, NodeKind
    from pit.dag.dispatch import Dispatcher, Work
    from pit.dag.estimate import fingerprint, remaining_seconds
    from pit.dag.expressions import condition_values, evaluate
    from pit.dag.limits import child_run_id
    from pit.dag.mapping import MapItems, item_page, resolve_items
    from pit.dag.refs import ItemScope, resolve
    from pit.dag.run import (
        STATUS_PAGE,
        DagRunInput,
        ItemsPage,
        NodeItems,
        RunPlan,
        StatusPage,
        status_page,
        unwrap,
    )
    from pit.dag.scheduler import Scheduler
    from pit.dag.spec import NodeSpec
    from pit.dag.status import DagStatus, NodeState, NodeStatus, Progress, RunState, SkipCause
    from pit.infra.temporal.search_attributes import PIT_PROGRESS
    from pit.workflows import dag_cache
    from pit.workflows.arbiter_link import ArbiterLink
    from pit.workflows.dag_failures import NodeFailed, activity_failure, retry_policy
    from pit.workflows.dag_handover import next_run_input
    from pit.workflows.dag_models import on_model_host
    from pit.workflows.dag_resources import hold_resources
    from pit.workflows.dag_units import Unit


@workflow.defn(name="pit.dag")
class DagWorkflow:
    def __init__(self) -> None:
        self._input: DagRunInput | None = None
        self._plan: RunPlan | None = None
        self._dag: CompiledDag | None = None
        self._scheduler: Scheduler | None = None
        self._dispatcher: Dispatcher | None = None
        self._nodes: dict[str, NodeStatus] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._approvals: dict[str, asyncio.Task[None]] = {}
        """Approval nodes waiting (they hold no slot and are carried over a hand-over)."""
        self._specs: dict[str, NodeSpec] = {}
        self._map_values: dict[str, list[Any]] = {}
        self._kinds: dict[str, NodeKind] = {}
        self._handing_over = False
        self._changed = False
        self._state = RunState.RUNNING
        self._status = DagStatus(run_id="", dag="", status=RunState.RUNNING)
        self._progress_marks = 0
        self._outputs = _Outputs(self._nodes)
        self._crashed: Exception | None = None
        self._live: set[asyncio.Task[None]] = set()
        self._arbiters = ArbiterLink()

    @workflow.run
    async def run(self, run: DagRunInput) -> DagStatus:
        self._input = run
        self._plan = run.plan()
        dag = self._dag = self._plan.dag
        self._kinds = {dag.ids[i]: kind for i, kind in dag.kinds.items()}
        carried = run.carried
        self._nodes = carried.nodes() if carried else {n: NodeStatus() for n in dag.ids}
        self._outputs = _Outputs(self._nodes)
        self._progress_marks = carried.progress_marks if carried else 0
        started_at = carried.started_at if carried else workflow.now()
        self._status = DagStatus(
            run_id=workflow.info().workflow_id,
            dag=dag.name,
            status=RunState.RUNNING,
            started_at=started_at,
            resumed_from=run.resumed_from,
        )
        waiting = approval.waiting_for_approval(self._nodes, self._kinds)
        maps = {
            node_id: MapItems(len(items), self._spec(node_id).max_parallel, items)
            for node_id, items in (carried.maps() if carried else {}).items()
        }
        self._scheduler = Scheduler(dag.topology, self._nodes, dag.trigger_of)
        self._dispatcher = Dispatcher(
            self._scheduler, self._kinds, dag.settings.parallel_limit, maps, waiting
        )
        for node_id in waiting:  # carried over a hand-over: wait on, for the time left
            self._approvals[node_id] = asyncio.create_task(
                self._wait_for_approval(node_id, carried=True)
            )
        try:
            await self._drive(run)
        except asyncio.CancelledError:
            await self._stop_running("the run was cancelled")
            self._close(RunState.CANCELLED)
            raise
        except WorkFailedError:
            self._close(RunState.FAILED)
            raise
        failed = [n for n, s in self._nodes.items() if s.state is NodeState.FAILED]
        if failed:
            self._close(RunState.FAILED)
            shown = ", ".join(failed[:5]) + (", ..." if len(failed) > 5 else "")
            raise WorkFailedError(
                f"{len(failed)} of {len(self._nodes)} nodes failed: {shown}", failed=failed
            )
        self._close(RunState.SUCCEEDED)
        # the result is a summary: a page of nodes at most (a payload is capped at 2 MB)
        return self.status(StatusPage(limit=STATUS_PAGE))

    @workflow.signal(name=GRANT_SIGNAL)
    def grant(self, answers: Answers) -> None:
        """An arbiter's answers to nodes' requests for their `resources`."""
        self._arbiters.deliver(answers)

    @workflow.update(name=approval.APPROVE_UPDATE)
    async def approve(self, answer: approval.ApprovalAnswer) -> approval.ApprovalRecord:
        """A person's answer to an approval node; returns once the run has recorded it."""
        node = self._spec(answer.node)
        status = self._nodes[answer.node]
        record = approval.record(answer, self._prompt(node), workflow.now())
        status.output = record.model_dump(mode="json")
        unit = Unit(node, status)
        if answer.approve:
            status.reason = f"approved by {answer.by}"
            self._finish(unit, NodeState.SUCCEEDED)
        else:
            status.error, status.error_type = approval.rejection(answer), approval.REJECTED
            await self._fail(unit)
        return record

    @approve.validator
    def _check_answer(self, answer: approval.ApprovalAnswer) -> None:
        if self._dag is None:
            raise ValueError("the run has not started yet")
        problem = approval.answer_problem(self._nodes, self._kinds, answer)
        if problem is not None:
            raise ValueError(problem)

    @workflow.query(name="status")
    def status(self, page: StatusPage | None = None) -> DagStatus:
        """The status document; large runs are read a page of nodes at a time."""
        page = page or StatusPage(limit=STATUS_PAGE)
        return self._status.model_copy(
            update={
                "nodes": status_page(self._nodes, page),
                "status": self._state,
                "progress": self.progress(),
                "nodes_total": len(self._nodes),
                "nodes_offset": page.offset,
                "waiting_for_approval": approval.waiting_for_approval(self._nodes, self._kinds),
            }
        )

    @workflow.query(name="items")
    def items(self, page: ItemsPage) -> NodeItems:
        """A map node's items, a page at a time (`pit dag status RUN --node ID`)."""
        maps = self._dispatcher.maps if self._dispatcher is not None else {}
        items = maps.get(page.node)
        if items is None:
            if page.node not in self._nodes:
                raise ValueError(f"{page.node!r}: no such node in this run")
            if self._kinds.get(page.node) is not NodeKind.MAP:
                raise ValueError(f"{page.node!r}: not a map node (it has no for_each)")
            return NodeItems(node=page.node, total=0, offset=page.offset, items=[])
        output = self._nodes[page.node].output
        return NodeItems(
            node=page.node,
            total=items.size,
            offset=page.offset,
            items=item_page(items.items, output, page.offset, page.limit),
        )

    @workflow.query(name="progress")
    def progress(self) -> Progress | None:
        """Counts and the critical-path estimate, without the nodes: cheap to poll."""
        if self._scheduler is None or self._dag is None:
            return None
        counts = self._scheduler.counts
        eta = None
        if self._state is RunState.RUNNING:
            dag = self._dag
            eta = remaining_seconds(dag.topology, dag.step_of, self._nodes, workflow.now())
        return Progress(
            total=len(self._nodes),
            done=sum(n for state, n in counts.items() if state.finished),
            running=counts[NodeState.RUNNING],
            failed=counts[NodeState.FAILED] + counts[NodeState.UPSTREAM_FAILED],
            eta_seconds=eta,
        )

    @workflow.query(name="input")
    def input(self) -> DagRunInput:
        assert self._input is not None
        return self._input.model_copy(update={"carried": None})

    async def _drive(self, run: DagRunInput) -> None:
        dispatcher, plan = self._dispatcher, self._plan
        assert dispatcher is not None and plan is not None
        while not dispatcher.finished:
            if self._should_continue(run):
                await workflow.wait_condition(lambda: dispatcher.busy == 0 and not self._live)
                await self._hand_over(run, plan)
            self._start_ready(dispatcher)
            self._changed = False
            await workflow.wait_condition(lambda: self._changed)
            if self._crashed is not None:
                raise self._crashed
        # a finished node may still be giving back its resources
        await workflow.wait_condition(lambda: not self._live)
        self._report_progress(force=True)

    async def _hand_over(self, run: DagRunInput, plan: RunPlan) -> None:
        assert self._dispatcher is not None
        started_at = self._status.started_at or workflow.now()
        maps = {node_id: items.items for node_id, items in self._dispatcher.maps.items()}
        try:
            handed = next_run_input(
                run, plan, self._nodes, started_at, self._progress_marks, maps or None
            )
        except WorkFailedError as too_big:
            self._dispatcher.cancel_pending(too_big.message)
            raise
        # waiting approvals go on waiting in the next run, with the time they have left
        self._handing_over = True
        await self._cancel_all(list(self._approvals.values()))
        workflow.continue_as_new(handed)

    def _start_ready(self, dispatcher: Dispatcher) -> None:
        """Start everything that may start: a map node's expansion makes its items ready."""
        while work := dispatcher.take():
            for one in work:
                self._start(one)

    def _start(self, work: Work) -> None:
        if work.index is not None:
            self._spawn(f"{work.node_id}[{work.index}]", self._run_item(work.node_id, work.index))
            return
        node_id = work.node_id
        self._nodes[node_id].started_at = workflow.now()
        kind = self._kinds.get(node_id)
        if kind is NodeKind.APPROVAL:
            self._approvals[node_id] = asyncio.create_task(self._wait_for_approval(node_id))
        elif kind is NodeKind.MAP:
            self._spawn(node_id, self._expand(node_id))
        else:
            self._spawn(node_id, self._run_node(node_id))

    def _spawn(self, key: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks[key] = task
        self._live.add(task)
        task.add_done_callback(self._live.discard)

    def _should_continue(self, run: DagRunInput) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= run.continue_after_events
        )

    def _spec(self, node_id: str) -> NodeSpec:
        """The node's spec, parsed once per run (a map's items share it)."""
        spec = self._specs.get(node_id)
        if spec is None:
            assert self._dag is not None
            spec = self._specs[node_id] = self._dag.node(node_id)
        return spec

    def _unit_of(self, node_id: str) -> Unit | None:
        """The node as a unit of work; None (and the node failed) when its spec is invalid."""
        status = self._nodes[node_id]
        try:
            return Unit(self._spec(node_id), status)
        except ValueError as error:  # a run input not built by the client (`prepare_run`)
            problem = error.errors()[0]["msg"] if isinstance(error, ValidationError) else error
            status.error, status.error_type = f"the node's spec is invalid: {problem}", "validation"
            self._end(node_id, NodeState.FAILED)
            return None

    async def _run_node(self, node_id: str) -> None:
        unit = self._unit_of(node_id)
        if unit is not None:
            await self._guarded(unit)

    async def _run_item(self, node_id: str, index: int) -> None:
        assert self._dispatcher is not None
        status = self._dispatcher.maps[node_id].items[index]
        status.started_at = workflow.now()
        values = self._items_of(node_id)
        await self._guarded(Unit(self._spec(node_id), status, ItemScope(values[index], index)))

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
            # so a fixed worker can carry on) rather than leave the node running forever
            self._crashed = bug
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

    def _condition_holds(self, unit: Unit) -> bool:
        """False (and the unit skipped, saying why) when its `when` is false; NodeFailed when
        the condition cannot decide. A map node's per-item condition is its items' own."""
        assert self._dag is not None and self._input is not None
        condition = self._dag.condition(unit.node.id)
        if condition is None:
            return True
        if unit.node.is_map and condition.per_item != (unit.item is not None):
            return True  # evaluated for the node when it starts, or for each item
        field = f"{unit.field}.when"
        try:
            values = condition_values(
                condition, self._outputs, self._input.run_inputs, field, unit.item
            )
            holds = evaluate(condition, values, field)
        except InvalidInputError as error:
            raise NodeFailed(error.message, error.code, 0) from None
        if not holds:
            unit.status.skipped_by = SkipCause.CONDITION
            unit.status.reason = f"condition false: {condition.text}"
            self._finish(unit, NodeState.SKIPPED)
        return holds

    def _resolve(self, value: Any, field: str, item: ItemScope | None = None) -> Any:
        assert self._input is not None
        try:
            return resolve(value, self._outputs, self._input.run_inputs, field, item)
        except InvalidInputError as error:
            raise NodeFailed(error.message, error.code, 0) from None

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

    def _items_of(self, node_id: str) -> list[Any]:
        """A map's list: resolved again after a hand-over (the same, from carried outputs)."""
        values = self._map_values.get(node_id)
        if values is None:
            node = self._spec(node_id)
            assert node.for_each is not None and self._input is not None
            values = self._map_values[node_id] = resolve_items(
                node.for_each, self._outputs, self._input.run_inputs, f"nodes.{node_id}.for_each"
            )
        return values

    def _finish_map(self, unit: Unit, items: MapItems) -> None:
        status = unit.status
        state = items.outcome()
        status.output = items.output()
        status.items = items.item_counts()
        status.attempts = max(status.attempts, 1)
        summary = items.failure_summary()
        if summary is not None:
            status.error, status.error_type = summary, "items_failed"
        items.release_outputs()
        self._finish(unit, state)

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

    def _prompt(self, node: NodeSpec) -> str:
        assert node.approval is not None
        try:
            prompt = self._resolve(node.approval.prompt, f"nodes.{node.id}.approval.prompt")
        except NodeFailed as failure:
            return f"{node.approval.prompt} ({failure.message})"
        return str(prompt)

    def _update_memo(self) -> None:
        waiting = approval.waiting_for_approval(self._nodes, self._kinds)
        workflow.upsert_memo({approval.WAITING_MEMO: waiting})

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
            result = await on_model_host(node, unit.status, timeout, pickup, run_on)
        except ActivityError as error:
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

    def _reuse(self, node_id: str, status: NodeStatus) -> bool:
        assert self._plan is not None
        earlier = self._plan.reuse.get(node_id)
        if earlier is None or earlier.fingerprint != status.fingerprint:
            return False
        status.output = earlier.output
        status.reason = f"reused from run {earlier.run_id}: same activity, inputs and upstream"
        self._end(node_id, NodeState.SUCCEEDED)
        return True

    def _why_run(self, node_id: str) -> str | None:
        assert self._input is not None and self._plan is not None
        if self._input.resumed_from is None:
            return None
        if node_id in self._plan.reuse:
            return "ran: activity, inputs or upstream changed since the earlier run"
        return "ran: it did not succeed in the earlier run (or is new)"

    def _succeed(self, unit: Unit, output: Any, attempts: int | None) -> None:
        status = unit.status
        status.output = output
        status.attempts = attempts or max(status.attempts, 1)
        self._finish(unit, NodeState.SUCCEEDED)

    def _finish(self, unit: Unit, state: NodeState) -> None:
        """Record how a unit ended: a node, or a map item (and its map, with its last)."""
        if unit.item is None:
            self._end(unit.node.id, state)
            return
        assert self._dispatcher is not None
        node_id = unit.node.id
        unit.status.finished_at = workflow.now()
        self._tasks.pop(unit.key, None)
        self._changed = True
        items = self._dispatcher.maps[node_id]
        outcome = self._dispatcher.finish_item(node_id, unit.item.index, state)
        node = self._nodes[node_id]
        node.items = items.item_counts()
        if outcome is not None and node.state is NodeState.RUNNING:
            self._finish_map(Unit(unit.node, node), items)

    def _end(self, node_id: str, state: NodeState) -> None:
        assert self._dispatcher is not None
        self._nodes[node_id].finished_at = workflow.now()
        self._dispatcher.finish(node_id, state)
        self._tasks.pop(node_id, None)
        self._changed = True
        self._report_progress()
        if self._kinds.get(node_id) is NodeKind.APPROVAL:
            self._approvals.pop(node_id, None)
            self._update_memo()

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

    async def _cancel_all(self, tasks: list[asyncio.Task[None]]) -> None:
        current = asyncio.current_task()
        tasks = [task for task in tasks if task is not current and not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _close(self, state: RunState) -> None:
        self._state = state
        self._status.finished_at = workflow.now()
        self._report_progress(force=True)

    def _report_progress(self, force: bool = False) -> None:
        """Progress in tenths as a search attribute: one history event per 10%, not per node."""
        assert self._scheduler is not None
        if self._input is None or not self._input.search_attributes:
            return
        total = max(len(self._nodes), 1)
        done = sum(n for state, n in self._scheduler.counts.items() if state.finished)
        marks = done * 10 // total
        if marks > self._progress_marks or (force and marks != self._progress_marks):
            self._progress_marks = marks
            workflow.upsert_search_attributes([PIT_PROGRESS.value_set(done / total)])


class _Outputs(Mapping[str, Any]):
    """Finished nodes' outputs, looked up in O(1) (references only name ancestors)."""

    def __init__(self, nodes: dict[str, NodeStatus]) -> None:
        self._nodes = nodes

    def __getitem__(self, node_id: str) -> Any:
        status = self._nodes[node_id]
        if not status.state.finished:
            raise KeyError(node_id)
        return status.output

    def __iter__(self) -> Iterator[str]:
        return (n for n, s in self._nodes.items() if s.state.finished)

    def __len__(self) -> int:
        return sum(1 for _ in self)
