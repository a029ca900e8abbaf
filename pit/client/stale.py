"""The Stale Manager from a program: plan, score, apply, restore and purge over an artifact
store, and the scheduled cleanup on Temporal (schedule, confirm, progress).

    report = await pit.stale.plan(Path("policy.yaml"))        # a dry run, saved by its id
    applied = await pit.stale.apply(report.plan_id)          # soft deletes, tier moves
    await pit.stale.restore(report.plan_id)                   # within the grace period
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from pit.artifacts.lifecycle import PurgeReport
from pit.artifacts.store import ArtifactStore
from pit.client._files import read_policy_file
from pit.common.config import Settings
from pit.common.errors import BackendUnavailableError, InvalidInputError, NotFoundError
from pit.common.files import parse_yaml
from pit.common.validation import format_duration, parse_now
from pit.infra.artifact_factory import open_artifact_store
from pit.infra.stale_plans import open_stale_manager
from pit.infra.temporal.search_attributes import SCHEDULED_BY, pit_tags
from pit.stale.manager import ApplyReport, RestoreReport, StaleManager
from pit.stale.policy import Policy, PolicyInvalidError, parse_policy
from pit.stale.protocol import CLEANUP_WORKFLOW, CleanupInput, CleanupProgress
from pit.stale.report import PlanReport
from pit.stale.score import ScoreExplanation

PolicySource = Path | str
"""A policy: the path of a YAML (or .json) file, or the YAML text itself."""
QUERY_TIMEOUT = timedelta(seconds=10)
MIN_INTERVAL = timedelta(minutes=1)
OVERLAP = ScheduleOverlapPolicy.SKIP
"""A cleanup run due while the last one is still open is skipped, deliberately: the open run
holds a plan awaiting confirmation, and a second plan of the same store would compete with
it (both applied, or the later made stale by the first), BUFFER_ONE would run an outdated
plan the moment the first is confirmed, and ALLOW_ALL would stack a plan an hour for a
day. The skips are counted (`CleanupProgress.skipped_runs`), the schedule's memo says so, and
while a plan waits the schedule's note names it (`temporal schedule describe`)."""
OVERLAP_NOTE = (
    "overlap policy skip: while a cleanup run is open (its plan awaiting confirmation), "
    "every run due is skipped; `pit stale progress` counts them"
)


class ScheduleResult(BaseModel):
    """What `schedule` did."""

    schedule_id: str
    every_seconds: float
    every: str
    """The interval as `pit` writes durations (`1h`)."""
    overlap: str
    """The schedule's overlap policy (`skip`: see OVERLAP)."""
    created: bool
    """False when a schedule of that id existed and was replaced."""
    triggered: bool


