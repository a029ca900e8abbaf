"""`pit dev`, `pit worker`, `pit check`, `pit ping`: run and reach the Temporal side."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta

import click
from temporalio.client import Client
from temporalio.worker import Worker

from pit.cli._app import CliState, cli
from pit.cli._output import emit_json, emit_line, json_option
from pit.client import PitClient
from pit.common.check import CheckResult
from pit.common.config import Settings
from pit.common.errors import InvalidInputError, WorkFailedError
from pit.common.logging import configure_logging
from pit.common.version import __version__
from pit.infra.telemetry import serve_metrics
from pit.infra.temporal import TemporalSession
from pit.infra.temporal.devserver import free_port
from pit.infra.temporal.reconnect import process_gone, wait_process_gone
from pit.workers import PitPlugin, build_worker, codec_server, local_pit, run_until_signalled
from pit.workers.pool_host import PoolHost, pool_config, pool_host

_activities_option = click.option(
    "--activities",
    "activity_specs",
    multiple=True,
    metavar="MODULE:ATTR",
    help="also serve these activities (repeatable)",
)


_metrics_option = click.option(
    "--metrics-port",
    metavar="PORT",
    help="serve Prometheus metrics on this port [telemetry.metrics_port]",
)


def _serve_metrics(settings: Settings, who: str) -> None:
    """Start the metrics endpoint (before any connection: it belongs to the SDK runtime)."""
    url = serve_metrics(settings.telemetry)
    if url is not None:
        click.echo(f"{who}: Prometheus metrics at {url}", err=True)


@cli.command()
@click.option("--check", is_flag=True, help="run one workflow through the worker, then exit")
@click.option("--no-ui", is_flag=True, help="do not start the web UI")
@_activities_option
@_metrics_option
@json_option
@click.pass_obj
def dev(
    state: CliState,
    check: bool,
    no_ui: bool,
    activity_specs: tuple[str, ...],
    metrics_port: str | None,
    as_json: bool,
) -> None:
    """Embedded Temporal server + a worker, in the foreground until Ctrl-C.

    With --temporal, only the worker runs, against that server.
    """
    settings = state.with_flag("telemetry.metrics_port", "--metrics-port", metrics_port)
    _serve_metrics(settings, "pit dev")
    asyncio.run(_dev(settings, check=check, ui=not no_ui, specs=activity_specs, as_json=as_json))


async def _dev(
    settings: Settings, *, check: bool, ui: bool, specs: tuple[str, ...], as_json: bool
) -> None:
    hosted = pool_config(settings)  # a bad models file fails before anything starts
    plugin = PitPlugin(settings, activity_specs=specs)
    codec_port = free_port() if ui and not check else None
    codec_url = None if codec_port is None else f"http://127.0.0.1:{codec_port}"
    async with contextlib.AsyncExitStack() as stack:
        pit = await stack.enter_async_context(
            local_pit(settings, plugin=plugin, ui=ui, worker=False, ui_codec_endpoint=codec_url)
        )
        host = await stack.enter_async_context(pool_host(_client(pit), settings, config=hosted))
        session = _session(pit)
        worker = build_worker(_client(pit), settings)
        if check:
            async with worker:
                result = await pit.check()
            _report_check(session, settings, result, as_json)
            return
        if session.owned and session.ui_url and codec_port is not None:
            # the UI this process started decodes through it: its own origin, loopback only
            codec_url = await stack.enter_async_context(
                codec_server(
                    settings,
                    plugin.store,
                    origins=ui_origins(session.ui_url),
                    host="127.0.0.1",
                    port=codec_port,
                )
            )
        else:
            codec_url = None
        _report_ready(session, settings, as_json, host, codec_url)
        await _serve(session, worker, _workers_of(host))
        if not as_json:
            emit_line("stopped")


async def _serve(session: TemporalSession, worker: Worker, also: list[Worker]) -> None:
    """Run the workers until Ctrl-C / SIGTERM, or until the embedded server they serve is
    gone: a worker of an embedded server that exited has nothing left to serve (exit 3)."""
    if session.server_pid is None:  # a cluster: the workers wait out its outages
        await run_until_signalled(worker, also=also)
        return
    pid = session.server_pid
    stop = asyncio.Event()
    server_gone = asyncio.ensure_future(wait_process_gone(pid))
    server_gone.add_done_callback(lambda _: stop.set())
    try:
        await run_until_signalled(worker, stop, also=also)  # drains the workers either way
    except Exception:
        if not process_gone(pid):
            raise
        # a worker that failed because its server vanished: the server is the news
    finally:
        server_gone.cancel()
    if process_gone(pid):
        raise session.patience(lambda _: None, what="serving").server_exited()


def ui_origins(ui_url: str) -> list[str]:
    """The origins a browser shows the embedded UI under (127.0.0.1 and localhost)."""
    return [ui_url, ui_url.replace("://127.0.0.1:", "://localhost:")]


def _report_ready(
    session: TemporalSession,
    settings: Settings,
    as_json: bool,
    host: PoolHost | None,
    codec_url: str | None,
) -> None:
    queue = settings.temporal.task_queue
    if as_json:
        document = {
            "address": session.address,
            "namespace": session.namespace,
            "ui_url": session.ui_url,
            "codec_url": codec_url,
            "task_queue": queue,
            "embedded": session.embedded,
            "pool_host": None if host is None else {"host": host.name, "queue": host.queue},
        }
        click.echo(json.dumps(document))
        return
    emit_line(f"Temporal   {session.address}   namespace {session.namespace}")
    if session.ui_url:
        emit_line(f"Web UI     {session.ui_url}")
    if codec_url:
        emit_line(f"Codec      {codec_url}   (the web UI shows claim-checked payloads)")
    emit_line(f"Worker     task queue {queue!r}")
    if host is not None:
        count = len(host.config.models)
        emit_line(f"Pool host  {host.name!r}: {count} models on task queue {host.queue!r}")
    emit_line(f"From another shell:  pit --temporal {session.address} check")
    emit_line("Press Ctrl-C to stop.")


def _report_check(
    session: TemporalSession, settings: Settings, result: CheckResult, as_json: bool
) -> None:
    if as_json:
        emit_json(
            {
                "ok": True,
                "address": session.address,
                "namespace": session.namespace,
                "task_queue": settings.temporal.task_queue,
                "embedded": session.embedded,
                "echoed": result.echoed,
                "activity_ms": result.activity_ms,
            }
        )
        return
    where = "embedded server" if session.embedded else "server"
    emit_line(f"ok: {where} at {session.address}, namespace {session.namespace}")
    emit_line(
        f"ok: workflow pit.check ran activity pit.echo on task queue "
        f"{settings.temporal.task_queue!r} in {result.activity_ms} ms: {result.echoed!r}"
    )


@cli.command()
@click.option("--timeout", default=30.0, show_default=True, help="seconds to wait for a worker")
@json_option
@click.pass_obj
def check(state: CliState, timeout: float, as_json: bool) -> None:
    """Run one workflow through a worker on the task queue and report.

    Without --temporal this starts the embedded server and an in-process worker.
    """
    settings = state.settings
    if not 0 < timeout <= 3600:  # also refuses nan
        raise InvalidInputError.for_field(
            "--timeout", timeout, "must be more than 0 and at most 3600"
        )
    asyncio.run(_check(settings, timeout, as_json))


async def _check(settings: Settings, timeout: float, as_json: bool) -> None:
    async with local_pit(settings) as pit:
        session = _session(pit)
        queue = settings.temporal.task_queue
        if not session.embedded and not await pit.pollers():
            raise WorkFailedError(
                f"no worker is polling task queue {queue!r} on {session.address}: "
                f"start one with `pit --temporal {session.address} worker`"
            )
        result = await pit.check(timeout=timedelta(seconds=timeout))
        _report_check(session, settings, result, as_json)


def _session(pit: PitClient) -> TemporalSession:
    assert pit.session is not None  # local_pit always connects through a session
    return pit.session


def _client(pit: PitClient) -> Client:
    assert pit.temporal is not None
    return pit.temporal


@cli.command()
@_activities_option
@click.option("--task-queue", help="task queue to serve [temporal.task_queue]")
@_metrics_option
@click.pass_obj
def worker(
    state: CliState,
    activity_specs: tuple[str, ...],
    task_queue: str | None,
    metrics_port: str | None,
) -> None:
    """Serve every Pit workflow and activity until SIGTERM / Ctrl-C, then drain.

    With --metrics-port (or [telemetry] metrics_port) it serves Prometheus metrics at
    http://HOST:PORT/metrics, HOST being [telemetry] metrics_host (127.0.0.1).
    """
    settings = state.with_flag("telemetry.metrics_port", "--metrics-port", metrics_port)
    _serve_metrics(settings, "pit worker")
    asyncio.run(_worker(settings, activity_specs, task_queue))


async def _worker(settings: Settings, specs: tuple[str, ...], task_queue: str | None) -> None:
    if settings.log_level == "warning":  # the default: a worker's log shows what it ran
        configure_logging(settings.log_format, "info")
    hosted = pool_config(settings)  # a bad models file fails before anything starts
    plugin = PitPlugin(settings, activity_specs=specs)
    async with (
        local_pit(settings, plugin=plugin, ui=True, worker=False) as pit,
        pool_host(_client(pit), settings, task_queue=task_queue, config=hosted) as host,
    ):
        session = _session(pit)
        worker = build_worker(_client(pit), settings, task_queue=task_queue)
        queue = task_queue or settings.temporal.task_queue
        click.echo(
            f"pit worker {__version__}: serving task queue {queue!r} on {session.address} "
            f"(namespace {session.namespace}); SIGTERM or Ctrl-C drains and stops",
            err=True,
        )
        if host is not None:
            click.echo(
                f"pit worker: hosting {len(host.config.models)} models as {host.name!r} on "
                f"task queue {host.queue!r}",
                err=True,
            )
        await _serve(session, worker, _workers_of(host))


def _workers_of(host: PoolHost | None) -> list[Worker]:
    """The worker of a pool host's own queue, to run beside the main one."""
    return [] if host is None or host.worker is None else [host.worker]


@cli.command()
@json_option
@click.pass_obj
def ping(state: CliState, as_json: bool) -> None:
    """Connect to Temporal and print what answered."""
    settings = state.settings
    asyncio.run(_ping(settings, as_json))


async def _ping(settings: Settings, as_json: bool) -> None:
    async with local_pit(settings, worker=False) as pit:
        session = _session(pit)
        version = await pit.server_version()
        document = {
            "address": session.address,
            "namespace": session.namespace,
            "server_version": version,
            "embedded": session.embedded,
        }
        if as_json:
            emit_json(document)
        else:
            emit_line(
                f"ok: Temporal {version or '(version not reported)'} at "
                f"{session.address}, namespace {session.namespace}"
            )
