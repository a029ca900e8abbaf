"""The `pit` command group: global options, settings, and how failures become exit codes."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pit.cli._failures import EXIT_OK, explain
from pit.common.logging import configure_logging
from pit.common.version import __version__

_FLAG_NAMES: dict[str, str] = {
    "temporal.address": "--temporal",
    "temporal.namespace": "--namespace",
    "state_dir": "--state-dir",
    "log_format": "--log-format",
    "log_level": "--log-level",
}

if TYPE_CHECKING:
    from pit.common.config import Settings


@dataclass
class CliState:
    """The global flags, and the settings they produce (loaded once, at start-up)."""

    overrides: dict[str, object] = field(default_factory=dict)
    config_file: Path | None = None
    flags: dict[str, str] = field(default_factory=lambda: dict(_FLAG_NAMES))
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from pit.common.config import load_settings  # pydantic: not for `pit --help`

            self._settings = load_settings(
                config_file=self.config_file, overrides=self.overrides, flags=self.flags
            )
        return self._settings

    def with_flag(self, key: str, flag: str, value: object) -> Settings:
        """The settings with a command's own flag `flag` setting `key` (when given) on top of
        every other source; a bad value names the flag."""
        if value is not None:
            self.overrides[key] = value
            self.flags[key] = flag
            self._settings = None
        return self.settings


COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "run": (("pit.cli.dag",), "Run the DAG in FILE (YAML or JSON) and show its progress."),
    "dag": (("pit.cli.dag", "pit.cli.dag_tools"), "Inspect and control DAG runs."),
    "artifact": (("pit.cli.artifact",), "Store, fetch, compare and find artifacts: named,..."),
    "stale": (
        ("pit.cli.stale", "pit.cli.stale_schedule"),
        "Retire what is no longer worth keeping: plan,...",
    ),
    "pool": (
        ("pit.cli.pool", "pit.cli.pool_hosts"),
        "The model pools of every host: status, warm,...",
    ),
    "arbitrate": (("pit.cli.arbitrate",), "Replay a resource scenario in logical time:..."),
    "arbiter": (("pit.cli.arbitrate",), "The arbiter entity workflows on Temporal (one..."),
    "dev": (("pit.cli.dev",), "Embedded Temporal server + a worker, in the..."),
    "worker": (("pit.cli.dev",), "Serve every Pit workflow and activity until..."),
    "check": (("pit.cli.dev",), "Run one workflow through a worker on the task..."),
    "ping": (("pit.cli.dev",), "Connect to Temporal and print what answered."),
    "codec-server": (("pit.cli.codec",), "Serve /decode and /download over the claim-check..."),
    "config": (("pit.cli.config_cmd",), "Inspect configuration."),
    "doctor": (("pit.cli.doctor",), "Check a deployment: Temporal, namespace, search..."),
}
"""Every command, the modules that define it, and its one-line help: a command's module is
imported only when that command runs, so `pit --help` and a local `pit artifact get` never
load Temporal or S3 (tests/unit/test_cli_imports.py holds this table to the modules)."""


class LazyGroup(click.Group):
    """The `pit` group: loads a command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            for module in COMMANDS[cmd_name][0]:
                importlib.import_module(module)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, self.commands[name].get_short_help_str(45))
            if name in self.commands
            else (name, COMMANDS[name][1])
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="pit")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="pit.toml to read")
@click.option("--temporal", metavar="HOST:PORT", help="Temporal frontend; unset: embedded server")
@click.option("--namespace", help="Temporal namespace [default: default]")
@click.option("--state-dir", type=click.Path(path_type=Path), help="state directory [.pit]")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="log lines [text]")
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), help="[warning]"
)
@click.pass_context
def cli(
    ctx: click.Context,
    config_file: Path | None,
    temporal: str | None,
    namespace: str | None,
    state_dir: Path | None,
    log_format: str | None,
    log_level: str | None,
) -> None:
    """The Pit: model pools, durable workflow graphs, artifacts, arbitration, stale cleanup.

    \b
    Exit codes: 0 ok, 1 the work ran and failed, 2 bad input (nothing changed),
    3 a backend (Temporal, S3, search) could not be reached.
    """
    state = CliState(
        overrides={
            "temporal.address": temporal,
            "temporal.namespace": namespace,
            "state_dir": state_dir,
            "log_format": log_format,
            "log_level": log_level,
        },
        config_file=config_file,
    )
    ctx.obj = state
    settings = state.settings  # a bad value fails here, before any command runs
    configure_logging(settings.log_format, settings.log_level)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `pit` script: run a command and exit with its code."""
    code = run(argv)
    # temporalio's Rust threads can abort interpreter finalization (SIGABRT after the work
    # succeeded: temporalio/sdk-python#300); everything is done and flushed, so skip it
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _stop_tracing() -> None:
    """Flush the spans still queued (main() skips the exit handlers that would); only a
    command that traced has the tracing module loaded, the others load nothing for it."""
    tracing = sys.modules.get("pit.infra.telemetry.tracing")
    if tracing is not None:
        tracing.stop_tracing()


def run(argv: Sequence[str] | None = None) -> int:
    """Run `pit` with `argv`; return the exit code. Whatever goes wrong is printed as one
    line (see `pit.cli._failures` for which exception gets which line and code)."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except BaseException as error:  # the one place every failure is reported
        if isinstance(error, SystemExit):
            raise
        failure = explain(error)
        for line in failure.lines:
            print(line, file=sys.stderr)
        return failure.exit_code
    finally:
        _stop_tracing()
    return result if isinstance(result, int) else EXIT_OK
