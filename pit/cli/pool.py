"""`pit pool simulate`: replay a trace through the real pool and predictor in virtual time."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pit.cli._app import CliState, cli
from pit.cli._output import emit_line, json_option
from pit.common.validation import parse_size
from pit.pool.simulate import POLICIES, Policy, simulate
from pit.pool.trace import read_models, read_trace


@cli.group()
def pool() -> None:
    """The model pools of every host: status, warm, cool; capacity planning by simulation."""


@pool.command("simulate")
@click.option("--models", "models_file", required=True, type=click.Path(path_type=Path))
@click.option("--trace", "trace_file", required=True, type=click.Path(path_type=Path))
@click.option("--budget", required=True, help="memory budget: bytes, or 24GiB, 64GB ...")
@click.option(
    "--policy",
    type=click.Choice(POLICIES),
    default=None,
    help="lru: LRU alone; gdsf: Greedy-Dual-Size-Frequency eviction; predictive (default): "
    "GDSF with the predictor's forecast, and prewarming",
)
@click.option("--no-prewarm", is_flag=True, help="LRU alone (the same as --policy lru)")
@json_option
@click.pass_obj
def simulate_command(
    state: CliState,
    models_file: Path,
    trace_file: Path,
    budget: str,
    policy: Policy | None,
    no_prewarm: bool,
    as_json: bool,
) -> None:
    """Replay TRACE.jsonl (a day of traffic in seconds) with the models of MODELS.yaml.

    \b
    MODELS.yaml: a list of {id, memory_bytes, load_seconds}
    TRACE.jsonl: one {"t": seconds, "model": id, "session"?: str, "hold"?: seconds} a line
    """
    budget_bytes = parse_size(budget, "--budget")
    models = read_models(models_file)
    trace = read_trace(trace_file, {model.id for model in models})
    report = simulate(models, trace, budget_bytes, prewarm=not no_prewarm, policy=policy)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        emit_line(f"{key:<32} {value}")
