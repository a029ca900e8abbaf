"""`pit codec-server`: Temporal's codec endpoints, so the web UI and `temporal workflow show`
show what runs carry instead of claim-check references."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import click

from pit.cli._app import CliState, cli
from pit.cli._output import emit_line
from pit.common.config import Settings
from pit.workers.codec import codec_policy, codec_server


@cli.command("codec-server")
@click.option("--host", help="address to listen on [codec.host: 127.0.0.1]")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="port; 0 picks a free one [codec.port: 8234]"
)
@click.option(
    "--origin",
    "origins",
    multiple=True,
    metavar="URL",
    help="a web UI origin to answer, e.g. http://127.0.0.1:8233 (repeatable) [codec.origins]",
)
@click.pass_obj
def codec_server_command(
    state: CliState, host: str | None, port: int | None, origins: tuple[str, ...]
) -> None:
    """Serve /decode and /download over the claim-check store until Ctrl-C.

    Point the web UI (its codec endpoint setting) or `temporal ... --codec-endpoint URL` at
    it. It answers the configured namespace, the --origin / codec.origins browsers, and,
    with codec.token set (PIT_CODEC__TOKEN), only requests carrying that bearer token.
    """
    asyncio.run(_serve(state.settings, host, port, origins))


async def _serve(
    settings: Settings, host: str | None, port: int | None, origins: tuple[str, ...]
) -> None:
    async with codec_server(settings, origins=origins, host=host, port=port) as url:
        policy = codec_policy(settings, origins)
        allowed = ", ".join(sorted(policy.origins)) or "none (tools only)"
        emit_line(
            f"pit codec-server: {url} for namespace {settings.temporal.namespace!r}; "
            f"browser origins: {allowed}; token: {'required' if policy.token else 'none'}"
        )
        emit_line(f"temporal workflow show -w RUN --codec-endpoint {url}")
        emit_line("Press Ctrl-C to stop.")
        await _until_signalled()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()
