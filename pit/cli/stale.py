"""`pit stale plan|score|apply|restore|purge`: retention policies over the artifact store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from pit.cli._app import CliState, cli
from pit.cli._output import emit_json, emit_line, json_option
from pit.client.stale import StaleClient, read_policy
from pit.common.errors import InvalidInputError, WorkFailedError
from pit.common.validation import parse_duration, parse_now
from pit.stale.manager import RestoreReport

T = TypeVar("T")
_NAMED = 20
"""Versions a failed restore names in its one line (--json lists them all)."""

_store_option = click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="a path, file:///path or s3://bucket/prefix [storage.url, else <state-dir>/artifacts]",
)
_now_option = click.option(
    "--now", "now_text", metavar="ISO8601", help="evaluate as of this time [now; no zone: UTC]"
)


def _run(state: CliState, store_url: str | None, work: Callable[[StaleClient], Awaitable[T]]) -> T:
    settings = state.settings

    async def main() -> T:
        field = "storage.url" if store_url is None else "--store"
        stale = StaleClient.from_settings(settings, store_url=store_url, field=field)
        try:
            return await work(stale)
        finally:
            await stale.close()

    return asyncio.run(main())


@cli.group()
def stale() -> None:
    """Retire what is no longer worth keeping: plan, apply, restore, purge.

    \b
    pit stale plan --policy examples/stale/default.yaml     a dry run, saved under a plan id
    pit stale apply PLAN_ID --yes                            soft-delete and move tiers
    pit stale restore PLAN_ID                                undo it within the grace period
    pit stale purge                                          after it: remove for good
    """


@stale.command()
@click.option("--policy", "policy_file", required=True, type=click.Path(path_type=Path))
@_now_option
@_store_option
@json_option
@click.pass_obj
def plan(
    state: CliState,
    policy_file: Path,
    now_text: str | None,
    store_url: str | None,
    as_json: bool,
) -> None:
    """A dry run: every action with its reason, score and bytes, and the savings. Saves the
    plan under an id for `apply`; changes nothing."""
    read_policy(policy_file)  # a bad policy is refused before the store is opened
    now = parse_now(now_text)

    async def work(stale: StaleClient) -> None:
        report = await stale.plan(policy_file, now=now)
        if as_json:
            emit_json(report.model_dump(mode="json"))
            return
        for line in report.lines():
            emit_line(line)
        savings = report.savings or {}
        emit_line(
            f"savings: bytes {savings['bytes_before']} -> {savings['bytes_after']} "
            f"({savings['bytes_saved_ratio']:.1%}), cost ${savings['cost_before']:.4f} -> "
            f"${savings['cost_after']:.4f} ({savings['cost_saved_ratio']:.1%}) over "
            f"{savings['horizon_days']:g} days"
        )

    _run(state, store_url, work)


@stale.command()
@click.argument("name")
@click.option("--version", "version", type=int, help="a version number [the latest]")
@click.option("--policy", "policy_file", type=click.Path(path_type=Path), help="its score config")
@_now_option
@_store_option
@json_option
@click.pass_obj
def score(
    state: CliState,
    name: str,
    version: int | None,
    policy_file: Path | None,
    now_text: str | None,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Explain the value score of a version: each component, its weight and contribution."""
    if policy_file is not None:
        read_policy(policy_file)  # a bad policy is refused before the store is opened
    now = parse_now(now_text)

    async def work(stale: StaleClient) -> None:
        wanted, explanation = await stale.score(name, version=version, policy=policy_file, now=now)
        if as_json:
            emit_json(explanation.to_dict())
            return
        emit_line(f"{name} v{wanted}: score {explanation.score:.4f}")
        for part in explanation.components:
            emit_line(
                f"  {part.name:<9} input {part.raw:<14.6g} value {part.value:.4f}  "
                f"weight {part.weight:g}  contribution {part.contribution:+.4f}"
            )

    _run(state, store_url, work)


