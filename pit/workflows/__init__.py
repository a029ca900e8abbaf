"""Temporal workflows: deterministic orchestration over pure domain code."""

from pit.workflows.check import CheckInput, CheckResult, CheckWorkflow
from pit.workflows.dag import DagWorkflow

PIT_WORKFLOWS: tuple[type, ...] = (CheckWorkflow, DagWorkflow)

__all__ = ["PIT_WORKFLOWS", "CheckInput", "CheckResult", "CheckWorkflow", "DagWorkflow"]
