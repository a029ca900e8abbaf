"""The arbiter's metrics, recorded from its workflow through `workflow.metric_meter()`: the
SDK drops them while the workflow replays, so a worker that takes an arbiter over counts
nothing twice. Call only from workflow code."""

from __future__ import annotations

from temporalio import workflow

from pit.common.metrics import ARBITER_HELD, ARBITER_WAIT, ARBITER_WAITING


def record_arbiter_state(domain: str, *, waiting: int, held: int) -> None:
    """How many requests wait and how many grants are out, as of this workflow task."""
    meter = workflow.metric_meter()
    labels = {"domain": domain}
    meter.create_gauge(ARBITER_WAITING.name, ARBITER_WAITING.help).set(waiting, labels)
    meter.create_gauge(ARBITER_HELD.name, ARBITER_HELD.help).set(held, labels)


def record_grant_wait(domain: str, seconds: float) -> None:
    """One grant, `seconds` after its request arrived."""
    histogram = workflow.metric_meter().create_histogram_float(ARBITER_WAIT.name, ARBITER_WAIT.help)
    histogram.record(max(0.0, seconds), {"domain": domain})
