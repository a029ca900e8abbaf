"""A model node's use of its model, carried in the node's own activity instead of a warm
activity before it: one round trip fewer when the model is hot where the node runs.

The DAG workflow sets `MODEL_USE` around scheduling the node's activity; the workflow
interceptor (on every Pit worker) copies it into the activity's `pit-model` header; the pool
host's activity interceptor acquires the model with the run as the session before the
activity runs, so the host's predictor learns the run's sequence of models exactly as from
`pit.pool.warm`, and a model evicted since placement is loaded again first.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from temporalio import activity
from temporalio.converter import PayloadConverter
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.workflow import ActivityHandle

from pit.common.errors import PitError
from pit.infra.temporal.failures import to_application_error
from pit.pool import ModelPool

MODEL_HEADER = "pit-model"
MODEL_USE: ContextVar[str | None] = ContextVar("pit_model_use", default=None)
"""Inside a DAG run: the model the activity scheduled next uses (None: none)."""

_CONVERTER = PayloadConverter.default
"""Headers skip the data converter's codec: a plain JSON string on both sides."""


class _Outbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> ActivityHandle[Any]:
        model = MODEL_USE.get()
        if model is not None:
            input.headers = {**input.headers, MODEL_HEADER: _CONVERTER.to_payload(model)}
        return self.next.start_activity(input)


class _Inbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_Outbound(outbound))


class ModelUseHeader(Interceptor):
    """Workflow side: the `pit-model` header on activities scheduled under `MODEL_USE`."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _Inbound


class _AcquireFirst(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, pool: ModelPool) -> None:
        super().__init__(next)
        self._pool = pool

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        header = input.headers.get(MODEL_HEADER)
        if header is not None:
            model = _CONVERTER.from_payload(header, str)
            try:
                async with self._pool.acquire(model, session=activity.info().workflow_id):
                    pass
            except PitError as error:  # outside the Pit's own error interceptor
                raise to_application_error(error) from error
        return await self.next.execute_activity(input)


class ModelUseOnHost(Interceptor):
    """Host side: an activity with a `pit-model` header is a use of that model by its run."""

    def __init__(self, pool: ModelPool) -> None:
        self._pool = pool

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _AcquireFirst(next, self._pool)
