"""`pit stale schedule`, `pit stale confirm`, `pit stale progress`: the cleanup on Temporal."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import click
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from pit.cli._app import CliState
from pit.cli._output import emit_json, emit_line, json_option
from pit.cli.stale import stale
from pit.common.config import Settings
from pit.common.errors import BackendUnavailableError, InvalidInputError, NotFoundError
from pit.common.validation import parse_duration
from pit.infra.temporal import open_temporal
from pit.stale.cli_support import read_policy_file
from pit.workflows.stale import CleanupInput, CleanupProgress, StaleCleanupWorkflow


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
    _, policy_text = read_policy_file(policy_file)  # a bad policy is refused up front
    cleanup = CleanupInput(
        policy_text=policy_text,
        auto_apply_under=auto_apply_under,
        confirm_within=parse_duration(confirm_within, "--confirm-within"),
    )
    interval = parse_duration(every, "--every")
    if interval < timedelta(minutes=1):
        raise InvalidInputError.for_field("--every", every, "must be at least 1m")
    asyncio.run(_schedule(settings, schedule_id, cleanup, interval, trigger, as_json))


async def _schedule(
    settings: Settings,
    schedule_id: str,
    cleanup: CleanupInput,
    every: timedelta,
    trigger: bool,
    as_json: bool,
) -> None:
    async with open_temporal(settings, ui=False) as session:
        if session.embedded and session.owned:
            raise InvalidInputError.for_field(
                "--temporal",
                None,
                "a schedule needs a server that outlives this command: "
                "run `pit dev` in this directory, or pass --temporal",
            )
        plan = Schedule(
            action=ScheduleActionStartWorkflow(
                StaleCleanupWorkflow.run,
                cleanup,
                id=f"{schedule_id}-run",
                task_queue=settings.temporal.task_queue,
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        )
        client = session.client
        try:
            handle = await client.create_schedule(schedule_id, plan)
            created = True
        except ScheduleAlreadyRunningError:
            handle = client.get_schedule_handle(schedule_id)

            def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=plan)

            await handle.update(replace)
            created = False
        if trigger:
            await handle.trigger()
    document = {
        "schedule_id": schedule_id,
        "every_seconds": every.total_seconds(),
        "created": created,
        "triggered": trigger,
    }
    if as_json:
        emit_json(document)
    else:
        verb = "created" if created else "updated"
        emit_line(
            f"{verb} schedule {schedule_id}: a cleanup plan every {every}"
            + (" (and one now)" if trigger else "")
        )


@stale.command("confirm")
@click.argument("run_id")
@json_option
@click.pass_obj
def confirm(state: CliState, run_id: str, as_json: bool) -> None:
    """Confirm the plan a cleanup run is waiting on, so it applies it."""
    asyncio.run(_signal_and_show(state.settings, run_id, as_json, confirm=True))


@stale.command("progress")
@click.argument("run_id")
@json_option
@click.pass_obj
def progress(state: CliState, run_id: str, as_json: bool) -> None:
    """Where a cleanup run is: planning, awaiting confirmation, applying, applied."""
    asyncio.run(_signal_and_show(state.settings, run_id, as_json, confirm=False))


async def _signal_and_show(settings: Settings, run_id: str, as_json: bool, confirm: bool) -> None:
    async with open_temporal(settings, ui=False) as session:
        handle = session.client.get_workflow_handle(run_id)
        try:
            if confirm:
                await handle.signal(StaleCleanupWorkflow.confirm, "pit stale confirm")
            shown: CleanupProgress = await handle.query(
                StaleCleanupWorkflow.progress, rpc_timeout=timedelta(seconds=10)
            )
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                raise NotFoundError(f"no cleanup run {run_id!r}", run_id=run_id) from None
            raise BackendUnavailableError(f"temporal: {error.message}") from None
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
    emit_line(f"{run_id}: {shown.stage} ({summary})")
