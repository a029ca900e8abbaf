"""The Stale Manager over an artifact store: plan, apply (recheck, soft delete, tier moves),
restore within the grace period, and purge after it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pit.artifacts import lifecycle
from pit.artifacts.blob_port import BlobInfo, BlobTier
from pit.artifacts.manifest import Manifest
from pit.artifacts.store import ArtifactStore
from pit.common.clock import Clock, SystemClock
from pit.common.errors import ConflictError, InvalidInputError, NotFoundError
from pit.stale.evaluate import Action
from pit.stale.facts import TIERS_BY_DEPTH, Tier, VersionFacts
from pit.stale.journal import Journal, MovedBlob, PlanBook
from pit.stale.plan import Plan, PlanItem, delete_batches, recheck
from pit.stale.policy import Policy
from pit.stale.report import plan_command
from pit.stale.score import ScoreExplanation, Scorer
from pit.stale.store_facts import blob_infos, facts_from_store, live_manifests, version_tier
from pit.stale.tiers import PriceTable, Savings, placement_savings


@dataclass
class ApplyReport:
    plan_id: str
    applied_at: datetime
    deleted: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    """Each item not applied: name, version, action and why."""
    delete_batches: int = 0
    blob_moves: list[MovedBlob] = field(default_factory=list)
    savings: dict[str, float | int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        moved_before = sum(move.bytes_before for move in self.blob_moves)
        moved_after = sum(move.bytes_after for move in self.blob_moves)
        return {
            "plan_id": self.plan_id,
            "applied_at": self.applied_at.isoformat(),
            "deleted": self.deleted,
            "moved": self.moved,
            "skipped": self.skipped,
            "delete_batches": self.delete_batches,
            "blobs_moved": len(self.blob_moves),
            "moved_bytes_before": moved_before,
            "moved_bytes_after": moved_after,
            "savings": self.savings,
        }


@dataclass(frozen=True)
class RestoreReport:
    plan_id: str
    undeleted: int
    blobs_moved_back: int
    lost: tuple[str, ...] = ()
    """Versions the plan deleted that could not come back (purged meanwhile), `name@v`."""
    blobs_lost: int = 0
    """Blobs the plan moved that are gone, so they could not be moved back."""
    corrupt: tuple[str, ...] = ()
    """Blobs that could not be moved back because their copy is corrupt."""

    @property
    def complete(self) -> bool:
        return not self.lost and not self.blobs_lost and not self.corrupt

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "lost": list(self.lost), "corrupt": list(self.corrupt)}


class StaleManager:
    """Plans and carries out cleanups of one artifact store."""

    def __init__(
        self,
        store: ArtifactStore,
        plans: PlanBook,
        *,
        grace_period: timedelta = timedelta(days=7),
        prices: PriceTable | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.plans = plans
        self.grace_period = grace_period
        self.prices = prices or PriceTable()
        self._clock = clock or SystemClock()

    async def facts(self, policy: Policy, now: datetime) -> list[VersionFacts]:
        return await facts_from_store(self.store, policy, now)

    async def explain(
        self, name: str, version: int | None, policy: Policy, now: datetime
    ) -> tuple[int, ScoreExplanation]:
        """The value score of `name` at `version` (the latest when None), component by
        component: (the version, its explanation)."""
        manifests = await self.store.versions(name)
        wanted = version if version is not None else manifests[0].version
        facts = await facts_from_store(self.store, policy, now, manifests=manifests)
        found = [fact for fact in facts if fact.version == wanted]
        if not found:
            await self.store.manifest(name, wanted)  # the not-found error, worded
        return wanted, Scorer(policy.score).explain(found[0], now)

    async def plan(self, policy: Policy, policy_text: str, now: datetime) -> tuple[Plan, Savings]:
        """The dry run, saved under its id. Changes nothing in the store."""
        facts = await self.facts(policy, now)
        plan, savings = plan_command(facts, policy, now, prices=self.prices)
        self.plans.save(plan, policy_text)
        return plan, savings

    async def apply(self, plan_id: str, now: datetime) -> ApplyReport:
        """Re-check every item against the policy now, then soft-delete and move tiers."""
        plan, policy = self.plans.load(plan_id)
        journal = self.plans.journal(plan_id)
        if journal is not None and journal.restored_at is None:
            raise ConflictError(
                f"plan {plan_id} was applied at {journal.applied_at.isoformat()}; "
                "restore it before applying it again"
            )
        manifests = await live_manifests(self.store)
        blobs = await blob_infos(self.store)
        facts = await facts_from_store(self.store, policy, now, manifests=manifests, blobs=blobs)
        checked = recheck(plan, facts, policy, now)
        report = ApplyReport(plan_id=plan_id, applied_at=now)
        report.skipped = [_skipped(d.item, d.why) for d in checked.dropped]
        by_key = {(m.name, m.version): m for m in manifests}
        deleted: set[tuple[str, int]] = set()
        for batch in delete_batches(checked.items):
            report.delete_batches += 1
            result = await lifecycle.soft_delete(
                self.store,
                [by_key[(item.name, item.version)] for item in batch],
                at=now,
                plan_id=plan_id,
                reason="; ".join(batch[0].reasons) if len(batch) == 1 else "cleanup plan",
            )
            deleted.update(t.key for t in result.deleted)
            report.skipped += [
                {"name": n, "version": v, "action": "delete", "why": why}
                for n, v, why in result.skipped
            ]
        report.deleted = [f"{n}@{v}" for n, v in sorted(deleted)]
        moving = [item for item in checked.items if item.action is not Action.DELETE]
        moves, held = _blob_moves(moving, facts, by_key, blobs, deleted)
        outcome = await lifecycle.move_blobs(self.store, moves)
        report.blob_moves = [
            MovedBlob(
                digest=m.digest,
                from_tier=m.from_tier,
                to_tier=m.to_tier,
                bytes_before=m.bytes_before,
                bytes_after=m.bytes_after,
            )
            for m in outcome.done
        ]
        for item in moving:
            corrupt = set(by_key[(item.name, item.version)].blob_digests) & set(outcome.corrupt)
            if corrupt:
                why = f"blob {min(corrupt)} is corrupt: not moved (see `pit artifact verify`)"
                report.skipped.append(_skipped(item, why))
            elif (item.name, item.version) in held:
                report.skipped.append(_skipped(item, held[(item.name, item.version)]))
            else:
                report.moved.append(f"{item.name}@{item.version}")
        self.plans.save_journal(
            Journal(
                plan_id=plan_id,
                applied_at=now,
                deleted=sorted(deleted),
                moved=report.blob_moves,
            )
        )
        report.savings = await self._savings(facts, deleted)
        return report

    async def _savings(
        self, before: list[VersionFacts], deleted: set[tuple[str, int]]
    ) -> dict[str, float | int]:
        """Savings measured on the store as it is now (actual compressed sizes)."""
        blobs = await blob_infos(self.store)
        placement: list[tuple[VersionFacts, Tier | None]] = []
        for fact in before:
            if fact.key in deleted:
                placement.append((fact, None))
                continue
            manifest = await self.store.blobs.get_manifest(fact.name, fact.version)
            tier = version_tier(manifest, blobs)
            stored = sum(blobs[d].size for d in dict.fromkeys(manifest.blob_digests) if d in blobs)
            measured = fact.model_copy(update={"compressed_size": stored})
            placement.append((measured, tier))
        return placement_savings(placement, self.prices).to_dict()

    async def restore(self, plan_id: str, now: datetime) -> RestoreReport:
        """Undo an apply completely: tombstones removed, blobs back in their tiers. What a
        purge removed meanwhile cannot come back: the report names it (`lost`)."""
        self.plans.load(plan_id)
        journal = self.plans.journal(plan_id)
        if journal is None or journal.restored_at is not None:
            raise NotFoundError(f"plan {plan_id} is not applied: nothing to restore")
        if now >= journal.applied_at + self.grace_period:
            raise InvalidInputError.for_field(
                "PLAN_ID",
                plan_id,
                f"applied at {journal.applied_at.isoformat()}: the grace period "
                f"({self.grace_period}) is over, purge may have removed it",
            )
        mine = await lifecycle.tombstones(self.store, lambda t: t.plan_id == plan_id)
        undeleted = await lifecycle.undelete(self.store, mine)
        back: list[tuple[BlobInfo, BlobTier]] = [
            (BlobInfo(m.digest, m.bytes_after, _tier(m.to_tier)), _tier(m.from_tier))
            for m in journal.moved
        ]
        outcome = await lifecycle.move_blobs(self.store, back)
        lost = await self._lost(journal.deleted, {t.key for t in mine})
        journal.restored_at = now
        self.plans.save_journal(journal)
        return RestoreReport(
            plan_id=plan_id,
            undeleted=undeleted,
            blobs_moved_back=len(outcome.done),
            lost=tuple(f"{name}@{version}" for name, version in lost),
            blobs_lost=len(back) - len(outcome.done) - len(outcome.corrupt),
            corrupt=tuple(outcome.corrupt),
        )

    async def _lost(
        self, deleted: list[tuple[str, int]], back: set[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        """The versions of `deleted` that neither came back now nor still exist."""
        lost = []
        for name, version in deleted:
            if (name, version) in back:
                continue
            if version not in await self.store.blobs.list_versions(name):
                lost.append((name, version))
        return lost

    async def purge(
        self, now: datetime, *, min_blob_age: timedelta = timedelta(hours=1)
    ) -> lifecycle.PurgeReport:
        """Remove versions soft-deleted at least a grace period before `now`, then sweep."""
        mark = self._clock.now()
        expired = await lifecycle.tombstones(
            self.store, lambda t: t.deleted_at + self.grace_period <= now
        )
        return await lifecycle.purge(self.store, expired, mark=mark, min_blob_age=min_blob_age)


def _tier(name: str) -> BlobTier:
    tier: BlobTier = "cold" if name == "cold" else "warm" if name == "warm" else "hot"
    return tier


def _skipped(item: PlanItem, why: str) -> dict[str, Any]:
    return {"name": item.name, "version": item.version, "action": item.action.value, "why": why}


def _blob_moves(
    moving: list[PlanItem],
    facts: list[VersionFacts],
    manifests: dict[tuple[str, int], Manifest],
    blobs: dict[str, BlobInfo],
    deleted: set[tuple[str, int]],
) -> tuple[list[tuple[BlobInfo, BlobTier]], dict[tuple[str, int], str]]:
    """Each blob goes to the warmest tier any live version using it is headed for; a version
    sharing bytes with a warmer one stays where those bytes are (and is reported)."""
    target = {fact.key: fact.tier for fact in facts if fact.key not in deleted}
    target.update({(i.name, i.version): i.to_tier for i in moving if i.to_tier is not None})
    depth: dict[str, int] = {}
    for key, tier in target.items():
        for digest in manifests[key].blob_digests:
            depth[digest] = min(depth.get(digest, 2), tier.depth)
    moves: dict[str, tuple[BlobInfo, BlobTier]] = {}
    held: dict[tuple[str, int], str] = {}
    for item in moving:
        for digest in manifests[(item.name, item.version)].blob_digests:
            tier = TIERS_BY_DEPTH[depth[digest]]
            if item.to_tier is not None and tier is not item.to_tier:
                held[(item.name, item.version)] = f"shares content with a version kept {tier}"
            if digest in blobs:
                moves[digest] = (blobs[digest], _tier(tier.value))
    return list(moves.values()), held
