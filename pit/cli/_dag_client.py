"""Client calls for DAG runs: start, watch, status, cancel, list, resume."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from pit.common.errors import (
    BackendUnavailableError,
    InvalidInputError,
    NotFoundError,
    WorkFailedError,
)
from pit.dag.compiled import CompiledDag, compile_graph
from pit.dag.graph import Graph
from pit.dag.limits import check_run_id, default_run_id, run_input_problem
from pit.dag.run import (
    DAG_WORKFLOW,
    STATUS_PAGE,
    TEMPORAL_PAYLOAD_LIMIT,
    DagRunInput,
    ReusedNode,
    StatusPage,
)
from pit.dag.status import DagStatus, NodeState, Progress
from pit.infra.temporal.reconnect import unreachable
from pit.infra.temporal.search_attributes import (
    PIT_DAG,
    PIT_KIND,
    PIT_NODES,
    PIT_PROGRESS,
    PIT_SEARCH_ATTRIBUTES,
)

QUERY_TIMEOUT = timedelta(seconds=10)


async def search_attributes_registered(client: Client) -> bool:
    """True when the namespace knows every Pit search attribute (the UI can then filter)."""
    try:
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError:
        return False
    known = set(response.custom_attributes)
    return all(key.name in known for key in PIT_SEARCH_ATTRIBUTES)


def prepare_run(
    compiled: CompiledDag,
    *,
    run_inputs: Mapping[str, Any] | None = None,
    reuse: Mapping[str, ReusedNode] | None = None,
    resumed_from: str | None = None,
    search_attributes: bool = True,
    claim_checked: bool = False,
) -> DagRunInput:
    """The workflow input of a run of `compiled`, refused with the limit named when it is too
    big to send. `claim_checked`: big payloads go to the artifact store, so Temporal's payload
    cap does not bind what the run carries across continue-as-new."""
    prepared = DagRunInput.for_plan(
        compiled,
        dict(reuse or {}),
        run_inputs=dict(run_inputs or {}),
        resumed_from=resumed_from,
        search_attributes=search_attributes,
        payload_limit=None if claim_checked else TEMPORAL_PAYLOAD_LIMIT,
    )
    problem = run_input_problem(len(prepared.model_dump_json()))
    if problem is not None:
        raise InvalidInputError.for_field("dag", compiled.name, problem)
    return prepared


async def start_run(
    client: Client,
    dag: Graph | CompiledDag,
    *,
    task_queue: str,
    run_id: str | None = None,
    run_inputs: Mapping[str, Any] | None = None,
    reuse: Mapping[str, ReusedNode] | None = None,
    resumed_from: str | None = None,
) -> WorkflowHandle[Any, DagStatus]:
    """Start a run of `dag` (a checked graph, or the compiled one of an earlier run)."""
    if run_id is not None:
        check_run_id(run_id)
    # compiled here, once: the workflow never checks the graph again
    compiled = dag if isinstance(dag, CompiledDag) else compile_graph(dag)
    indexed = await search_attributes_registered(client)
    prepared = prepare_run(
        compiled,
        run_inputs=run_inputs,
        reuse=reuse,
        resumed_from=resumed_from,
        search_attributes=indexed,
        claim_checked=client.data_converter.external_storage is not None,
    )
    name, size = compiled.name, compiled.size
    workflow_id = run_id or default_run_id(name, uuid.uuid4().hex[:8])
    attributes = (
        TypedSearchAttributes(
            [
                SearchAttributePair(PIT_KIND, "dag"),
                SearchAttributePair(PIT_DAG, name),
                SearchAttributePair(PIT_NODES, size),
                SearchAttributePair(PIT_PROGRESS, 0.0),
            ]
        )
        if indexed
        else None
    )
    try:
        return await client.start_workflow(
            DAG_WORKFLOW,
            prepared,
            id=workflow_id,
            task_queue=task_queue,
            result_type=DagStatus,
            memo={"dag": name, "nodes": size, "resumed_from": resumed_from},
            search_attributes=attributes,
            static_summary=f"DAG {name} ({size} nodes)",
        )
    except WorkflowAlreadyStartedError:
        raise InvalidInputError.for_field(
            "--id", workflow_id, "a run with this id exists already"
        ) from None
    except RPCError as error:
        raise _rpc_error(error, workflow_id) from None


async def run_status(client: Client, run_id: str) -> DagStatus:
    """The whole status document, read a page of nodes at a time."""
    status = await _status_page(client, run_id, 0)
    while status.nodes_offset + len(status.nodes) < status.nodes_total:
        more = await _status_page(client, run_id, len(status.nodes))
        if not more.nodes:
            break
        status.nodes.update(more.nodes)
    status.nodes_offset = 0
    return status


async def complete_status(client: Client, summary: DagStatus) -> DagStatus:
    """`summary` (a workflow result) with every node, querying for any it lacks."""
    if len(summary.nodes) >= summary.nodes_total:
        return summary
    return await run_status(client, summary.run_id)


async def _status_page(client: Client, run_id: str, offset: int) -> DagStatus:
    status: DagStatus = await _query(
        client, run_id, "status", StatusPage(offset=offset, limit=STATUS_PAGE), DagStatus
    )
    return status


async def run_progress(client: Client, run_id: str) -> Progress | None:
    progress: Progress | None = await _query(client, run_id, "progress", None, Progress)
    return progress


async def _query(client: Client, run_id: str, name: str, arg: Any, result_type: type) -> Any:
    handle = client.get_workflow_handle(run_id)
    args = [] if arg is None else [arg]
    try:
        return await handle.query(name, *args, result_type=result_type, rpc_timeout=QUERY_TIMEOUT)
    except WorkflowQueryFailedError as error:
        raise WorkFailedError(
            f"run {run_id!r}: its {name} query failed: {error.message}", run_id=run_id
        ) from None
    except RPCError as error:
        # the server may have answered while the run could not: say why if it is stuck
        failed_task = error.status is RPCStatusCode.FAILED_PRECONDITION
        if failed_task or unreachable(error):
            reason = await _stuck_or_none(client, run_id, failed_task)
            if reason is not None:
                raise WorkFailedError(reason, run_id=run_id) from None
        raise _rpc_error(error, run_id) from None


STUCK_ATTEMPTS = 3
"""A run whose workflow task failed this many times in a row is reported as stuck."""


async def stuck_reason(client: Client, run_id: str, failed_task: bool = False) -> str | None:
    """Why the run cannot make progress, when its workflow task keeps failing (Temporal
    retries it forever and the run stays open); None when it is not stuck. `failed_task`:
    the server already said the task is in a failed state."""
    description = await client.get_workflow_handle(run_id).describe()
    raw = description.raw_description
    attempt = raw.pending_workflow_task.attempt if raw.HasField("pending_workflow_task") else 0
    if attempt < STUCK_ATTEMPTS and not failed_task:
        return None
    failure = await _last_task_failure(client, run_id)
    if failure is None:
        return None
    times = f"{attempt - 1} times in a row" if attempt > 1 else "and is retried"
    return (
        f"run {run_id!r} is stuck: its workflow task failed {times}: {failure} "
        f"(the run stays open: fix the worker, or `pit dag cancel {run_id}`)"
    )


async def _stuck_or_none(client: Client, run_id: str, failed_task: bool) -> str | None:
    try:
        return await stuck_reason(client, run_id, failed_task)
    except RPCError:
        return None


async def _last_task_failure(client: Client, run_id: str) -> str | None:
    response = await client.workflow_service.get_workflow_execution_history_reverse(
        GetWorkflowExecutionHistoryReverseRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=run_id),
            maximum_page_size=_FAILURE_SCAN,
        ),
        retry=True,
        timeout=QUERY_TIMEOUT,
    )
    for event in response.history.events:
        if event.HasField("workflow_task_failed_event_attributes"):
            failure = event.workflow_task_failed_event_attributes.failure
            return " ".join((failure.message or "no message").split())[:500]
    return None


_FAILURE_SCAN = 50
"""Events read back from the end of a run's history to find its last task failure."""


