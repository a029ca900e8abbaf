"""Temporal workflows: deterministic orchestration over pure domain code."""

from pit.workflows.arbiter import ArbiterWorkflow
from pit.workflows.check import CheckWorkflow
from pit.workflows.dag import DagWorkflow
from pit.workflows.pool import PoolCommandWorkflow, PoolRegistryWorkflow
from pit.workflows.stale import StaleCleanupWorkflow

PIT_WORKFLOWS: tuple[type, ...] = (
    CheckWorkflow,
    DagWorkflow,
    ArbiterWorkflow,
    StaleCleanupWorkflow,
    PoolRegistryWorkflow,
    PoolCommandWorkflow,
)

__all__ = [
    "PIT_WORKFLOWS",
    "ArbiterWorkflow",
    "CheckWorkflow",
    "DagWorkflow",
    "PoolCommandWorkflow",
    "PoolRegistryWorkflow",
    "StaleCleanupWorkflow",
]
