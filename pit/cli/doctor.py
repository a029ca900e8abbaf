"""`pit doctor`: check a deployment, one line per check (`PitClient.diagnose`)."""

from __future__ import annotations

import asyncio

import click

from pit.cli._app import CliState, cli
from pit.cli._output import emit_json, emit_line, json_option


@cli.command()
@json_option
@click.pass_obj
def doctor(state: CliState, as_json: bool) -> int:
    """Check a deployment: Temporal, namespace, search attributes, store, index, versions.

    \b
    One line per check: ok, failed, unreachable or skipped, and what was found. Exit 0 when
    every check passed, 1 when one failed, 3 when a backend could not be reached.
    """
    from pit.client import PitClient

    report = asyncio.run(PitClient.diagnose(state.settings))
    if as_json:
        emit_json(report.model_dump(mode="json"))
    else:
        width = max(len(check.status) for check in report.checks)
        for check in report.checks:
            emit_line(f"{check.status:<{width}}  {check.name}: {check.detail}")
    return report.exit_code
