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
from collections.abc import Coroutine
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pit.arbitration.protocol import GRANT_SIGNAL, Answers
    from pit.common.errors import WorkFailedError
    from pit.dag import approval
    from pit.dag.compiled import NodeKind
    from pit.dag.dispatch import Dispatcher, Work
    from pit.dag.estimate import remaining_seconds
    from pit.dag.mapping import MapItems, item_page
    from pit.dag.refs import ItemScope
    from pit.dag.run import (
        STATUS_PAGE,
        DagRunInput,
        ItemsPage,
        NodeItems,
        RunPlan,
        StatusPage,
        fit_items,
        status_page,
    )
    from pit.dag.scheduler import Scheduler
    from pit.dag.status import DagStatus, NodeState, NodeStatus, Progress, RunState
    from pit.workflows.dag_book import Outputs
    from pit.workflows.dag_handover import next_run_input
    from pit.workflows.dag_steps import CHILD_TAGS_PATCH, Steps
    from pit.workflows.dag_units import Unit


__all__ = ["CHILD_TAGS_PATCH", "DagWorkflow"]


@workflow.defn(name="pit.dag")
class DagWorkflow(Steps):
    @workflow.run
    async def run(self, run: DagRunInput) -> DagStatus:
        self._input = run
        self._plan = run.plan()
        dag = self._dag = self._plan.dag
        self._kinds = {dag.ids[i]: kind for i, kind in dag.kinds.items()}
        carried = run.carried
        self._nodes = carried.nodes() if carried else {n: NodeStatus() for n in dag.ids}
        self._outputs = Outputs(self._nodes)
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
            items=fit_items(item_page(items.items, output, page.offset, page.limit)),
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
