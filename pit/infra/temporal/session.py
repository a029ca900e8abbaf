"""A Temporal client for a command: the configured cluster, or the embedded dev server."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client, Plugin
from temporalio.converter import DataConverter

from pit.common.config import Settings
from pit.infra.telemetry.interceptors import tracing_interceptors
from pit.infra.temporal.claim_check import LazyStore, claim_check_converter, settings_store
from pit.infra.temporal.connect import connect
from pit.infra.temporal.devserver import embedded_server
from pit.infra.temporal.reconnect import Patience


@dataclass(frozen=True)
class TemporalSession:
    client: Client
    address: str
    namespace: str
    ui_url: str | None
    embedded: bool
    """True when no address was configured and `pit` runs (or attached to) a dev server."""
    owned: bool = False
    """True when this process started the embedded server (it stops when we exit)."""
    artifacts: LazyStore | None = None
    """The artifact store large payloads are claim-checked into (opened on first use)."""
    server_pid: int | None = None
    """The embedded server's process: when it is gone, there is nothing to wait for."""
    reconnect_timeout: timedelta = timedelta(minutes=5)
    """How long a command that waits on the server retries one that went away."""

    def patience(self, say: Callable[[str], None], what: str = "") -> Patience:
        """A retry loop for waiting on this session's server (see `Patience`)."""
        return Patience(
            self.address, self.reconnect_timeout, say, server_pid=self.server_pid, what=what
        )


@contextlib.asynccontextmanager
async def open_temporal(
    settings: Settings,
    *,
    ui: bool = True,
    plugins: Sequence[Plugin] = (),
    artifacts: LazyStore | None = None,
    ui_codec_endpoint: str | None = None,
) -> AsyncIterator[TemporalSession]:
    """Connect to `temporal.address`; with none, start (or attach to) the embedded server.
    Large payloads are claim-checked into `artifacts` (default: the settings' store, opened
    on first use and closed on the way out); `plugins` (a `PitPlugin` sharing that store)
    configure the client and every worker built from it. `ui_codec_endpoint`: the codec
    server the embedded web UI decodes payloads with, when this process starts it."""
    store = artifacts or settings_store(settings)
    try:
        converter = claim_check_converter(store)
        async with _open(settings, converter, ui, plugins, ui_codec_endpoint) as session:
            yield dataclasses.replace(session, artifacts=store)
    finally:
        if artifacts is None:
            await store.close()


@contextlib.asynccontextmanager
async def _open(
    settings: Settings,
    converter: DataConverter,
    ui: bool,
    plugins: Sequence[Plugin],
    ui_codec_endpoint: str | None,
) -> AsyncIterator[TemporalSession]:
    temporal = settings.temporal
    # a traced client: runs it starts are traces, which the workers built from it continue
    traced = tracing_interceptors(settings.telemetry)
    if temporal.address:
        client = await connect(
            temporal, data_converter=converter, plugins=plugins, interceptors=traced
        )
        yield TemporalSession(
            client,
            temporal.address,
            temporal.namespace,
            None,
            embedded=False,
            reconnect_timeout=temporal.reconnect_timeout,
        )
        return
    async with embedded_server(
        settings.state_dir,
        namespace=temporal.namespace,
        port=temporal.port,
        ui_port=temporal.ui_port,
        ui=ui,
        ui_codec_endpoint=ui_codec_endpoint,
    ) as server:
        client = await connect(
            temporal,
            server.address,
            data_converter=converter,
            plugins=plugins,
            interceptors=traced,
        )
        yield TemporalSession(
            client,
            server.address,
            temporal.namespace,
            server.ui_url,
            embedded=True,
            owned=server.owned,
            server_pid=server.pid or None,
            reconnect_timeout=temporal.reconnect_timeout,
        )
