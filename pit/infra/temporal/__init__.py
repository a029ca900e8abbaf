"""Temporal plumbing: connection, data converter, embedded dev server, error mapping."""

from pit.infra.temporal.connect import DATA_CONVERTER, connect
from pit.infra.temporal.failures import PitErrorInterceptor, from_failure, to_application_error
from pit.infra.temporal.session import TemporalSession, open_temporal

__all__ = [
    "DATA_CONVERTER",
    "PitErrorInterceptor",
    "TemporalSession",
    "connect",
    "from_failure",
    "open_temporal",
    "to_application_error",
]
