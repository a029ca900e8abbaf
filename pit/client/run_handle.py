"""One DAG run from a program: its status while it runs, its result when it ends.

What the run's own query says is checked against what Temporal says of its execution: a run
Temporal terminated or timed out is reported so (its query would still say `running`), a run
whose workflow task keeps failing is reported as stuck with the task's failure, and a closed
run whose query cannot answer is rebuilt from its history events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
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

from pit.client.run_history import (
    RunExecution,
    describe_run,
    last_events,
    rebuild_from_history,
    reconcile,
)
from pit.common.errors import (
    BackendUnavailableError,
    InvalidInputError,
    NotFoundError,
    PitError,
    WorkFailedError,
)
from pit.dag.approval import APPROVE_UPDATE, ApprovalAnswer, ApprovalRecord
from pit.dag.render import Format, render
from pit.dag.run import STATUS_PAGE, DagRunInput, ItemsPage, NodeItems, StatusPage
from pit.dag.status import DagStatus, NodeStatus, Progress
from pit.infra.temporal.reconnect import unreachable
from pit.infra.temporal.task_queues import workflow_pollers

QUERY_TIMEOUT = timedelta(seconds=10)
STUCK_ATTEMPTS = 3
"""A run whose workflow task failed this many times in a row is reported as stuck."""
STUCK_CHECK_SECONDS = 5.0
"""How often `RunHandle.result` looks whether the run it waits on is stuck."""
NO_WORKER_NOTICE_SECONDS = 3.0
"""How long `RunHandle.result` waits before it looks whether any worker polls the run's task
queue (and says so when none does)."""
_FAILURE_SCAN = 50
"""Events read back from the end of a run's history to find its last task failure."""

log = logging.getLogger(__name__)


