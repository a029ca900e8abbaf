"""The public, typed, async client of the Pit: what programs, the CLI, activities, bench and
tests use to reach a running system. See docs/python.md."""

from pit.client._client import PitClient
from pit.client.arbiter import ArbiterClient
from pit.client.artifacts import ArtifactsClient
from pit.client.pool import PoolClient
from pit.client.runs import RunHandle, RunsClient, RunSummary
from pit.client.stale import ScheduleResult, StaleClient

__all__ = [
    "ArbiterClient",
    "ArtifactsClient",
    "PitClient",
    "PoolClient",
    "RunHandle",
    "RunSummary",
    "RunsClient",
    "ScheduleResult",
    "StaleClient",
]