class StaleClient:
    """Cleanup of one artifact store (`manager`, or a function that builds it on first use);
    scheduling needs a Temporal `client`."""

    def __init__(
        self,
        manager: StaleManager | Callable[[], StaleManager],
        *,
        client: Client | None = None,
        task_queue: str = "pit",
        half_life: timedelta = timedelta(days=14),
    ) -> None:
        self._manager = manager
        self.client = client
        self.task_queue = task_queue
        self.half_life = half_life
        self._owned: ArtifactStore | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store_url: str | None = None,
        field: str | None = None,
        client: Client | None = None,
    ) -> StaleClient:
        """Cleanup of the store `store_url` names (default: the settings'), with plans and
        journals under the state dir; `close()` closes the store."""
        field = field or ("storage.url" if store_url is None else "store_url")
        store = open_artifact_store(settings, store_url=store_url, field=field)
        stale = cls(
            open_stale_manager(store, settings),
            client=client,
            task_queue=settings.temporal.task_queue,
            half_life=settings.stale.half_life,
        )
        stale._owned = store
        return stale

    @property
    def manager(self) -> StaleManager:
        """The stale manager (built on first use when given as a function)."""
        if not isinstance(self._manager, StaleManager):
            self._manager = self._manager()
        return self._manager

    async def close(self) -> None:
        """Close the store when `from_settings` opened it."""
        if self._owned is not None:
            await self._owned.close()
            self._owned = None

    async def plan(self, policy: PolicySource, *, now: datetime | None = None) -> PlanReport:
        """A dry run: every action with its reason, score and bytes, and the savings. The
        plan is saved under its id for `apply`; nothing in the store changes."""
        parsed, text = read_policy(policy)
        made, savings = await self.manager.plan(parsed, text, now or parse_now(None))
        return PlanReport.of(made, savings)

    async def score(
        self,
        name: str,
        *,
        version: int | None = None,
        policy: PolicySource | None = None,
        now: datetime | None = None,
    ) -> tuple[int, ScoreExplanation]:
        """The value score of a version (the latest when None), explained: (version,
        explanation). `policy` supplies the score weights (default: the settings' half-life)."""
        parsed = (
            read_policy(policy)[0]
            if policy is not None
            else parse_policy({"score": {"half_life": self.half_life}})
        )
        return await self.manager.explain(name, version, parsed, now or parse_now(None))

    async def apply(self, plan_id: str, *, now: datetime | None = None) -> ApplyReport:
        """Apply a saved plan: every item re-checked first; deletes are soft (restorable)."""
        return await self.manager.apply(plan_id, now or parse_now(None))

    async def restore(self, plan_id: str, *, now: datetime | None = None) -> RestoreReport:
        """Roll an applied plan back (within the grace period); `report.complete` is False
        when some of it could not come back (purged since, or corrupt)."""
        return await self.manager.restore(plan_id, now or parse_now(None))

    async def purge(
        self, *, now: datetime | None = None, min_blob_age: timedelta = timedelta(hours=1)
    ) -> PurgeReport:
        """Remove versions deleted more than the grace period ago, then unreferenced blobs
        (never one written or touched within `min_blob_age`)."""
        return await self.manager.purge(now or parse_now(None), min_blob_age=min_blob_age)

    async def schedule(
        self,
        policy: PolicySource,
        *,
        every: timedelta = timedelta(hours=1),
        auto_apply_under: int = 0,
        confirm_within: timedelta = timedelta(hours=24),
        schedule_id: str = "pit-stale-cleanup",
        trigger: bool = False,
    ) -> ScheduleResult:
        """Plan a cleanup on a Temporal Schedule every `every`; each run waits for `confirm`
        (or applies by itself when the plan has fewer than `auto_apply_under` actions)."""
        if every < MIN_INTERVAL:
            raise InvalidInputError.for_field("every", every, "must be at least 1m")
        _, text = read_policy(policy)  # a bad policy is refused up front
        cleanup = CleanupInput(
            policy_text=text, auto_apply_under=auto_apply_under, confirm_within=confirm_within
        )
        client = self._temporal()
        every_text = format_duration(every)
        summary = f"stale cleanup every {every_text}"
        run_tags = await pit_tags(
            client,
            "stale-cleanup",
            f"{summary}, from schedule {schedule_id}",
            {"schedule": schedule_id},
        )
        memo = {
            "every": every_text,
            "confirm_within": format_duration(confirm_within),
            "auto_apply_under": auto_apply_under,
            "overlap": OVERLAP_NOTE,
        }
        schedule_tags = await pit_tags(client, "stale-schedule", summary, memo)
        plan = Schedule(
            action=ScheduleActionStartWorkflow(
                CLEANUP_WORKFLOW,
                cleanup,
                id=f"{schedule_id}-run",
                task_queue=self.task_queue,
                memo=run_tags.memo,
                typed_search_attributes=run_tags.search_attributes or TypedSearchAttributes([]),
                static_summary=run_tags.summary,
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            policy=SchedulePolicy(overlap=OVERLAP),
        )
        try:
            handle = await client.create_schedule(
                schedule_id,
                plan,
                memo=schedule_tags.memo,
                search_attributes=schedule_tags.search_attributes,
            )
            created = True
        except ScheduleAlreadyRunningError:
            handle = client.get_schedule_handle(schedule_id)

            def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
                return ScheduleUpdate(
                    schedule=plan, search_attributes=schedule_tags.search_attributes
                )

            await handle.update(replace)
            created = False
        if trigger:
            await handle.trigger()
        return ScheduleResult(
            schedule_id=schedule_id,
            every_seconds=every.total_seconds(),
            every=every_text,
            overlap=OVERLAP.name.lower(),
            created=created,
            triggered=trigger,
        )

    async def confirm(self, run_id: str, *, who: str = "pit stale confirm") -> CleanupProgress:
        """Confirm the plan a cleanup run waits on, so it applies it; its progress after."""
        return await self._progress(run_id, confirm_as=who)

    async def progress(self, run_id: str) -> CleanupProgress:
        """Where a cleanup run is: planning, awaiting confirmation, applying, applied."""
        return await self._progress(run_id, confirm_as=None)

    async def _progress(self, run_id: str, confirm_as: str | None) -> CleanupProgress:
        """`run_id`: a cleanup run, or a schedule (its open run, else its latest)."""
        client = self._temporal()
        try:
            run_id = await self._run_of(client, run_id)
            handle = client.get_workflow_handle(run_id)
            if confirm_as is not None:
                await handle.signal("confirm", confirm_as)
            shown: CleanupProgress = await handle.query(
                "progress", result_type=CleanupProgress, rpc_timeout=QUERY_TIMEOUT
            )
            scheduled_by = (await handle.describe()).typed_search_attributes.get(SCHEDULED_BY)
            shown.run_id = run_id
            if scheduled_by:
                info = await client.get_schedule_handle(scheduled_by).describe()
                shown.schedule_id = scheduled_by
                shown.skipped_runs = info.info.num_actions_skipped_overlap
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                raise NotFoundError(f"no cleanup run {run_id!r}", run_id=run_id) from None
            raise BackendUnavailableError(f"temporal: {error.message}") from None
        return shown

    @staticmethod
    async def _run_of(client: Client, run_or_schedule: str) -> str:
        """The run `run_or_schedule` names: itself when a run has that id, else the open
        (or latest) run of the schedule of that id."""
        try:
            await client.get_workflow_handle(run_or_schedule).describe(rpc_timeout=QUERY_TIMEOUT)
            return run_or_schedule
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
        try:
            info = (await client.get_schedule_handle(run_or_schedule).describe()).info
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            return run_or_schedule  # neither: the query says not found
        started = ScheduleActionExecutionStartWorkflow
        running = [a.workflow_id for a in info.running_actions if isinstance(a, started)]
        recent = [
            r.action.workflow_id for r in info.recent_actions if isinstance(r.action, started)
        ]
        runs = running or recent
        return runs[-1] if runs else run_or_schedule

    def _temporal(self) -> Client:
        if self.client is None:
            raise InvalidInputError.for_field(
                "temporal", None, "scheduled cleanups need a Temporal client"
            )
        return self.client


def read_policy(policy: PolicySource) -> tuple[Policy, str]:
    """A policy and its text, from a file's path or from the text itself."""
    if isinstance(policy, Path):
        return read_policy_file(policy)
    try:
        data = parse_yaml(policy, "policy")
    except InvalidInputError as error:
        raise PolicyInvalidError([error.message]) from None
    return parse_policy(data), policy
