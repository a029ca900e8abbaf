"""What Temporal itself says of a DAG run, beside what the run's query says: its execution
state and how it closed (a terminated or timed-out run's query still says `running`), and,
when the query cannot answer at all, what finished rebuilt from the run's history events.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import Client, WorkflowExecutionStatus

from pit.common.errors import InvalidInputError
from pit.dag.compiled import CompiledDag
from pit.dag.estimate import fingerprint
from pit.dag.limits import child_run_id
from pit.dag.refs import resolve
from pit.dag.run import DagRunInput, RunPlan, unwrap
from pit.dag.status import DagStatus, NodeState, NodeStatus, Progress, RunState

TEMPORAL_STATES = {
    WorkflowExecutionStatus.RUNNING: RunState.RUNNING,
    WorkflowExecutionStatus.CONTINUED_AS_NEW: RunState.RUNNING,
    WorkflowExecutionStatus.COMPLETED: RunState.SUCCEEDED,
    WorkflowExecutionStatus.FAILED: RunState.FAILED,
    WorkflowExecutionStatus.CANCELED: RunState.CANCELLED,
    WorkflowExecutionStatus.TERMINATED: RunState.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT: RunState.TIMED_OUT,
}
"""Temporal's execution states in the Pit's one vocabulary."""


class RunExecution(BaseModel):
    """A run's execution as Temporal describes it (the latest run of its workflow id)."""

    run_id: str
    state: RunState
    dag: str | None = None
    started_at: datetime | None = None
    closed_at: datetime | None = None
    task_queue: str | None = None
    task_attempt: int = 0
    """The attempt of the pending workflow task: above 1, the last ones failed."""
    detail: str | None = None
    """How Temporal closed it when the run's code did not (terminated, timed out)."""


def run_state(status: WorkflowExecutionStatus | None) -> RunState | None:
    """Temporal's state of an execution in the Pit's vocabulary."""
    return TEMPORAL_STATES.get(status) if status is not None else None


async def describe_run(client: Client, run_id: str, timeout: Any) -> RunExecution:
    """The run's execution state, with how it closed when Temporal ended it. RPC errors
    propagate (NOT_FOUND: no such run)."""
    description = await client.get_workflow_handle(run_id).describe(rpc_timeout=timeout)
    raw = description.raw_description
    state = run_state(description.status) or RunState.RUNNING
    memo = await description.memo()
    execution = RunExecution(
        run_id=run_id,
        state=state,
        dag=memo.get("dag") if isinstance(memo.get("dag"), str) else None,
        started_at=description.start_time,
        closed_at=description.close_time,
        task_queue=description.task_queue or None,
        task_attempt=(
            raw.pending_workflow_task.attempt if raw.HasField("pending_workflow_task") else 0
        ),
    )
    if state in (RunState.TERMINATED, RunState.TIMED_OUT, RunState.FAILED):
        last = await last_events(client, run_id, 1, timeout)
        execution.detail = close_detail(last[0]) if last else None
    return execution


async def last_events(client: Client, run_id: str, count: int, timeout: Any) -> list[HistoryEvent]:
    response = await client.workflow_service.get_workflow_execution_history_reverse(
        GetWorkflowExecutionHistoryReverseRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=run_id),
            maximum_page_size=count,
        ),
        retry=True,
        timeout=timeout,
    )
    return list(response.history.events)


def close_detail(event: HistoryEvent) -> str | None:
    """How the closing `event` ended the run, in a line."""
    kind = event.WhichOneof("attributes")
    if kind == "workflow_execution_terminated_event_attributes":
        attributes = event.workflow_execution_terminated_event_attributes
        who = f" by {attributes.identity}" if attributes.identity else ""
        why = f": {attributes.reason}" if attributes.reason else ""
        return f"terminated{who}{why}"
    if kind == "workflow_execution_timed_out_event_attributes":
        return "timed out: its execution or run timeout passed"
    if kind == "workflow_execution_failed_event_attributes":
        message = event.workflow_execution_failed_event_attributes.failure.message
        return f"failed: {' '.join(message.split())[:500]}"
    return None


