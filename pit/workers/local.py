"""A `PitClient` with a worker in this process when the server is the embedded one: how a
command, a script or a notebook runs graphs on a laptop with nothing else running.

    async with local_pit() as pit:
        status = await (await pit.runs.start("examples/hello.yaml")).result()
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence

from pit.client import PitClient
from pit.common.config import Settings, load_settings
from pit.infra.temporal.session import TemporalSession, open_temporal
from pit.workers.plugin import PitPlugin
from pit.workers.registry import ActivityFn
from pit.workers.worker import build_worker


@contextlib.asynccontextmanager
async def local_pit(
    settings: Settings | None = None,
    *,
    activity_specs: Sequence[str] = (),
    extra_activities: Iterable[ActivityFn] = (),
    ui: bool = False,
    worker: bool = True,
    plugin: PitPlugin | None = None,
    ui_codec_endpoint: str | None = None,
) -> AsyncIterator[PitClient]:
    """Connect as `pit` does (the configured cluster, or the embedded server of the state
    dir) through a `PitPlugin`, and on the embedded server run a worker in this process
    (unless `worker` is false): nobody else serves it. Against a cluster, its workers do the
    work and none runs here. `plugin`: the one to connect through (default: a new one);
    `ui_codec_endpoint`: the codec server of the embedded web UI (`pit dev`)."""
    settings = settings if settings is not None else load_settings()
    plugin = plugin or PitPlugin(
        settings, activity_specs=activity_specs, extra_activities=extra_activities
    )
    async with open_temporal(
        settings,
        ui=ui,
        plugins=[plugin],
        artifacts=plugin.store,
        ui_codec_endpoint=ui_codec_endpoint,
    ) as session:
        pit = PitClient(session.client, settings, artifacts=plugin.store)
        pit.session = session
        try:
            async with serving(session, settings, enabled=worker):
                yield pit
        finally:
            await plugin.store.close()


@contextlib.asynccontextmanager
async def serving(
    session: TemporalSession, settings: Settings, *, enabled: bool = True
) -> AsyncIterator[None]:
    """A worker of the session's client in this process while inside, when the server is
    the embedded one (and `enabled`)."""
    if not (enabled and session.embedded):
        yield
        return
    async with build_worker(session.client, settings):
        yield
