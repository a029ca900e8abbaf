"""The public, typed, async client of the Pit: what programs, the CLI, activities, bench and
tests use to reach a running system. See docs/python.md.

The names are imported on first use: `from pit.client.artifacts import ArtifactsClient` (a
local store) never loads Temporal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pit.client._client import PitClient
    from pit.client.arbiter import ArbiterClient
    from pit.client.artifacts import ArtifactsClient
    from pit.client.doctor import DoctorReport
    from pit.client.pool import PoolClient
    from pit.client.run_handle import RunHandle
    from pit.client.run_history import RunExecution
    from pit.client.runs import RunsClient, RunSummary
    from pit.client.stale import ScheduleResult, StaleClient

_WHERE = {
    "PitClient": "pit.client._client",
    "ArbiterClient": "pit.client.arbiter",
    "ArtifactsClient": "pit.client.artifacts",
    "DoctorReport": "pit.client.doctor",
    "PoolClient": "pit.client.pool",
    "RunExecution": "pit.client.run_history",
    "RunHandle": "pit.client.run_handle",
    "RunSummary": "pit.client.runs",
    "RunsClient": "pit.client.runs",
    "ScheduleResult": "pit.client.stale",
    "StaleClient": "pit.client.stale",
}

__all__ = [
    "ArbiterClient",
    "ArtifactsClient",
    "DoctorReport",
    "PitClient",
    "PoolClient",
    "RunExecution",
    "RunHandle",
    "RunSummary",
    "RunsClient",
    "ScheduleResult",
    "StaleClient",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'pit.client' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
