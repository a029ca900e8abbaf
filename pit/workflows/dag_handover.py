"""Continue-as-new for a DAG run: what a run hands to its next run, and the check that it fits.

Without a claim check on the worker, Temporal refuses a payload over 2 MB, and a hand-over it
refuses fails the workflow task again and again: the run would hang. The client says in the
input whether that cap applies (`DagRunInput.payload_limit`); a hand-over over it ends the run
as failed, saying why, instead.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pit.common.errors import WorkFailedError
    from pit.dag.limits import size_text
    from pit.dag.run import CarriedState, DagRunInput, RunPlan
    from pit.dag.status import NodeStatus


def next_run_input(
    run: DagRunInput,
    plan: RunPlan,
    nodes: dict[str, NodeStatus],
    started_at: datetime,
    progress_marks: int,
    maps: dict[str, list[NodeStatus]] | None = None,
) -> DagRunInput:
    """The input of the run that continues this one; `WorkFailedError` when it would not fit
    the payload limit. `maps`: the items of every expanded map node."""
    carried = CarriedState.pack(started_at, nodes, progress_marks, maps)
    pending = {node_id for node_id, status in nodes.items() if not status.state.finished}
    handed = run.carrying(plan, carried, pending)
    if run.payload_limit is not None:
        size = sum(p.ByteSize() for p in workflow.payload_converter().to_payloads([handed]))
        if size > run.payload_limit:
            raise WorkFailedError(
                f"the run's state is {size_text(size)} with its nodes' outputs, over the "
                f"{size_text(run.payload_limit)} Temporal takes in one payload, so it cannot "
                "continue-as-new: return big outputs as artifacts, or run workers with the "
                "claim check (pit worker)",
                size=size,
                limit=run.payload_limit,
            )
    return handed
