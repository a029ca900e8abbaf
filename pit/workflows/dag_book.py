"""The bookkeeping of a `pit.dag` run: its state, how a node or map item ends, conditions,
references and progress (the workflow's base class; no Temporal handlers here)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from pit.common.errors import InvalidInputError
    from pit.dag import approval
    from pit.dag.compiled import CompiledDag, NodeKind
    from pit.dag.dispatch import Dispatcher
    from pit.dag.expressions import condition_values, evaluate
    from pit.dag.mapping import MapItems, resolve_items
    from pit.dag.refs import ItemScope, resolve
    from pit.dag.run import DagRunInput, RunPlan
    from pit.dag.scheduler import Scheduler
    from pit.dag.spec import NodeSpec
    from pit.dag.status import DagStatus, NodeState, NodeStatus, RunState, SkipCause
    from pit.infra.temporal.search_attributes import PIT_PROGRESS
    from pit.workflows.arbiter_link import ArbiterLink
    from pit.workflows.dag_failures import NodeFailed
    from pit.workflows.dag_locals import LocalBatches
    from pit.workflows.dag_models import HotPlacements
    from pit.workflows.dag_units import Unit


class RunBook:
    """A run's state and how its units of work end (see the module)."""

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
        self._outputs = Outputs(self._nodes)
        self._crashed: Exception | None = None
        self._live: set[asyncio.Task[None]] = set()
        self._arbiters = ArbiterLink()
        self._hot = HotPlacements()
        """Where this run found each model hot (a model node's next use goes straight there)."""
        self._locals = LocalBatches()

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

    def _resolve(self, value: Any, field: str, item: ItemScope | None = None) -> Any:
        assert self._input is not None
        try:
            return resolve(value, self._outputs, self._input.run_inputs, field, item)
        except InvalidInputError as error:
            raise NodeFailed(error.message, error.code, 0) from None

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

    def _succeed(self, unit: Unit, output: Any, attempts: int | None) -> None:
        status = unit.status
        status.output = output
        status.attempts = attempts or max(status.attempts, 1)
        self._finish(unit, NodeState.SUCCEEDED)

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

    async def _cancel_all(self, tasks: list[asyncio.Task[None]]) -> None:
        current = asyncio.current_task()
        tasks = [task for task in tasks if task is not current and not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class Outputs(Mapping[str, Any]):
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
