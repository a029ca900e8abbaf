"""DAG runs from a program: start, watch, status, progress, cancel, resume, list.

runs = pit.runs
handle = await runs.start("review.yaml", inputs={"who": "world"})
status = await handle.result()          # the final DagStatus, every node
again = await runs.resume(handle.id)     # reuses what succeeded and is unchanged
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from pit.client._files import load_dag
from pit.common.errors import (
    BackendUnavailableError,
    InvalidInputError,
    NotFoundError,
    WorkFailedError,
)
from pit.dag.approval import (
    APPROVE_UPDATE,
    WAITING_MEMO,
    ApprovalAnswer,
    ApprovalRecord,
)
from pit.dag.compiled import CompiledDag, compile_graph
from pit.dag.graph import Graph, parse_dag
from pit.dag.limits import RUN_ID, RUN_ID_RULE, check_run_id, default_run_id, run_input_problem
from pit.dag.render import Format, render
from pit.dag.run import (
    DAG_WORKFLOW,
    STATUS_PAGE,
    TEMPORAL_PAYLOAD_LIMIT,
    DagRunInput,
    ItemsPage,
    NodeItems,
    ReusedNode,
    StatusPage,
)
from pit.dag.spec import DagSpec
from pit.dag.status import DagStatus, NodeState, NodeStatus, Progress, RunState
from pit.infra.temporal.reconnect import unreachable
from pit.infra.temporal.search_attributes import (
    PIT_DAG,
    PIT_KIND,
    PIT_NODES,
    PIT_PROGRESS,
    search_attributes_registered,
)

QUERY_TIMEOUT = timedelta(seconds=10)
STUCK_ATTEMPTS = 3
"""A run whose workflow task failed this many times in a row is reported as stuck."""
STUCK_CHECK_SECONDS = 5.0
"""How often `RunHandle.result` looks whether the run it waits on is stuck."""
_FAILURE_SCAN = 50
"""Events read back from the end of a run's history to find its last task failure."""

DagSource = Path | str | Mapping[str, Any] | DagSpec | Graph | CompiledDag
"""What `RunsClient.start` runs: a DAG file's path, its data as a dict, a `DagSpec` built in
code, or a graph already checked (`Graph`) or compiled (`CompiledDag`)."""


class RunSummary(BaseModel):
    """One line of `pit dag list`: what Temporal's visibility knows of a run."""

    run_id: str
    dag: str | None
    nodes: int | None
    status: str | None
    started_at: datetime
    closed_at: datetime | None
    progress: float | None
    waiting_for_approval: list[str] = []
    """Approval nodes the run waits on (from its memo)."""


