"""How a DAG node's failures are described: the retry policy from its spec, and what an
activity's failure says (message, error type, attempts) for recovery and `pit dag status`."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError

with workflow.unsafe.imports_passed_through():
    from pit.dag.spec import RetrySpec


class NodeFailed(Exception):
    """An attempt of a node failed: what recovery (retry, fallback, skip) starts from."""

    def __init__(self, message: str, error_type: str | None, attempts: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.attempts = attempts


def retry_policy(retry: RetrySpec) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=retry.initial_interval,
        backoff_coefficient=retry.backoff_coefficient,
        maximum_interval=retry.maximum_interval,
        maximum_attempts=retry.max_attempts,
        non_retryable_error_types=list(retry.non_retryable_errors) or None,
    )


def activity_failure(error: ActivityError, retry: RetrySpec) -> NodeFailed:
    cause = error.cause
    attempts: int | None = None
    if error.retry_state is RetryState.MAXIMUM_ATTEMPTS_REACHED:
        attempts = retry.max_attempts
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details else None
        if isinstance(details, dict) and isinstance(details.get("attempt"), int):
            attempts = details["attempt"]
        return NodeFailed(cause.message, cause.type, attempts)
    if isinstance(cause, TimeoutError):
        kind = cause.type.name.lower().replace("_", "-") if cause.type else "timeout"
        return NodeFailed(f"timed out ({kind})", "timeout", attempts)
    return NodeFailed(str(cause or error), None, attempts)