async def run_state(client: Client, run_id: str) -> WorkflowExecutionStatus | None:
    try:
        description = await client.get_workflow_handle(run_id).describe()
    except RPCError as error:
        raise _rpc_error(error, run_id) from None
    return description.status


async def run_input(client: Client, run_id: str) -> DagRunInput:
    try:
        value: DagRunInput = await client.get_workflow_handle(run_id).query(
            "input", result_type=DagRunInput, rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError as error:
        raise _rpc_error(error, run_id) from None
    return value


async def cancel_run(client: Client, run_id: str) -> None:
    try:
        await client.get_workflow_handle(run_id).cancel()
    except RPCError as error:
        raise _rpc_error(error, run_id) from None


async def list_runs(client: Client, limit: int = 20) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    async for execution in client.list_workflows(f"WorkflowType = '{DAG_WORKFLOW}'", limit=limit):
        memo = await execution.memo()
        runs.append(
            {
                "run_id": execution.id,
                "dag": memo.get("dag"),
                "nodes": memo.get("nodes"),
                "status": execution.status.name.lower() if execution.status else None,
                "started_at": execution.start_time.isoformat(timespec="milliseconds"),
                "closed_at": (
                    execution.close_time.isoformat(timespec="milliseconds")
                    if execution.close_time
                    else None
                ),
                "progress": execution.typed_search_attributes.get(PIT_PROGRESS),
            }
        )
        if len(runs) >= limit:
            break
    return runs


def reusable_nodes(status: DagStatus) -> dict[str, ReusedNode]:
    """What a resumed run may reuse: every node that succeeded, with its fingerprint."""
    return {
        node_id: ReusedNode(fingerprint=node.fingerprint, output=node.output, run_id=status.run_id)
        for node_id, node in status.nodes.items()
        if node.state is NodeState.SUCCEEDED and node.fingerprint
    }


def _rpc_error(error: RPCError, run_id: str) -> Exception:
    if error.status is RPCStatusCode.NOT_FOUND:
        return NotFoundError(f"no DAG run {run_id!r} on this server", run_id=run_id)
    if unreachable(error):
        return BackendUnavailableError(
            f"temporal: no answer about run {run_id!r} ({error.message}); is a worker running?"
        )
    return error  # pit.cli._failures words the rest
