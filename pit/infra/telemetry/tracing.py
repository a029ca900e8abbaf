"""OpenTelemetry traces of clients and workers: Temporal's `TracingInterceptor` carries the
trace from the client that starts a run through its workflow and every activity, so one DAG
run is one trace; the Pit's own spans (`pit.common.spans`: artifact puts and gets, a node's
attempt, a program's wait for a grant) join it. Spans leave through OTLP/HTTP to
`[telemetry] otlp_endpoint`, or through the span processor a test gives."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from temporalio.contrib.opentelemetry import TracingInterceptor

from pit.common import spans
from pit.common.config import TelemetrySettings

OTLP_TRACES_PATH = "/v1/traces"
EXPORT_TIMEOUT_SECONDS = 5
"""How long one export may try a collector that does not answer (also bounds the exit)."""
FLUSH_TIMEOUT_MILLIS = 3000


@dataclass(frozen=True)
class Tracing:
    """The process's tracer and the interceptor that traces its clients and workers."""

    provider: TracerProvider
    tracer: trace.Tracer
    interceptor: TracingInterceptor

    def close(self) -> None:
        """Flush what is pending (for a few seconds at most) and stop tracing here."""
        global _current
        if _current is self:
            _current = None
            spans.install(None)
        self.provider.force_flush(FLUSH_TIMEOUT_MILLIS)
        self.provider.shutdown()


_current: Tracing | None = None


def start_tracing(
    settings: TelemetrySettings,
    *,
    processor: SpanProcessor | None = None,
    set_global: bool = True,
) -> Tracing | None:
    """Trace this process as `settings` say (None: no `otlp_endpoint` and no `processor`);
    once per process, later calls return the same. `set_global` makes it OpenTelemetry's
    global provider too, so spans that activities open themselves join the run's trace."""
    global _current
    if _current is not None:
        return _current
    if processor is None:
        if settings.otlp_endpoint is None:
            return None
        processor = BatchSpanProcessor(_otlp_exporter(settings.otlp_endpoint))
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.service_name}))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("pit")
    if set_global:
        trace.set_tracer_provider(provider)

    def open_span(
        name: str, attributes: Mapping[str, spans.Attribute]
    ) -> AbstractContextManager[object]:
        return tracer.start_as_current_span(name, attributes=attributes)

    spans.install(open_span)
    _current = Tracing(provider, tracer, TracingInterceptor(tracer))
    return _current


def stop_tracing() -> None:
    """Flush and stop this process's tracing, if it was started."""
    if _current is not None:
        _current.close()


def current() -> Tracing | None:
    """This process's tracing, if it was started."""
    return _current


def _otlp_exporter(endpoint: str) -> SpanExporter:
    # imported here: only a process that exports traces needs the exporter's dependencies
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint + OTLP_TRACES_PATH, timeout=EXPORT_TIMEOUT_SECONDS)
