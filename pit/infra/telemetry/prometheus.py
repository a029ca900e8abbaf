"""Prometheus metrics of a worker: the Temporal SDK runtime serves its own `temporal_*`
metrics and the Pit's (`pit.common.metrics`) on one endpoint, in Prometheus' conventions
(counters end in `_total`, durations are seconds)."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable, Iterator, Mapping

from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime

from pit.common.config import TelemetrySettings
from pit.common.errors import ConfigError
from pit.common.metrics import INSTRUMENTS, PIT_METRICS, MetricKind, MetricSpec, Recorder
from pit.infra.temporal.connect import pit_runtime


def prometheus_config(settings: TelemetrySettings) -> PrometheusConfig | None:
    """The runtime's endpoint for `settings` (None: no `metrics_port`)."""
    if settings.metrics_port is None:
        return None
    return PrometheusConfig(
        bind_address=_address(settings.metrics_host, settings.metrics_port),
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
        histogram_bucket_overrides={
            spec.name: list(spec.buckets) for spec in PIT_METRICS if spec.buckets
        },
    )


def serve_metrics(settings: TelemetrySettings) -> str | None:
    """Start serving `/metrics` as `settings` say, by creating this process's runtime with
    it (before the first connection: the runtime is process-wide); the URL, or None when no
    port is configured. A port that cannot be bound is a `ConfigError` naming it."""
    config = prometheus_config(settings)
    if config is None:
        return None
    try:
        pit_runtime(metrics=config)
    except ValueError as error:
        raise ConfigError.for_field(
            "telemetry.metrics_port",
            settings.metrics_port,
            f"cannot serve metrics on {config.bind_address}: {_reason(error)}",
        ) from None
    return f"http://{config.bind_address}/metrics"


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ipaddress.ip_address(host).version == 6 else f"{host}:{port}"


def _reason(error: ValueError) -> str:
    text = str(error)
    return text.rpartition(": ")[2] if ": " in text else text


def runtime_meter(runtime: Runtime | None) -> MetricMeter | None:
    """The metric meter of `runtime` (None: the SDK's default), or None when that runtime
    exports no metrics."""
    meter = (runtime or Runtime.default()).metric_meter
    return None if meter is MetricMeter.noop else meter


_bound: MetricMeter | None = None
_binders = 0


@contextlib.contextmanager
def pit_metrics_bound(meter: MetricMeter | None) -> Iterator[None]:
    """Record the Pit's instruments through `meter` while inside (the first meter bound
    wins while it is in use: one process, one runtime exporting them)."""
    global _bound, _binders
    if meter is None:
        yield
        return
    if _bound is None:
        for instrument in INSTRUMENTS:
            instrument.bind(_recorder(meter, instrument.spec))
        _bound = meter
    _binders += 1
    try:
        yield
    finally:
        _binders -= 1
        if _binders == 0:
            for instrument in INSTRUMENTS:
                instrument.bind(None)
            _bound = None


def _recorder(meter: MetricMeter, spec: MetricSpec) -> Recorder:
    """Values of `spec` into the SDK's instrument, their labels checked against the spec:
    an unknown label would be a new, unbounded dimension."""
    expected = frozenset(spec.labels)
    name = spec.instrument_name
    record: Callable[[float, Mapping[str, str]], None]
    if spec.kind is MetricKind.COUNTER:
        counter = meter.create_counter(name, spec.help)

        def record(value: float, labels: Mapping[str, str]) -> None:
            counter.add(int(value), labels)

    elif spec.kind is MetricKind.GAUGE:
        record = meter.create_gauge_float(name, spec.help).set
    else:
        record = meter.create_histogram_float(name, spec.help).record

    def checked(value: float, labels: Mapping[str, str]) -> None:
        if labels.keys() != expected:
            raise ValueError(f"{spec.name}: labels {sorted(labels)}, expected {sorted(expected)}")
        record(value, labels)

    return checked
