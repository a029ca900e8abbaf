"""Temporal workflows: deterministic orchestration over pure domain code."""

from pit.workflows.check import CheckInput, CheckResult, CheckWorkflow

PIT_WORKFLOWS: tuple[type, ...] = (CheckWorkflow,)

__all__ = ["PIT_WORKFLOWS", "CheckInput", "CheckResult", "CheckWorkflow"]
