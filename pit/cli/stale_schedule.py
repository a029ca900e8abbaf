"""`pit stale schedule`, `pit stale confirm`, `pit stale progress`: the cleanup on Temporal."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import click

from pit.cli._app import CliState
from pit.cli._output import emit_json, emit_line, json_option
from pit.cli.stale import stale
from pit.client.stale import MIN_INTERVAL, StaleClient, read_policy
from pit.common.config import Settings
from pit.common.errors import InvalidInputError
from pit.common.validation import parse_duration
from pit.workers import local_pit


@stale.command("schedule")
@click.option("--policy", "policy_file", required=True, type=click.Path(path_type=Path))
@click.option("--every", default="1h", show_default=True, help="how often to plan")
@click.option(
    "--auto-apply-under",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1_000_000),
    help="apply by itself when "
    "the plan has fewer actions than this (0: always wait for `pit stale confirm`)",
)
@click.option("--confirm-within", default="24h", show_default=True)
@click.option("--id", "schedule_id", default="pit-stale-cleanup", show_default=True)
@click.option("--trigger", is_flag=True, help="also run once now")
@json_option
@click.pass_obj
def schedule(
    state: CliState,
    policy_file: Path,
    every: str,
    auto_apply_under: int,
    confirm_within: str,
    schedule_id: str,
    trigger: bool,
    as_json: bool,
) -> None:
    """Plan a cleanup on a Temporal Schedule; each run waits for confirmation (or applies by
    itself under --auto-apply-under) and reports. Needs a server that outlives this command:
    --temporal, or `pit dev` running in this directory."""
    settings = state.settings
    read_policy(policy_file)  # a bad policy is refused before anything starts
    within = parse_duration(confirm_within, "--confirm-within")
    interval = parse_duration(every, "--every")
    if interval < MIN_INTERVAL:
        raise InvalidInputError.for_field("--every", every, "must be at least 1m")
    asyncio.run(
        _schedule(
            settings, policy_file, schedule_id, interval, auto_apply_under, within, trigger, as_json
        )
    )


async def _schedule(
    settings: Settings,
    policy_file: Path,
    schedule_id: str,
    every: timedelta,
    auto_apply_under: int,
    confirm_within: timedelta,
    trigger: bool,
    as_json: bool,
) -> None:
    async with local_pit(settings, worker=False) as pit:
        assert pit.session is not None
        if pit.session.embedded and pit.session.owned:
            raise InvalidInputError.for_field(
                "--temporal",
                None,
                "a schedule needs a server that outlives this command: "
                "run `pit dev` in this directory, or pass --temporal",
            )
        result = await pit.stale.schedule(
            policy_file,
            every=every,
            auto_apply_under=auto_apply_under,
            confirm_within=confirm_within,
            schedule_id=schedule_id,
            trigger=trigger,
        )
    if as_json:
        emit_json(result.model_dump(mode="json"))
    else:
        verb = "created" if result.created else "updated"
        emit_line(
            f"{verb} schedule {schedule_id}: a cleanup plan every {result.every}"
            + (" (and one now)" if trigger else "")
            + f"; overlap policy {result.overlap}: runs due while one is open are skipped"
        )


@stale.command("confirm")
@click.argument("run_id")
@json_option
@click.pass_obj
def confirm(state: CliState, run_id: str, as_json: bool) -> None:
    """Confirm the plan a cleanup run is waiting on, so it applies it (RUN_ID may name the
    schedule: its open run is confirmed)."""
    asyncio.run(_signal_and_show(state.settings, run_id, as_json, confirm=True))


@stale.command("progress")
@click.argument("run_id")
@json_option
@click.pass_obj
def progress(state: CliState, run_id: str, as_json: bool) -> None:
    """Where a cleanup run is: planning, awaiting confirmation, applying, applied; and how
    many runs its schedule skipped while one was open. RUN_ID may name the schedule: its
    open run (else its latest) is shown."""
    asyncio.run(_signal_and_show(state.settings, run_id, as_json, confirm=False))


async def _signal_and_show(settings: Settings, run_id: str, as_json: bool, confirm: bool) -> None:
    async with local_pit(settings, worker=False) as pit:
        stale: StaleClient = pit.stale
        shown = await (stale.confirm(run_id) if confirm else stale.progress(run_id))
    if as_json:
        emit_json(shown.model_dump(mode="json"))
        return
    plan = shown.plan
    summary = (
        f"plan {plan.plan_id}: {plan.deletes} deletes, {plan.demotes} demotes, "
        f"{plan.promotes} promotes"
        if plan
        else "no plan yet"
    )
    emit_line(f"{shown.run_id or run_id}: {shown.stage} ({summary})")
    if shown.schedule_id is not None and (
        shown.skipped_runs or shown.stage == "awaiting_confirmation"
    ):
        emit_line(
            f"  schedule {shown.schedule_id} skipped {shown.skipped_runs} runs so far: runs "
            "due while one is open are skipped (overlap policy skip)"
        )
