"""Telemetry of workers and clients: Prometheus metrics through the Temporal SDK runtime,
OpenTelemetry traces through `temporalio.contrib.opentelemetry` (docs/production.md)."""

from pit.infra.telemetry.nodes import NodeTelemetryInterceptor
from pit.infra.telemetry.pool import PoolSampler
from pit.infra.telemetry.prometheus import (
    pit_metrics_bound,
    prometheus_config,
    runtime_meter,
    serve_metrics,
)
from pit.infra.telemetry.tracing import (
    Tracing,
    start_tracing,
    stop_tracing,
    tracing_interceptors,
)

__all__ = [
    "NodeTelemetryInterceptor",
    "PoolSampler",
    "Tracing",
    "pit_metrics_bound",
    "prometheus_config",
    "runtime_meter",
    "serve_metrics",
    "start_tracing",
    "stop_tracing",
    "tracing_interceptors",
]
