"""The in-process worker a command runs beside the embedded server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from pit.common.config import Settings
from pit.infra.temporal import TemporalSession
from pit.workers import pit_worker


@contextlib.asynccontextmanager
async def local_worker(
    session: TemporalSession, settings: Settings, specs: tuple[str, ...] = ()
) -> AsyncIterator[None]:
    """A worker in this process when the server is the embedded one (nobody else serves
    it); against a cluster, the cluster's workers do the work."""
    if not session.embedded:
        yield
        return
    async with (
        pit_worker(
            session.client, settings, activity_specs=specs, artifacts=session.artifacts
        ) as worker,
        worker,
    ):
        yield