def reconcile(status: DagStatus, execution: RunExecution) -> DagStatus:
    """`status` (from the run's query, or rebuilt) with what Temporal says winning: a run
    Temporal ended itself is reported so, and none of its nodes as still running."""
    closed_by_temporal = execution.state.finished and status.status is RunState.RUNNING
    if not closed_by_temporal:
        return status
    why = execution.detail or f"the run {execution.state.value.replace('_', ' ')}"
    for node in status.nodes.values():
        if not node.state.finished:
            node.state = NodeState.CANCELLED
            node.error = node.error or f"never finished: {why}"
    finished = sum(1 for node in status.nodes.values() if node.state.finished)
    failed = sum(
        1
        for node in status.nodes.values()
        if node.state in (NodeState.FAILED, NodeState.UPSTREAM_FAILED)
    )
    total = max(status.nodes_total, len(status.nodes))
    return status.model_copy(
        update={
            "status": execution.state,
            "finished_at": execution.closed_at,
            "detail": "; ".join(d for d in (execution.detail, status.detail) if d) or None,
            "progress": Progress(total=total, done=finished, running=0, failed=failed),
        }
    )


async def rebuild_from_history(client: Client, run_id: str) -> tuple[DagRunInput, DagStatus]:
    """What the latest run of `run_id` was started with, and its status as far as its history
    events show it: the nodes it carried over from earlier runs, those whose activity or
    child graph completed (with their outputs and fingerprints, so `resume` can reuse them),
    those reused, skipped or failed. For a run whose status query cannot answer (its code
    fails on replay, or no worker serves its queue)."""
    history = await client.get_workflow_handle(run_id).fetch_history()
    events = list(history.events)
    converter = client.data_converter
    started = events[0].workflow_execution_started_event_attributes
    [run] = await converter.decode(started.input.payloads, [DagRunInput])
    assert isinstance(run, DagRunInput)
    plan = run.plan()
    outcomes = await _outcomes(client, events, plan.dag, run_id)
    nodes = run.carried.nodes() if run.carried else {n: NodeStatus() for n in plan.dag.ids}
    _replay_outcomes(plan, run.run_inputs, nodes, outcomes)
    begun = run.carried.started_at if run.carried else _time(events[0])
    status = DagStatus(
        run_id=run_id,
        dag=plan.dag.name,
        status=RunState.RUNNING,
        started_at=begun,
        nodes=nodes,
        resumed_from=run.resumed_from,
        nodes_total=len(nodes),
        detail="rebuilt from the run's history: its status query did not answer",
    )
    return run.model_copy(update={"carried": None}), status


class _Outcome(BaseModel):
    completed: bool
    at: datetime
    output: Any = None
    attempts: int | None = None
    error: str | None = None


