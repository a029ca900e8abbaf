"""Connect to Temporal from settings: address, namespace, TLS / mTLS, API key, timeout."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client, Interceptor, Plugin
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
)
from temporalio.service import RetryConfig, TLSConfig

from pit.common.config import TemporalSettings
from pit.common.errors import BackendUnavailableError, ConfigError

DATA_CONVERTER = pydantic_data_converter
"""Pydantic models cross workflow and activity boundaries as they are."""


async def connect(
    settings: TemporalSettings,
    address: str | None = None,
    *,
    data_converter: DataConverter = DATA_CONVERTER,
    plugins: Sequence[Plugin] = (),
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """A client for `address` (or the configured one), or `BackendUnavailableError` within
    `connect_timeout`, never a hang. `plugins` (a `PitPlugin`) configure the client and every
    worker built from it; so do `interceptors` (tracing) that are worker interceptors too."""
    target = address or settings.address
    if not target:
        raise ConfigError.for_field("temporal.address", target, "is required to connect")
    timeout = settings.connect_timeout.total_seconds()
    try:
        return await asyncio.wait_for(
            Client.connect(
                target,
                namespace=settings.namespace,
                api_key=settings.api_key.get_secret_value() if settings.api_key else None,
                tls=_tls_config(settings),
                data_converter=data_converter,
                connect_timeout=settings.connect_timeout,
                retry_config=RetryConfig(max_elapsed_time_millis=int(timeout * 1000)),
                runtime=pit_runtime(),
                plugins=list(plugins),
                interceptors=list(interceptors),
            ),
            timeout=timeout,
        )
    except (TimeoutError, RuntimeError, OSError) as error:
        detail = "timed out" if isinstance(error, TimeoutError) else _first_line(error)
        raise BackendUnavailableError(
            f"temporal: cannot reach {target} (namespace {settings.namespace!r}): {detail}",
            address=target,
        ) from None


_runtime: Runtime | None = None
_runtime_metrics: PrometheusConfig | None = None


def pit_runtime(*, metrics: PrometheusConfig | None = None) -> Runtime:
    """The SDK runtime of every client `pit` connects. Its core's log lines (a worker
    retrying a server that went away, say) go through Python logging as logger
    `temporalio.core`, so they follow --log-level and --log-format instead of reaching
    stderr as raw text. The runtime is process-wide and made once: `metrics` (a Prometheus
    endpoint, `pit.infra.telemetry.serve_metrics`) must come with the first call, before
    any connection; it raises `ValueError` when the endpoint cannot be bound."""
    global _runtime, _runtime_metrics
    if _runtime is None:
        forwarding = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
        _runtime = Runtime(
            telemetry=TelemetryConfig(
                logging=LoggingConfig(filter=LoggingConfig.default.filter, forwarding=forwarding),
                metrics=metrics,
            )
        )
        _runtime_metrics = metrics
    elif metrics is not None and metrics != _runtime_metrics:
        raise ValueError("the runtime was made without this endpoint (metrics come first)")
    return _runtime


def _tls_config(settings: TemporalSettings) -> TLSConfig | bool:
    files = (settings.tls_server_ca, settings.tls_client_cert, settings.tls_client_key)
    if not settings.tls and not any(files) and not settings.tls_server_name:
        # an API key implies TLS (Temporal Cloud); the SDK decides that when tls is False
        return bool(settings.api_key)
    if bool(settings.tls_client_cert) != bool(settings.tls_client_key):
        raise ConfigError.for_field(
            "temporal.tls_client_cert",
            str(settings.tls_client_cert or settings.tls_client_key),
            "mTLS needs both tls_client_cert and tls_client_key",
        )
    return TLSConfig(
        server_root_ca_cert=_read("temporal.tls_server_ca", settings.tls_server_ca),
        client_cert=_read("temporal.tls_client_cert", settings.tls_client_cert),
        client_private_key=_read("temporal.tls_client_key", settings.tls_client_key),
        domain=settings.tls_server_name,
    )


def _read(field: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError.for_field(field, str(path), f"cannot be read: {error.strerror}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    for marker, plain in _KNOWN_CAUSES:
        if marker in text:
            return plain
    return text.splitlines()[0][:300]


_KNOWN_CAUSES = (
    ("ConnectionRefused", "connection refused"),
    ("dns error", "the host name does not resolve"),
    ("TimedOut", "timed out"),
    ("InvalidCertificate", "the server's TLS certificate was not accepted"),
)
