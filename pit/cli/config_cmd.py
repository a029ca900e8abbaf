"""`pit config show`: the settings in effect, after every source was merged."""

from __future__ import annotations

import click

from pit.cli._app import CliState, cli
from pit.cli._output import emit_json, emit_line, json_option
from pit.common.config import describe_sources


@cli.group()
def config() -> None:
    """Inspect configuration."""


@config.command("show")
@json_option
@click.pass_obj
def show(state: CliState, as_json: bool) -> None:
    """Print the effective settings (flags > PIT_* env > pit.toml > defaults)."""
    data = describe_sources(state.settings)
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        if isinstance(value, dict):
            emit_line(f"[{key}]")
            for name, item in value.items():
                emit_line(f"{name} = {item!r}")
        else:
            emit_line(f"{key} = {value!r}")