async def _outcomes(
    client: Client, events: list[HistoryEvent], dag: CompiledDag, run_id: str
) -> dict[str, _Outcome]:
    """Each activity id (`node`, `node/fallback`) or child graph's node that ended: how."""
    converter = client.data_converter
    scheduled: dict[int, str] = {}
    children = {child_run_id(run_id, n): n for n in dag.ids if dag.child(n) is not None}
    initiated: dict[int, str] = {}
    outcomes: dict[str, _Outcome] = {}
    for event in events:
        kind = event.WhichOneof("attributes")
        if kind == "activity_task_scheduled_event_attributes":
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_id
        elif kind == "activity_task_completed_event_attributes":
            done = event.activity_task_completed_event_attributes
            name = scheduled.get(done.scheduled_event_id)
            if name is not None:
                values = await converter.decode(done.result.payloads)
                output, attempt = unwrap(values[0] if values else None)
                outcomes[name] = _Outcome(
                    completed=True, at=_time(event), output=output, attempts=attempt
                )
        elif kind == "activity_task_failed_event_attributes":
            failed = event.activity_task_failed_event_attributes
            name = scheduled.get(failed.scheduled_event_id)
            if name is not None:
                message = _cause_message(failed.failure)
                outcomes[name] = _Outcome(completed=False, at=_time(event), error=message)
        elif kind == "activity_task_timed_out_event_attributes":
            timed_out = event.activity_task_timed_out_event_attributes
            name = scheduled.get(timed_out.scheduled_event_id)
            if name is not None:
                outcomes[name] = _Outcome(
                    completed=False, at=_time(event), error="the activity timed out"
                )
        elif kind == "start_child_workflow_execution_initiated_event_attributes":
            child_id = event.start_child_workflow_execution_initiated_event_attributes.workflow_id
            if child_id in children:
                initiated[event.event_id] = children[child_id]
        elif kind == "child_workflow_execution_completed_event_attributes":
            done_child = event.child_workflow_execution_completed_event_attributes
            node_id = initiated.get(done_child.initiated_event_id)
            child = dag.child(node_id) if node_id is not None else None
            if node_id is not None and child is not None:
                [result] = await converter.decode(done_child.result.payloads, [DagStatus])
                assert isinstance(result, DagStatus)
                sinks = child.topology.sinks()
                output = {s: result.nodes[s].output for s in sinks if s in result.nodes}
                outcomes[node_id] = _Outcome(
                    completed=True, at=_time(event), output=output, attempts=1
                )
    return outcomes


def _time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


def _cause_message(failure: Any) -> str:
    while failure.HasField("cause"):
        failure = failure.cause
    return " ".join((failure.message or "failed").split())[:500]


def _replay_outcomes(
    plan: RunPlan,
    run_inputs: Mapping[str, Any],
    nodes: dict[str, NodeStatus],
    outcomes: Mapping[str, _Outcome],
) -> None:
    """Walk the graph in order as the workflow did: a node whose parents all finished gets
    its fingerprint, then its outcome (reused, succeeded, fallback, skipped or failed)."""
    dag = plan.dag
    parents = dag.topology.parents
    for node_id in dag.topology.order:
        status = nodes[node_id]
        if status.state.finished:
            continue
        if not all(nodes[p].state.lets_children_run for p in parents[node_id]):
            continue
        outputs = {p: nodes[p].output for p in parents[node_id]}
        try:
            node = dag.node(node_id)
            inputs = resolve(node.inputs, outputs, run_inputs, f"nodes.{node_id}.inputs")
        except (ValueError, InvalidInputError):  # a spec or reference the run failed on
            continue
        status.fingerprint = fingerprint(
            dag.step_of[node_id], inputs, [nodes[p].fingerprint for p in parents[node_id]]
        )
        earlier = plan.reuse.get(node_id)
        primary, fallback = outcomes.get(node_id), outcomes.get(f"{node_id}/fallback")
        if earlier is not None and earlier.fingerprint == status.fingerprint and primary is None:
            status.state, status.output = NodeState.SUCCEEDED, earlier.output
            status.reason = f"reused from run {earlier.run_id}: same activity, inputs and upstream"
        elif primary is not None and primary.completed:
            status.state, status.output = NodeState.SUCCEEDED, primary.output
            status.attempts = primary.attempts or 1
        elif fallback is not None and fallback.completed:
            status.state, status.output = NodeState.SUCCEEDED, fallback.output
            status.fallback = True
            status.error = primary.error if primary else None
        elif primary is not None and node.on_failure == "skip":
            status.state, status.error = NodeState.SKIPPED, primary.error
            status.reason = "skipped after failure (on_failure: skip)"
        elif primary is not None and (node.fallback is None or fallback is not None):
            status.state, status.error = NodeState.FAILED, primary.error
        ended = fallback or primary
        if status.state.finished and ended is not None:
            status.finished_at = ended.at
