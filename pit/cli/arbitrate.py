"""`pit arbitrate SCENARIO.yaml` (the simulator) and `pit arbiter status` (the live ledger)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from pit.arbitration.scenario import Scenario, parse_scenario
from pit.arbitration.simulate import simulate
from pit.cli._app import CliState, cli
from pit.cli._output import emit_line, json_option
from pit.common.config import Settings
from pit.common.files import read_structured


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file; one line naming the field, value and rule if bad."""
    return parse_scenario(read_structured(path, "SCENARIO"))


@cli.command()
@click.argument("scenario_file", metavar="SCENARIO.yaml", type=click.Path(path_type=Path))
@json_option
@click.pass_obj
def arbitrate(state: CliState, scenario_file: Path, as_json: bool) -> None:
    """Replay a resource scenario in logical time: decisions, conflicts, fairness, waits.

    The same file always prints the same output (byte for byte with --json).
    """
    scenario = load_scenario(scenario_file)
    defaults = state.settings.arbitration
    config = scenario.config(
        strategy=defaults.strategy,
        aging_interval=defaults.aging_interval,
        memory_pressure=defaults.memory_pressure,
    )
    report = simulate(scenario, config)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=False, ensure_ascii=False))
        return
    _print_report(report, config.strategy)


def _print_report(report: dict[str, Any], strategy: str) -> None:
    emit_line(f"strategy {strategy}")
    for decision in report["decisions"]:
        rationale = decision["rationale"]
        emit_line(
            f"t={decision['t']:<6} {decision['action']:<8} {decision['request']:<12} "
            f"{rationale['reason']}"
        )
    for conflict in report["conflicts"]:
        emit_line(
            f"t={conflict['t']:<6} conflict {conflict['type']} on "
            f"{', '.join(conflict['resources'])}: {', '.join(conflict['requests'][:8])}"
        )
    emit_line("tenant        granted  share   entitled")
    for name, tenant in report["tenants"].items():
        emit_line(
            f"{name:<13} {tenant['granted']:>7}  {tenant['share']:<7.3f} "
            f"{tenant['entitled_share']:.3f}"
        )
    if report["gini"]:
        emit_line(f"gini (windowed) at the end: {report['gini'][-1]['value']}")
    for priority, waits in report["wait_seconds"].items():
        emit_line(f"priority {priority}: wait p50 {waits['p50']}s, max {waits['max']}s")


@cli.group()
def arbiter() -> None:
    """The arbiter entity workflows on Temporal (one per resource domain)."""


@arbiter.command("status")
@click.option("--domain", default="default", show_default=True, help="resource domain")
@json_option
@click.pass_obj
def arbiter_status(state: CliState, domain: str, as_json: bool) -> None:
    """Holders, waiters and fairness of a domain's arbiter."""
    asyncio.run(_status(state.settings, domain, as_json))


async def _status(settings: Settings, domain: str, as_json: bool) -> None:
    from pit.workers import local_pit

    async with local_pit(settings, worker=False) as pit:
        status = await pit.arbiter.status(domain)
    if as_json:
        click.echo(json.dumps(status.model_dump(mode="json"), indent=2))
        return
    emit_line(f"arbiter {status.domain} ({status.strategy}), logical time {status.now}")
    for holder in status.holders:
        emit_line(
            f"  holds  {holder.request:<16} {holder.tenant:<10} {holder.demands} "
            f"lease until {holder.lease_until}"
        )
    for waiter in status.waiters:
        emit_line(f"  waits  {waiter.request:<16} {waiter.tenant:<10} {waiter.demands}")
    emit_line(f"  gini {status.fairness.gini:.3f}, deviation {status.fairness.deviation:.3f}")
    for line in status.fairness.corrections:
        emit_line(f"  correction: {line}")
