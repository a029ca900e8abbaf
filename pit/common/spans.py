"""Trace spans as a port: the domain marks the work worth seeing in a trace (an artifact put
or get) without depending on OpenTelemetry; `pit.infra.telemetry` installs the tracer when
`[telemetry] otlp_endpoint` is set, and until then a span is a `nullcontext`."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from typing import ParamSpec, TypeVar

from pit.common.metrics import NO_LABELS, Counter

Attribute = str | int | float | bool
SpanFactory = Callable[[str, Mapping[str, Attribute]], AbstractContextManager[object]]

P = ParamSpec("P")
T = TypeVar("T")

_factory: SpanFactory | None = None


def install(factory: SpanFactory | None) -> None:
    """Open spans through `factory` from now on (None: no spans again)."""
    global _factory
    _factory = factory


def span(
    name: str, attributes: Mapping[str, Attribute] = NO_LABELS
) -> AbstractContextManager[object]:
    """A span around the block, a child of the current one; nothing when tracing is off."""
    factory = _factory
    if factory is None:
        return contextlib.nullcontext()
    return factory(name, attributes)


def traced(name: str) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Decorate an async operation: a span `name` around each call."""

    def decorate(function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(function)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            with span(name):
                return await function(*args, **kwargs)

        return wrapper

    return decorate


def observed(
    name: str, operations: Counter, labels: Mapping[str, str]
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Decorate an async operation: a span `name` around each call, and one count in
    `operations` with `labels` and an `outcome` of ok or error."""
    ok = {**labels, "outcome": "ok"}
    error = {**labels, "outcome": "error"}

    def decorate(function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(function)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            with span(name):
                try:
                    result = await function(*args, **kwargs)
                except BaseException:
                    operations.add(1, error)
                    raise
            operations.add(1, ok)
            return result

        return wrapper

    return decorate