class RunHandle:
    """One DAG run: its status while it runs, its result when it ends."""

    def __init__(self, client: Client, run_id: str) -> None:
        self.client = client
        self.id = run_id
        self._handle: WorkflowHandle[Any, DagStatus] = client.get_workflow_handle(
            run_id, result_type=DagStatus
        )

    def __repr__(self) -> str:
        return f"RunHandle({self.id!r})"

    @property
    def workflow(self) -> WorkflowHandle[Any, DagStatus]:
        """The run's Temporal workflow handle (history, describe, terminate ...)."""
        return self._handle

    async def terminate(self, reason: str = "terminated from the Pit client") -> None:
        """End the run at once: nothing runs on, nothing is given back (cancel is the gentle
        way). A terminated run can be resumed."""
        try:
            await self._handle.terminate(reason=reason)
        except RPCError as error:
            raise _rpc_error(error, self.id) from None

    async def result(self) -> DagStatus:
        """Wait for the run to end and return its whole status (every node), whether it
        succeeded, failed or was cancelled. A run whose workflow task keeps failing (a worker
        bug: Temporal retries it forever) raises `WorkFailedError` saying why, instead of
        being waited on forever."""
        final = asyncio.ensure_future(self._final_status())
        try:
            while True:
                done, _ = await asyncio.wait({final}, timeout=STUCK_CHECK_SECONDS)
                if done:
                    return final.result()
                reason = await self.stuck_reason()
                if reason is not None:
                    raise WorkFailedError(reason, run_id=self.id)
        finally:
            final.cancel()

    async def _final_status(self) -> DagStatus:
        try:
            summary = await self._handle.result()
        except WorkflowFailureError:
            # failed or cancelled: the status query still answers from the closed run
            return await self.status()
        except RPCError as error:
            raise _rpc_error(error, self.id) from None
        if len(summary.nodes) >= summary.nodes_total:
            return summary
        return await self.status()

    async def status(self) -> DagStatus:
        """The whole status document, read a page of nodes at a time."""
        status = await self._status_page(0)
        while status.nodes_offset + len(status.nodes) < status.nodes_total:
            more = await self._status_page(len(status.nodes))
            if not more.nodes:
                break
            status.nodes.update(more.nodes)
        status.nodes_offset = 0
        return status

    async def _status_page(self, offset: int) -> DagStatus:
        page = StatusPage(offset=offset, limit=STATUS_PAGE)
        status: DagStatus = await self._query("status", page, DagStatus)
        return status

    async def progress(self) -> Progress | None:
        """Counts and the critical-path estimate, without the nodes: cheap to poll."""
        progress: Progress | None = await self._query("progress", None, Progress)
        return progress

    async def input(self) -> DagRunInput:
        """What the run was started with (the compiled graph, inputs, what it reused)."""
        run_input: DagRunInput = await self._query("input", None, DagRunInput)
        return run_input

    async def items(self, node: str) -> list[NodeStatus]:
        """Every item of map node `node`, in item order (the `items` query, a page at a
        time): each with the fields a node has."""
        found: list[NodeStatus] = []
        while True:
            page = ItemsPage(node=node, offset=len(found), limit=2000)
            answer: NodeItems = await self._query("items", page, NodeItems)
            found += answer.items
            if not answer.items or len(found) >= answer.total:
                return found

    async def approve(
        self,
        node: str,
        *,
        by: str,
        approve: bool = True,
        comment: str | None = None,
    ) -> ApprovalRecord:
        """Answer approval node `node` (`approve=False`: reject it). Returns once the run has
        recorded the answer; a node that is not an approval node, or not waiting, is refused
        with InvalidInputError and nothing changes."""
        try:
            answer = ApprovalAnswer(node=node, approve=approve, comment=comment, by=by)
        except ValueError as error:
            raise InvalidInputError.for_field("approval", node, _first_problem(error)) from None
        try:
            record: ApprovalRecord = await self._handle.execute_update(
                APPROVE_UPDATE, answer, result_type=ApprovalRecord, rpc_timeout=QUERY_TIMEOUT
            )
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause)
            message = message.removeprefix(f"{node!r}: ")  # the field names the node already
            raise InvalidInputError.for_field("NODE", node, message) from None
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND and "completed" in error.message:
                rule = f"not waiting for approval (run {self.id!r} has ended)"
                raise InvalidInputError.for_field("NODE", node, rule) from None
            raise _rpc_error(error, self.id) from None
        return record

    async def graph(self, format: Format = "mermaid") -> str:
        """The run's graph with each node's state (and a map's item counts), as Mermaid or
        DOT text (`pit.dag.render`)."""
        plan = (await self.input()).plan()
        status = await self.status()
        return render(plan.dag, status.nodes, format)

    async def cancel(self) -> None:
        """Cancel the run: running nodes are cancelled, pending ones never start."""
        try:
            await self._handle.cancel()
        except RPCError as error:
            raise _rpc_error(error, self.id) from None

    async def state(self) -> WorkflowExecutionStatus | None:
        """What Temporal says of the run's execution (running, completed, terminated ...)."""
        try:
            description = await self._handle.describe()
        except RPCError as error:
            raise _rpc_error(error, self.id) from None
        return description.status

    async def stuck_reason(self, failed_task: bool = False) -> str | None:
        """Why the run cannot make progress when its workflow task keeps failing; None when
        it is not stuck. `failed_task`: the server already said the task is failing."""
        description = await self._handle.describe()
        raw = description.raw_description
        pending = raw.HasField("pending_workflow_task")
        attempt = raw.pending_workflow_task.attempt if pending else 0
        if attempt < STUCK_ATTEMPTS and not failed_task:
            return None
        failure = await self._last_task_failure()
        if failure is None:
            return None
        times = f"{attempt - 1} times in a row" if attempt > 1 else "and is retried"
        return (
            f"run {self.id!r} is stuck: its workflow task failed {times}: {failure} "
            f"(the run stays open: fix the worker, or `pit dag cancel {self.id}`)"
        )

    async def _last_task_failure(self) -> str | None:
        response = await self.client.workflow_service.get_workflow_execution_history_reverse(
            GetWorkflowExecutionHistoryReverseRequest(
                namespace=self.client.namespace,
                execution=WorkflowExecution(workflow_id=self.id),
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

    async def _query(self, name: str, arg: Any, result_type: type) -> Any:
        args = [] if arg is None else [arg]
        try:
            return await self._handle.query(
                name, *args, result_type=result_type, rpc_timeout=QUERY_TIMEOUT
            )
        except WorkflowQueryFailedError as error:
            raise WorkFailedError(
                f"run {self.id!r}: its {name} query failed: {error.message}", run_id=self.id
            ) from None
        except RPCError as error:
            # the server may have answered while the run could not: say why if it is stuck
            failed_task = error.status is RPCStatusCode.FAILED_PRECONDITION
            if failed_task or unreachable(error):
                try:
                    reason = await self.stuck_reason(failed_task)
                except RPCError:
                    reason = None
                if reason is not None:
                    raise WorkFailedError(reason, run_id=self.id) from None
            raise _rpc_error(error, self.id) from None


class RunsClient:
    """DAG runs on one Temporal namespace, started on `task_queue` by default."""

    def __init__(self, client: Client, *, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    def get(self, run_id: str) -> RunHandle:
        """A handle on an existing run (nothing is asked of the server yet)."""
        return RunHandle(self.client, check_run_id(run_id, "run_id"))

    async def start(
        self,
        dag: DagSource,
        *,
        inputs: Mapping[str, Any] | None = None,
        id: str | None = None,
        task_queue: str | None = None,
        known_activities: Collection[str] | None = None,
        reuse: Mapping[str, ReusedNode] | None = None,
        resumed_from: str | None = None,
        no_cache: bool = False,
    ) -> RunHandle:
        """Start a run of `dag` (see `DagSource`) with `${inputs.*}` from `inputs`, under the
        run id `id` (default `<name>-<8 hex>`). Every check happens before anything reaches
        Temporal: a bad graph, a bad id or an input over its limit is an InvalidInputError.
        `known_activities`: refuse nodes whose activity is not in it. `no_cache`: nodes with
        `cache:` neither read nor write the cache."""
        if id is not None:
            check_run_id(id, "id")
        compiled = compile_dag(dag, known_activities)
        run_inputs = dict(inputs or {})
        prepare_run(compiled, run_inputs=run_inputs, reuse=reuse)  # limits, before any RPC
        indexed = await search_attributes_registered(self.client)
        prepared = prepare_run(
            compiled,
            run_inputs=run_inputs,
            reuse=reuse,
            resumed_from=resumed_from,
            search_attributes=indexed,
            claim_checked=self.client.data_converter.external_storage is not None,
            no_cache=no_cache,
        )
        run_id = id or default_run_id(compiled.name, uuid.uuid4().hex[:8])
        attributes = (
            TypedSearchAttributes(
                [
                    SearchAttributePair(PIT_KIND, "dag"),
                    SearchAttributePair(PIT_DAG, compiled.name),
                    SearchAttributePair(PIT_NODES, compiled.size),
                    SearchAttributePair(PIT_PROGRESS, 0.0),
                ]
            )
            if indexed
            else None
        )
        try:
            await self.client.start_workflow(
                DAG_WORKFLOW,
                prepared,
                id=run_id,
                task_queue=task_queue or self.task_queue,
                result_type=DagStatus,
                memo={"dag": compiled.name, "nodes": compiled.size, "resumed_from": resumed_from},
                search_attributes=attributes,
                static_summary=f"DAG {compiled.name} ({compiled.size} nodes)",
            )
        except WorkflowAlreadyStartedError:
            raise InvalidInputError.for_field(
                "id", run_id, "a run with this id exists already"
            ) from None
        except RPCError as error:
            raise _rpc_error(error, run_id) from None
        return RunHandle(self.client, run_id)

    async def resume(
        self,
        run_id: str,
        *,
        dag: DagSource | None = None,
        id: str | None = None,
        task_queue: str | None = None,
    ) -> RunHandle:
        """Run `run_id`'s graph again (or `dag`, an edited one) as a new run, reusing every
        node whose activity, inputs and upstream are unchanged and that succeeded."""
        earlier_handle = self.get(run_id)
        new_id = check_run_id(id, "id") if id is not None else next_run_id(run_id)
        compiled = compile_dag(dag) if dag is not None else None
        earlier = await earlier_handle.status()
        if earlier.status is RunState.RUNNING:
            raise InvalidInputError.for_field("run_id", run_id, "is still running")
        original = await earlier_handle.input()
        return await self.start(
            # the earlier run's compiled graph, as it ran: nothing to parse or check again
            compiled or original.plan().dag,
            inputs=original.run_inputs,
            id=new_id,
            task_queue=task_queue,
            reuse=reusable_nodes(earlier),
            resumed_from=run_id,
        )

    async def list(self, limit: int = 20) -> list[RunSummary]:
        """Recent DAG runs, newest first, as Temporal's visibility sees them."""
        if not 1 <= limit <= 1000:
            raise InvalidInputError.for_field("limit", limit, "must be between 1 and 1000")
        runs: list[RunSummary] = []
        query = f"WorkflowType = '{DAG_WORKFLOW}'"
        try:
            async for execution in self.client.list_workflows(query, limit=limit):
                memo = await execution.memo()
                runs.append(
                    RunSummary(
                        run_id=execution.id,
                        dag=memo.get("dag"),
                        nodes=memo.get("nodes"),
                        status=execution.status.name.lower() if execution.status else None,
                        started_at=execution.start_time,
                        closed_at=execution.close_time,
                        progress=execution.typed_search_attributes.get(PIT_PROGRESS),
                        waiting_for_approval=list(memo.get(WAITING_MEMO) or []),
                    )
                )
                if len(runs) >= limit:
                    break
        except RPCError as error:
            raise _rpc_error(error, "*") from None
        return runs


async def start_run(
    client: Client, dag: DagSource, *, task_queue: str, **options: Any
) -> RunHandle:
    """`RunsClient(client, task_queue=task_queue).start(dag, **options)`."""
    return await RunsClient(client, task_queue=task_queue).start(dag, **options)


async def run_status(client: Client, run_id: str) -> DagStatus:
    """The whole status document of `run_id`."""
    return await RunHandle(client, run_id).status()


def compile_dag(dag: DagSource, known_activities: Collection[str] | None = None) -> CompiledDag:
    """`dag` parsed, checked and compiled once (see `DagSource`)."""
    if isinstance(dag, CompiledDag):
        return dag
    if isinstance(dag, Graph):
        return compile_graph(dag)
    if isinstance(dag, Path | str):
        return compile_graph(load_dag(Path(dag), known_activities))
    data = dag.model_dump(mode="json", exclude_defaults=True) if isinstance(dag, DagSpec) else dag
    return compile_graph(parse_dag(dict(data), known_activities))


def prepare_run(
    compiled: CompiledDag,
    *,
    run_inputs: Mapping[str, Any] | None = None,
    reuse: Mapping[str, ReusedNode] | None = None,
    resumed_from: str | None = None,
    search_attributes: bool = True,
    claim_checked: bool = False,
    no_cache: bool = False,
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
        no_cache=no_cache,
    )
    problem = run_input_problem(len(prepared.model_dump_json()))
    if problem is not None:
        raise InvalidInputError.for_field("dag", compiled.name, problem)
    return prepared


def reusable_nodes(status: DagStatus) -> dict[str, ReusedNode]:
    """What a resumed run may reuse: every node that succeeded, with its fingerprint."""
    return {
        node_id: ReusedNode(fingerprint=node.fingerprint, output=node.output, run_id=status.run_id)
        for node_id, node in status.nodes.items()
        if node.state is NodeState.SUCCEEDED and node.fingerprint
    }


def next_run_id(run_id: str) -> str:
    """`RUN_ID-r1`, `-r2`, ...: the default id of a resumed run."""
    base, sep, number = run_id.rpartition("-r")
    next_id = f"{base}-r{int(number) + 1}" if sep and number.isdigit() else f"{run_id}-r1"
    if RUN_ID.fullmatch(next_id) is None:
        raise InvalidInputError.for_field(
            "id", next_id, f"the default id of the resumed run breaks the rule ({RUN_ID_RULE})"
        )
    return next_id


def _first_problem(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(error)


def _rpc_error(error: RPCError, run_id: str) -> Exception:
    if error.status is RPCStatusCode.NOT_FOUND:
        return NotFoundError(f"no DAG run {run_id!r} on this server", run_id=run_id)
    if unreachable(error):
        return BackendUnavailableError(
            f"temporal: no answer about run {run_id!r} ({error.message}); is a worker running?"
        )
    return error  # pit.cli._failures words the rest
