"""The tracing interceptor a client and its workers get, without loading OpenTelemetry when
nothing is traced (`[telemetry] otlp_endpoint` unset and no tracing started)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from pit.common.config import TelemetrySettings

if TYPE_CHECKING:
    from temporalio.contrib.opentelemetry import TracingInterceptor

_TRACING = "pit.infra.telemetry.tracing"


def tracing_interceptors(settings: TelemetrySettings) -> list[TracingInterceptor]:
    """The interceptor to give a client (its workers inherit it), when tracing is on: this
    process already traces (`start_tracing`), or `settings` name a collector."""
    loaded = sys.modules.get(_TRACING)
    if settings.otlp_endpoint is None and (loaded is None or loaded.current() is None):
        return []
    from pit.infra.telemetry.tracing import start_tracing

    tracing = start_tracing(settings)
    return [] if tracing is None else [tracing.interceptor]
