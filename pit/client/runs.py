"""DAG runs from a program: start, watch, status, progress, cancel, resume, list.

runs = pit.runs
handle = await runs.start("review.yaml", inputs={"who": "world"})
status = await handle.result()          # the final DagStatus, every node
again = await runs.resume(handle.id)     # reuses what succeeded and is unchanged
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from pit.client._files import load_dag
from pit.client._shared_store import require_shared_store
from pit.client.run_handle import QUERY_TIMEOUT, RunHandle, rpc_error
from pit.client.run_history import RunExecution, run_state
from pit.common.errors import InvalidInputError
from pit.dag.approval import WAITING_MEMO
from pit.dag.compiled import CompiledDag, compile_graph
from pit.dag.graph import Graph, parse_dag
from pit.dag.limits import RUN_ID, RUN_ID_RULE, check_run_id, default_run_id, run_input_problem
from pit.dag.run import (
    DAG_WORKFLOW,
    TEMPORAL_PAYLOAD_LIMIT,
    DagRunInput,
    ReusedNode,
)
from pit.dag.spec import DagSpec
from pit.dag.status import DagStatus, NodeState, RunState
from pit.infra.temporal.search_attributes import (
    PIT_PROGRESS,
    dag_tags,
    search_attributes_registered,
)

FREE_ID_TRIES = 100
"""Resumed-run ids (`-r1`, `-r2` ...) tried before `resume` asks for an explicit id."""
ID_TAKEN = "a run with this id exists already"

DagSource = Path | str | Mapping[str, Any] | DagSpec | Graph | CompiledDag
"""What `RunsClient.start` runs: a DAG file's path, its data as a dict, a `DagSpec` built in
code, or a graph already checked (`Graph`) or compiled (`CompiledDag`)."""


class RunSummary(BaseModel):
    """One line of `pit dag list`: what Temporal's visibility knows of a run."""

    run_id: str
    dag: str | None
    nodes: int | None
    status: RunState | None
    """As Temporal's visibility has it, in the words of `pit dag status`."""
    started_at: datetime
    closed_at: datetime | None
    progress: float | None
    waiting_for_approval: list[str] = []
    """Approval nodes the run waits on (from its memo)."""


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
        Temporal: a bad graph, a bad id or an input over its limit is an InvalidInputError,
        and so is an input big enough to be claim-checked when the queue's Pit workers keep
        payloads in another store than this client (they could not read it).
        `known_activities`: refuse nodes whose activity is not in it. `no_cache`: nodes with
        `cache:` neither read nor write the cache."""
        if id is not None:
            check_run_id(id, "id")
        compiled = compile_dag(dag, known_activities)
        run_inputs = dict(inputs or {})
        prepared = prepare_run(  # limits, before any RPC
            compiled,
            run_inputs=run_inputs,
            reuse=reuse,
            resumed_from=resumed_from,
            claim_checked=self.client.data_converter.external_storage is not None,
            no_cache=no_cache,
        )
        if not await search_attributes_registered(self.client):
            # the plan is packed and measured once: this flag changes neither
            prepared = prepared.model_copy(update={"search_attributes": False})
        run_id = id or default_run_id(compiled.name, uuid.uuid4().hex[:8])
        tags = await dag_tags(self.client, compiled, resumed_from)
        queue = task_queue or self.task_queue
        try:
            await require_shared_store(self.client, queue, prepared)
            await self.client.start_workflow(
                DAG_WORKFLOW,
                prepared,
                id=run_id,
                task_queue=queue,
                result_type=DagStatus,
                memo=tags.memo,
                search_attributes=tags.search_attributes,
                static_summary=tags.summary,
            )
        except WorkflowAlreadyStartedError:
            raise InvalidInputError.for_field("id", run_id, ID_TAKEN) from None
        except RPCError as error:
            raise rpc_error(error, run_id) from None
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
        node whose activity, inputs and upstream are unchanged and that succeeded. Any ended
        run can be resumed: failed, cancelled, or terminated or timed out by Temporal (what
        succeeded is read from its history when its query cannot answer). The new run's id
        is `id`, or the first free one of `RUN_ID-r1`, `-r2` ..."""
        earlier_handle = self.get(run_id)
        if id is not None:
            check_run_id(id, "id")
        compiled = compile_dag(dag) if dag is not None else None
        earlier = await earlier_handle.status()
        if earlier.status is RunState.RUNNING:
            raise InvalidInputError.for_field(
                "run_id", run_id, "is still running (cancel or terminate it first)"
            )
        original = await earlier_handle.input()
        for _ in range(FREE_ID_TRIES):
            new_id = id if id is not None else await self.free_run_id(run_id)
            try:
                return await self.start(
                    # the earlier run's compiled graph, as it ran: nothing to parse again
                    compiled or original.plan().dag,
                    inputs=original.run_inputs,
                    id=new_id,
                    task_queue=task_queue,
                    reuse=reusable_nodes(earlier),
                    resumed_from=run_id,
                )
            except InvalidInputError as error:
                # another resume took the free id first: take the next one
                if id is not None or error.details.get("rule") != ID_TAKEN:
                    raise
        raise InvalidInputError.for_field(
            "id", run_id, f"{FREE_ID_TRIES} resumed runs were started at once: name the new one"
        )

    async def free_run_id(self, run_id: str) -> str:
        """The first of `RUN_ID-r1`, `-r2` ... (`next_run_id`) no run has: resuming a run
        twice gives `-r2` the second time."""
        candidate = next_run_id(run_id)
        for _ in range(FREE_ID_TRIES):
            try:
                await self.client.get_workflow_handle(candidate).describe(rpc_timeout=QUERY_TIMEOUT)
            except RPCError as error:
                if error.status is RPCStatusCode.NOT_FOUND:
                    return candidate
                raise rpc_error(error, candidate) from None
            candidate = next_run_id(candidate)
        raise InvalidInputError.for_field(
            "id", candidate, f"{FREE_ID_TRIES} resumed runs of {run_id!r} exist: name the new one"
        )

    async def execution(self, run_id: str) -> RunExecution:
        """`get(run_id).execution()`: what Temporal says of the run's execution."""
        return await self.get(run_id).execution()

    async def list(self, limit: int = 20) -> list[RunSummary]:
        """Recent DAG runs, newest first, as Temporal's visibility sees them."""
        if not 1 <= limit <= 1000:
            raise InvalidInputError.for_field("limit", limit, "must be between 1 and 1000")
        runs: list[RunSummary] = []
        # one line a run: the runs it continued-as-new from are the same run
        query = f"WorkflowType = '{DAG_WORKFLOW}' AND ExecutionStatus != 'ContinuedAsNew'"
        try:
            async for execution in self.client.list_workflows(query, limit=limit):
                memo = await execution.memo()
                runs.append(
                    RunSummary(
                        run_id=execution.id,
                        dag=memo.get("dag"),
                        nodes=memo.get("nodes"),
                        status=run_state(execution.status),
                        started_at=execution.start_time,
                        closed_at=execution.close_time,
                        progress=execution.typed_search_attributes.get(PIT_PROGRESS),
                        waiting_for_approval=list(memo.get(WAITING_MEMO) or []),
                    )
                )
                if len(runs) >= limit:
                    break
        except RPCError as error:
            raise rpc_error(error, "*") from None
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
    problem = run_input_problem(prepared.packed_size())
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
