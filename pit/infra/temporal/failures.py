"""The one place where `PitError` and Temporal failures turn into each other.

Out: a `PitError` raised by an activity or workflow becomes
`ApplicationError(message, details, type=code, non_retryable=not retryable)`; the
interceptor does it for every activity and workflow a Pit worker runs.
In: a Temporal failure (however deeply wrapped: workflow failure -> activity error ->
application error) becomes the `PitError` subclass its `type` names.
"""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError, FailureError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from pit.common.errors import ERROR_TYPES, PitError, WorkFailedError, error_type


def to_application_error(error: PitError) -> ApplicationError:
    """The Temporal form of `error`: type = code, non_retryable = not retryable."""
    return ApplicationError(
        error.message,
        error.details,
        type=error.code,
        non_retryable=not error.retryable,
    )


def from_failure(failure: BaseException) -> PitError:
    """The `PitError` behind a Temporal failure; `WorkFailedError` if none is named."""
    if isinstance(failure, PitError):
        return failure
    seen: BaseException | None = failure
    while seen is not None:
        if isinstance(seen, ApplicationError) and seen.type in ERROR_TYPES:
            details: dict[str, Any] = {}
            if seen.details and isinstance(seen.details[0], dict):
                details = dict(seen.details[0])
            return error_type(seen.type)(seen.message, **details)
        seen = seen.cause if isinstance(seen, FailureError) else seen.__cause__
    return WorkFailedError(_innermost_message(failure))


def _innermost_message(failure: BaseException) -> str:
    messages: list[str] = []
    seen: BaseException | None = failure
    while seen is not None:
        text = seen.message if isinstance(seen, FailureError) else str(seen)
        if text:
            messages.append(text)
        seen = seen.cause if isinstance(seen, FailureError) else seen.__cause__
    return messages[-1] if messages else type(failure).__name__


class _ActivityErrors(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except PitError as error:
            raise to_application_error(error) from error


class _WorkflowErrors(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        try:
            return await self.next.execute_workflow(input)
        except PitError as error:
            raise to_application_error(error) from error


class PitErrorInterceptor(Interceptor):
    """Worker interceptor: every `PitError` leaves an activity or workflow as its code."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityErrors(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _WorkflowErrors
