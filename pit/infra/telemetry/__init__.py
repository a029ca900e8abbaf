"""Telemetry of workers and clients: Prometheus metrics through the Temporal SDK runtime,
OpenTelemetry traces through `temporalio.contrib.opentelemetry` (docs/production.md).

Names load on first use: a command that traces nothing never imports OpenTelemetry."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pit.infra.telemetry.interceptors import tracing_interceptors
    from pit.infra.telemetry.nodes import NodeTelemetryInterceptor
    from pit.infra.telemetry.pool import PoolSampler
    from pit.infra.telemetry.prometheus import (
        pit_metrics_bound,
        prometheus_config,
        runtime_meter,
        serve_metrics,
    )
    from pit.infra.telemetry.tracing import Tracing, start_tracing, stop_tracing

_WHERE = {
    "NodeTelemetryInterceptor": "pit.infra.telemetry.nodes",
    "PoolSampler": "pit.infra.telemetry.pool",
    "Tracing": "pit.infra.telemetry.tracing",
    "pit_metrics_bound": "pit.infra.telemetry.prometheus",
    "prometheus_config": "pit.infra.telemetry.prometheus",
    "runtime_meter": "pit.infra.telemetry.prometheus",
    "serve_metrics": "pit.infra.telemetry.prometheus",
    "start_tracing": "pit.infra.telemetry.tracing",
    "stop_tracing": "pit.infra.telemetry.tracing",
    "tracing_interceptors": "pit.infra.telemetry.interceptors",
}

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


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'pit.infra.telemetry' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
