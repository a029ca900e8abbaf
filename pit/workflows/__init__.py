"""Temporal workflows: deterministic orchestration over pure domain code."""

from pit.workflows.arbiter import ArbiterWorkflow
from pit.workflows.check import CheckInput, CheckResult, CheckWorkflow
from pit.workflows.dag import DagWorkflow

PIT_WORKFLOWS: tuple[type, ...] = (CheckWorkflow, DagWorkflow, ArbiterWorkflow)

__all__ = [
    "PIT_WORKFLOWS",
    "ArbiterWorkflow",
    "CheckInput",
    "CheckResult",
    "CheckWorkflow",
    "DagWorkflow",
]