@stale.command()
@click.argument("plan_id")
@click.option("--yes", is_flag=True, help="really change the store")
@_now_option
@_store_option
@json_option
@click.pass_obj
def apply(
    state: CliState,
    plan_id: str,
    yes: bool,
    now_text: str | None,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Apply a saved plan: every item re-checked first; deletes are soft (restorable)."""
    if not yes:
        raise InvalidInputError(
            f"pit stale apply {plan_id}: refusing to change the store without --yes "
            "(review it first with `pit stale plan`)"
        )
    now = parse_now(now_text)

    async def work(stale: StaleClient) -> None:
        report = await stale.apply(plan_id, now=now)
        if as_json:
            emit_json(report.to_dict())
            return
        shaped = report.to_dict()
        emit_line(
            f"applied {plan_id}: {len(report.deleted)} deleted (softly, in "
            f"{report.delete_batches} batches), {len(report.moved)} moved, "
            f"{len(report.skipped)} skipped"
        )
        for key in report.deleted:
            emit_line(f"deleted  {key}")
        for key in report.moved:
            emit_line(f"moved    {key}")
        for item in report.skipped:
            emit_line(f"skipped  {item['name']}@{item['version']} {item['action']}: {item['why']}")
        emit_line(
            f"moved bytes {shaped['moved_bytes_before']} -> {shaped['moved_bytes_after']}; "
            f"store bytes {report.savings.get('bytes_before')} -> "
            f"{report.savings.get('bytes_after')}"
        )

    _run(state, store_url, work)


@stale.command()
@click.argument("plan_id")
@_now_option
@_store_option
@json_option
@click.pass_obj
def restore(
    state: CliState, plan_id: str, now_text: str | None, store_url: str | None, as_json: bool
) -> None:
    """Roll an applied plan back completely (within the grace period, stale.grace_period)."""
    now = parse_now(now_text)

    async def work(stale: StaleClient) -> None:
        report = await stale.restore(plan_id, now=now)
        if as_json:
            emit_json(report.to_dict())
        else:
            emit_line(
                f"restored {plan_id}: {report.undeleted} versions back, "
                f"{report.blobs_moved_back} blobs back in their tiers"
            )
        if not report.complete:
            raise WorkFailedError(_incomplete(plan_id, report), lost=list(report.lost))

    _run(state, store_url, work)


def _incomplete(plan_id: str, report: RestoreReport) -> str:
    """One line: what of a plan could not come back, and why."""
    parts = []
    if report.lost:
        named = ", ".join(report.lost[:_NAMED])
        more = f" and {len(report.lost) - _NAMED} more" if len(report.lost) > _NAMED else ""
        parts.append(f"{len(report.lost)} versions were purged since the apply: {named}{more}")
    if report.corrupt:
        parts.append(
            f"{len(report.corrupt)} blobs are corrupt and stayed in their tier "
            f"(first {report.corrupt[0]}; see `pit artifact verify`)"
        )
    if report.blobs_lost:
        parts.append(f"{report.blobs_lost} moved blobs are gone")
    return f"restore {plan_id} is incomplete: " + "; ".join(parts)


@stale.command()
@_now_option
@click.option(
    "--min-blob-age",
    default="1h",
    show_default=True,
    help="never sweep a blob written or touched more recently than this",
)
@_store_option
@json_option
@click.pass_obj
def purge(
    state: CliState, now_text: str | None, min_blob_age: str, store_url: str | None, as_json: bool
) -> None:
    """Remove versions deleted more than the grace period ago, then unreferenced blobs."""
    now = parse_now(now_text)
    age = parse_duration(min_blob_age, "--min-blob-age")

    async def work(stale: StaleClient) -> None:
        report = await stale.purge(now=now, min_blob_age=age)
        if as_json:
            emit_json(
                {
                    "manifests_removed": report.manifests_removed,
                    "blobs_removed": report.blobs_removed,
                    "bytes_freed": report.bytes_freed,
                    "kept_recent": report.kept_recent,
                    "removed": [f"{n}@{v}" for n, v in report.removed],
                    "leftovers_removed": report.leftovers_removed,
                }
            )
            return
        emit_line(
            f"purged {report.manifests_removed} versions and {report.blobs_removed} blobs "
            f"({report.bytes_freed} bytes); {report.kept_recent} recent unreferenced blobs kept; "
            f"{report.leftovers_removed} leftovers of interrupted writes removed"
        )

    _run(state, store_url, work)