class RunHandle:
    """One DAG run: its status while it runs, its result when it ends."""

    def __init__(self, client: Client, run_id: str) -> None:
        self.client = client
        self.id = run_id
        self._handle: WorkflowHandle[Any, DagStatus] = client.get_workflow_handle(
            run_id, result_type=DagStatus
        )
        self._rebuilt: tuple[DagRunInput, DagStatus] | None = None

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

    async def cancel(self) -> None:
        """Cancel the run: running nodes are cancelled, pending ones never start."""
        try:
            await self._handle.cancel()
        except RPCError as error:
            raise rpc_error(error, self.id) from None

    async def execution(self) -> RunExecution:
        """What Temporal says of the run's execution: its state in the Pit's vocabulary
        (`terminated`, `timed_out` ... as well), how it closed, its workflow task's attempt."""
        try:
            return await describe_run(self.client, self.id, QUERY_TIMEOUT)
        except RPCError as error:
            raise rpc_error(error, self.id) from None

    async def state(self) -> WorkflowExecutionStatus | None:
        """What Temporal says of the run's execution, in Temporal's own terms."""
        try:
            description = await self._handle.describe()
        except RPCError as error:
            raise rpc_error(error, self.id) from None
        return description.status

    async def result(self, *, notice: Callable[[str], None] | None = None) -> DagStatus:
        """Wait for the run to end and return its whole status (every node), however it
        ended: succeeded, failed, cancelled, or terminated or timed out by Temporal. A run
        whose workflow task keeps failing (a worker bug: Temporal retries it forever) raises
        `WorkFailedError` saying why, instead of being waited on forever. When no worker
        polls the run's task queue after NO_WORKER_NOTICE_SECONDS, `notice` (default: a
        logged warning) is told so, once, and the wait goes on."""
        final = asyncio.ensure_future(self._final_status())
        told = False
        try:
            while True:
                wait = STUCK_CHECK_SECONDS if told else NO_WORKER_NOTICE_SECONDS
                done, _ = await asyncio.wait({final}, timeout=wait)
                if done:
                    return final.result()
                reason = await self.stuck_reason()
                if reason is not None:
                    raise WorkFailedError(reason, run_id=self.id)
                if not told:
                    told = True
                    missing = await self.no_worker()
                    if missing is not None:
                        (notice or log.warning)(missing)
        finally:
            final.cancel()

    async def no_worker(self) -> str | None:
        """A line saying that no worker polls the run's task queue, while that is so and the
        run is open; None otherwise (a worker polls, or the run ended, or the server cannot
        say)."""
        try:
            execution = await self.execution()
        except (PitError, RPCError):
            return None
        if execution.state.finished or await self._served(execution):
            return None
        queue = execution.task_queue
        return (
            f"run {self.id!r}: no worker polls task queue {queue!r} on this server; still "
            f"waiting (start one: `pit --temporal ADDRESS worker --task-queue {queue}`)"
        )

    async def _final_status(self) -> DagStatus:
        try:
            summary = await self._handle.result()
        except WorkflowFailureError:
            # failed, cancelled, terminated, timed out: status() says which, and every node
            return await self.status()
        except RPCError as error:
            raise rpc_error(error, self.id) from None
        if len(summary.nodes) >= summary.nodes_total:
            return summary
        return await self.status()

    async def status(self) -> DagStatus:
        """The whole status document, read a page of nodes at a time, with Temporal's word
        on the run's state winning over the query's. A stuck run is a `WorkFailedError`
        naming its task's failure; a closed run whose query cannot answer is rebuilt from
        its history (`detail` says so)."""
        execution = await self.execution()
        if not execution.state.finished:
            reason = await self._stuck(execution.task_attempt, failed_task=False)
            if reason is not None:
                raise WorkFailedError(reason, run_id=self.id)
            if not await self._served(execution):  # its query would wait out its timeout
                return await self._unserved(execution)
        if execution.state.finished and (
            self._rebuilt is not None or not await self._served(execution)
        ):
            return reconcile(await self._from_history(execution), execution)
        try:
            status = await self._queried_status()
        except (WorkFailedError, BackendUnavailableError, RPCError):
            if not execution.state.finished:
                raise
            status = await self._from_history(execution)
        return reconcile(status, execution)

    async def _queried_status(self) -> DagStatus:
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
        self, node: str, *, by: str, approve: bool = True, comment: str | None = None
    ) -> ApprovalRecord:
        """Answer approval node `node` (`approve=False`: reject it). Returns once the run has
        recorded the answer; a node that is not an approval node, or not waiting, is refused
        with InvalidInputError and nothing changes."""
        try:
            answer = ApprovalAnswer(node=node, approve=approve, comment=comment, by=by)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidInputError.for_field(f"--{where}", node, first["msg"]) from None
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

    async def progress(self) -> Progress | None:
        """Counts and the critical-path estimate, without the nodes: cheap to poll."""
        progress: Progress | None = await self._query("progress", None, Progress)
        return progress

    async def input(self) -> DagRunInput:
        """What the run was started with (the compiled graph, inputs, what it reused); from
        its history when it is closed and its query cannot answer."""
        if self._rebuilt is not None:
            return self._rebuilt[0]
        try:
            run_input: DagRunInput = await self._query("input", None, DagRunInput)
        except (WorkFailedError, BackendUnavailableError, RPCError):
            execution = await self.execution()
            if not execution.state.finished:
                raise
            await self._from_history(execution)
            assert self._rebuilt is not None
            return self._rebuilt[0]
        return run_input

    async def _from_history(self, execution: RunExecution) -> DagStatus:
        """The run's status rebuilt from its history (once per handle); when even that cannot
        be read, the bare state Temporal gives, saying why."""
        if self._rebuilt is None:
            try:
                self._rebuilt = await rebuild_from_history(self.client, self.id)
            except RPCError as error:
                raise rpc_error(error, self.id) from None
            except (PitError, RuntimeError, ValueError) as error:  # its payloads unreadable
                return _bare(execution, f"nor could its history be read: {error}")
        return self._rebuilt[1].model_copy(deep=True)

    async def _unserved(self, execution: RunExecution) -> DagStatus:
        """An open run no worker serves: what its history shows so far (read afresh each
        time: the run goes on when a worker comes), saying why."""
        why = (
            f"no worker polls task queue {execution.task_queue!r}, so the run's status query "
            "cannot answer: this is what its history shows"
        )
        try:
            _, status = await rebuild_from_history(self.client, self.id)
        except RPCError as error:
            raise rpc_error(error, self.id) from None
        except (PitError, RuntimeError, ValueError) as error:
            return _bare(execution, f"nor could its history be read: {error}", why)
        status.detail = why
        return status

    async def _served(self, execution: RunExecution) -> bool:
        """True when a worker polls the run's task queue (a closed run's query would wait for
        one until its timeout otherwise)."""
        if not execution.task_queue:
            return True
        try:
            return await workflow_pollers(self.client, execution.task_queue, QUERY_TIMEOUT) > 0
        except RPCError:
            return True  # let the query say what is wrong

    async def stuck_reason(self, failed_task: bool = False) -> str | None:
        """Why the run cannot make progress when its workflow task keeps failing; None when
        it is not stuck. `failed_task`: the server already said the task is failing."""
        execution = await describe_run(self.client, self.id, QUERY_TIMEOUT)
        if execution.state.finished:
            return None
        return await self._stuck(execution.task_attempt, failed_task)

    async def _stuck(self, attempt: int, failed_task: bool) -> str | None:
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
        for event in await last_events(self.client, self.id, _FAILURE_SCAN, QUERY_TIMEOUT):
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


def _bare(execution: RunExecution, problem: str, why: str | None = None) -> DagStatus:
    """The state Temporal gives, without nodes, when neither the query nor the history can
    say more; `detail` says why."""
    detail = f"{why or 'its status query did not answer'}; {problem}"
    return DagStatus(
        run_id=execution.run_id,
        dag=execution.dag or "",
        status=execution.state,
        started_at=execution.started_at,
        finished_at=execution.closed_at,
        detail=" ".join(detail.split())[:1000],
    )


def rpc_error(error: RPCError, run_id: str) -> Exception:
    """A Temporal RPC error about run `run_id` as the Pit reports it."""
    if error.status is RPCStatusCode.NOT_FOUND:
        return NotFoundError(f"no DAG run {run_id!r} on this server", run_id=run_id)
    if unreachable(error):
        return BackendUnavailableError(
            f"temporal: no answer about run {run_id!r} ({error.message}); is a worker running?"
        )
    return error  # pit.cli._failures words the rest


__all__ = ["QUERY_TIMEOUT", "STUCK_ATTEMPTS", "RunExecution", "RunHandle", "rpc_error"]
