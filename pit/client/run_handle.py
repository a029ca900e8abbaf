"""One DAG run from a program: its status, items, progress, approvals, graph and result.

handle = pit.runs.get("review-1a2b3c4d")
await handle.approve("ship", by="ann")
status = await handle.result()
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

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
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from pit.common.errors import (
    BackendUnavailableError,
    InvalidInputError,
    NotFoundError,
    WorkFailedError,
)
from pit.dag.approval import APPROVE_UPDATE, ApprovalAnswer, ApprovalRecord
from pit.dag.render import Format, render
from pit.dag.run import STATUS_PAGE, DagRunInput, ItemsPage, NodeItems, StatusPage
from pit.dag.status import DagStatus, NodeStatus, Progress
from pit.infra.temporal.reconnect import unreachable

QUERY_TIMEOUT = timedelta(seconds=10)
STUCK_ATTEMPTS = 3
"""A run whose workflow task failed this many times in a row is reported as stuck."""
STUCK_CHECK_SECONDS = 5.0
"""How often `RunHandle.result` looks whether the run it waits on is stuck."""
_FAILURE_SCAN = 50
"""Events read back from the end of a run's history to find its last task failure."""


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
            raise rpc_error(error, self.id) from None

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
            raise rpc_error(error, self.id) from None
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
            raise rpc_error(error, self.id) from None
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
            raise rpc_error(error, self.id) from None

    async def state(self) -> WorkflowExecutionStatus | None:
        """What Temporal says of the run's execution (running, completed, terminated ...)."""
        try:
            description = await self._handle.describe()
        except RPCError as error:
            raise rpc_error(error, self.id) from None
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
            raise rpc_error(error, self.id) from None


def _first_problem(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(error)


def rpc_error(error: RPCError, run_id: str) -> Exception:
    if error.status is RPCStatusCode.NOT_FOUND:
        return NotFoundError(f"no DAG run {run_id!r} on this server", run_id=run_id)
    if unreachable(error):
        return BackendUnavailableError(
            f"temporal: no answer about run {run_id!r} ({error.message}); is a worker running?"
        )
    return error  # pit.cli._failures words the rest
