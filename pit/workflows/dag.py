"""`pit.dag`: a DAG file run as one durable workflow whose nodes are activities.

Temporal history is the checkpoint: every finished node is an event, a crashed worker resumes
by replay, and a long run continues-as-new carrying its node states, under one workflow id.
The DAG arrives compiled (checked by the client): loading it costs milliseconds, and a node's
spec is read only when the node runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
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
    from pit.dag.compiled import CompiledDag
    from pit.dag.estimate import fingerprint, remaining_seconds
    from pit.dag.limits import child_run_id
    from pit.dag.refs import resolve
    from pit.dag.run import (
        STATUS_PAGE,
        DagRunInput,
        RunPlan,
        StatusPage,
        status_page,
        unwrap,
    )
    from pit.dag.scheduler import Scheduler
    from pit.dag.spec import NodeSpec
    from pit.dag.status import DagStatus, NodeState, NodeStatus, Progress, RunState
    from pit.infra.temporal.search_attributes import PIT_PROGRESS
    from pit.workflows.arbiter_link import ArbiterLink
    from pit.workflows.dag_failures import NodeFailed, activity_failure, retry_policy
    from pit.workflows.dag_handover import next_run_input
    from pit.workflows.dag_models import on_model_host
    from pit.workflows.dag_resources import hold_resources


@workflow.defn(name="pit.dag")
class DagWorkflow:
    def __init__(self) -> None:
        self._input: DagRunInput | None = None
        self._plan: RunPlan | None = None
        self._dag: CompiledDag | None = None
        self._scheduler: Scheduler | None = None
        self._nodes: dict[str, NodeStatus] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
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
        self._scheduler = Scheduler(dag.topology, self._nodes)
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
            }
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
        scheduler, dag, plan = self._scheduler, self._dag, self._plan
        assert scheduler is not None and dag is not None and plan is not None
        limit = dag.settings.parallel_limit
        while not scheduler.finished:
            if self._should_continue(run):
                await workflow.wait_condition(lambda: scheduler.running == 0 and not self._live)
                started_at = self._status.started_at or workflow.now()
                try:
                    handed = next_run_input(
                        run, plan, self._nodes, started_at, self._progress_marks
                    )
                except WorkFailedError as too_big:
                    scheduler.cancel_pending(too_big.message)
                    raise
                workflow.continue_as_new(handed)
            for node_id in scheduler.take_ready(limit - scheduler.running):
                task = asyncio.create_task(self._run_node(node_id))
                self._tasks[node_id] = task
                self._live.add(task)
                task.add_done_callback(self._live.discard)
            self._changed = False
            await workflow.wait_condition(lambda: self._changed)
            if self._crashed is not None:
                raise self._crashed
        # a finished node may still be giving back its resources
        await workflow.wait_condition(lambda: not self._live)
        self._report_progress(force=True)

    def _should_continue(self, run: DagRunInput) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= run.continue_after_events
        )

    async def _run_node(self, node_id: str) -> None:
        assert self._dag is not None
        status = self._nodes[node_id]
        status.started_at = workflow.now()
        try:
            node = self._dag.node(node_id)
        except ValueError as error:  # a run input not built by the client (`prepare_run`)
            problem = error.errors()[0]["msg"] if isinstance(error, ValidationError) else error
            status.error, status.error_type = f"the node's spec is invalid: {problem}", "validation"
            self._end(node_id, NodeState.FAILED)
            return
        try:
            async with hold_resources(self._dag.header, node, status, self._arbiters):
                await self._attempt(node, status)
        except NodeFailed as refused:  # the arbiter did not grant the node's resources
            await self._recover(node, refused)
        except asyncio.CancelledError:
            status.error = status.error or "cancelled"
            self._end(node_id, NodeState.CANCELLED)
        except Exception as bug:
            # a bug in this workflow's own code: fail the workflow task (Temporal retries it,
            # so a fixed worker can carry on) rather than leave the node running forever
            self._crashed = bug
            self._changed = True

    async def _attempt(self, node: NodeSpec, status: NodeStatus) -> None:
        assert self._input is not None and self._dag is not None
        node_id = node.id
        try:
            try:
                inputs = resolve(
                    node.inputs,
                    self._outputs,
                    self._input.run_inputs,
                    f"nodes.{node_id}.inputs",
                )
            except InvalidInputError as error:
                raise NodeFailed(error.message, error.code, 0) from None
            parents = [self._nodes[p].fingerprint for p in self._dag.topology.parents[node_id]]
            status.fingerprint = fingerprint(self._dag.step_of[node_id], inputs, parents)
            if self._reuse(node_id, status):
                return
            status.reason = status.reason or self._why_run(node_id)
            attempts: int | None = 1
            if node.dag is not None:
                output = await self._run_child(node, inputs)
            else:
                assert node.activity is not None
                output, attempts = await self._execute(node, node.activity, inputs)
            self._succeed(node_id, output, attempts)
        except NodeFailed as failure:
            await self._recover(node, failure)

    async def _execute(
        self, node: NodeSpec, activity: str, inputs: Any, *, fallback: bool = False
    ) -> tuple[Any, int | None]:
        assert self._dag is not None
        spec = self._dag.settings
        # the node's id names its activity, so Temporal's CLI and UI name the node too
        # (`temporal activity complete --activity-id <node>`)
        activity_id = f"{node.id}/fallback" if fallback else node.id
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
                summary=f"{node.id}: {activity}",
            )

        try:
            pickup = spec.defaults.model_pickup
            result = await on_model_host(node, self._nodes[node.id], timeout, pickup, run_on)
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
        try:
            result = await workflow.execute_child_workflow(
                "pit.dag",
                DagRunInput.for_plan(
                    child,
                    run_inputs=inputs if isinstance(inputs, dict) else {"value": inputs},
                    search_attributes=self._input.search_attributes,
                    payload_limit=self._input.payload_limit,
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

    async def _recover(self, node: NodeSpec, failure: NodeFailed) -> None:
        status = self._nodes[node.id]
        status.attempts = failure.attempts or status.attempts
        status.error, status.error_type = failure.message, failure.error_type
        if node.on_failure == "skip":
            status.reason = "skipped after failure (on_failure: skip)"
            self._end(node.id, NodeState.SKIPPED)
            return
        fallback = node.fallback
        if fallback is not None:
            status.fallback = True
            try:
                inputs = fallback.inputs if fallback.inputs is not None else node.inputs
                resolved = resolve(
                    inputs,
                    self._outputs,
                    self._input.run_inputs if self._input else {},
                    f"nodes.{node.id}.on_failure.fallback.inputs",
                )
                output, _ = await self._execute(node, fallback.activity, resolved, fallback=True)
            except NodeFailed as second:
                status.error = f"{failure.message}; fallback {fallback.activity}: {second.message}"
            except InvalidInputError as error:
                status.error = f"{failure.message}; fallback {fallback.activity}: {error.message}"
            else:
                status.output = output
                status.reason = f"fallback {fallback.activity} ran after: {failure.message}"
                self._end(node.id, NodeState.SUCCEEDED)
                return
        self._end(node.id, NodeState.FAILED)
        if self._dag is not None and self._dag.settings.fail_fast:
            await self._stop_running(f"fail_fast: node {node.id} failed")

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

    def _succeed(self, node_id: str, output: Any, attempts: int | None) -> None:
        status = self._nodes[node_id]
        status.output = output
        status.attempts = attempts or max(status.attempts, 1)
        self._end(node_id, NodeState.SUCCEEDED)

    def _end(self, node_id: str, state: NodeState) -> None:
        assert self._scheduler is not None
        self._nodes[node_id].finished_at = workflow.now()
        self._scheduler.finish(node_id, state)
        self._tasks.pop(node_id, None)
        self._changed = True
        self._report_progress()

    async def _stop_running(self, reason: str) -> None:
        assert self._scheduler is not None
        self._scheduler.cancel_pending(reason)
        running = list(self._tasks.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        self._changed = True

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
