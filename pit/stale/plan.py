"""Cleanup plans: every action with its reason, score and bytes, under a deterministic id.

`make_plan` is a dry run (pure); `recheck` is what apply runs first: it drops every item that
became protected or no longer qualifies; `delete_batches` groups deletes for S3 DeleteObjects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from pit.stale.evaluate import Action, CompiledPolicy, Evaluation
from pit.stale.facts import Tier, VersionFacts
from pit.stale.policy import Policy
from pit.stale.score import Scorer

MAX_DELETE_BATCH = 1000
"""S3 DeleteObjects takes at most 1,000 keys a call."""


@dataclass(frozen=True, slots=True)
class PlanItem:
    name: str
    version: int
    digest: str
    action: Action
    from_tier: Tier
    to_tier: Tier | None
    """None for a delete."""
    reasons: tuple[str, ...]
    score: float
    size: int
    """Bytes of the version (what a delete frees, what a move carries)."""


@dataclass(frozen=True)
class KeepSummary:
    versions: int = 0
    bytes: int = 0
    protected: int = 0
    """Versions a keep rule covers (whatever their action)."""
    saved_from_delete: int = 0
    """Versions the delete rules chose but a keep rule protected."""
    by_tier: dict[Tier, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    plan_id: str
    now: datetime
    policy_digest: str
    versions: int
    items: tuple[PlanItem, ...]
    """Deletes, demotes and promotes, lowest value first, then by name and version."""
    kept: KeepSummary

    def by_action(self, action: Action) -> list[PlanItem]:
        return [item for item in self.items if item.action is action]

    def to_json(self) -> bytes:
        """The saved form of the plan (`plan_from_json` reads it back)."""
        return _PLAN.dump_json(self)


@dataclass(frozen=True)
class DroppedItem:
    item: PlanItem
    why: str


@dataclass(frozen=True)
class Recheck:
    """A plan as apply may run it now: the items that still hold, and those dropped."""

    plan_id: str
    items: tuple[PlanItem, ...]
    dropped: tuple[DroppedItem, ...]


_PLAN = TypeAdapter(Plan)
_RECHECK = TypeAdapter(Recheck)
_ITEM = TypeAdapter(PlanItem)


def plan_from_json(data: bytes | str) -> Plan:
    """A plan saved with `Plan.to_json`."""
    return _PLAN.validate_json(data)


def to_jsonable(value: Plan | Recheck | PlanItem) -> Any:
    """Plain JSON-able data (dicts, lists, strings, numbers) of a plan or a recheck."""
    if isinstance(value, Recheck):
        return _RECHECK.dump_python(value, mode="json")
    if isinstance(value, PlanItem):
        return _ITEM.dump_python(value, mode="json")
    return _PLAN.dump_python(value, mode="json")


def make_plan(
    facts: Sequence[VersionFacts],
    policy: Policy,
    now: datetime,
    scorer: Scorer | None = None,
) -> Plan:
    """The dry run: what `policy` would do at `now`. Changes nothing."""
    compiled = CompiledPolicy(policy, scorer)
    evaluation = compiled.evaluate(facts, now)
    return _plan(evaluation, plan_id(facts, policy, now, compiled.scorer))


def _plan(evaluation: Evaluation, identity: str) -> Plan:
    facts, actions = evaluation.facts, evaluation.actions
    moving = [i for i, action in enumerate(actions) if action is not Action.KEEP]
    scores = evaluation.columns.scores
    items = [
        PlanItem(
            name=facts[i].name,
            version=facts[i].version,
            digest=facts[i].digest,
            action=actions[i],
            from_tier=facts[i].tier,
            to_tier=evaluation.target(i),
            reasons=evaluation.reasons(i),
            score=scores[i],
            size=facts[i].size,
        )
        for i in moving
    ]
    items.sort(key=lambda item: (item.score, item.name, item.version))
    return Plan(
        plan_id=identity,
        now=evaluation.now,
        policy_digest=policy_digest(evaluation.compiled.policy),
        versions=len(facts),
        items=tuple(items),
        kept=_keep_summary(evaluation),
    )


def _keep_summary(evaluation: Evaluation) -> KeepSummary:
    versions = size = saved = 0
    by_tier: dict[Tier, int] = {}
    deleting = evaluation.delete_held
    for i, action in enumerate(evaluation.actions):
        if deleting[i] and evaluation.protected[i]:
            saved += 1
        if action is Action.KEEP:
            fact = evaluation.facts[i]
            versions += 1
            size += fact.size
            by_tier[fact.tier] = by_tier.get(fact.tier, 0) + 1
    return KeepSummary(
        versions=versions,
        bytes=size,
        protected=sum(evaluation.protected),
        saved_from_delete=saved,
        by_tier=dict(sorted(by_tier.items(), key=lambda pair: pair[0].depth)),
    )


def recheck(
    plan: Plan,
    current: Sequence[VersionFacts],
    policy: Policy,
    now: datetime,
    scorer: Scorer | None = None,
) -> Recheck:
    """Re-evaluate `policy` over the facts as they are now; keep only the plan items that the
    policy still decides the same way, on the same bytes, from the same tier."""
    evaluation = CompiledPolicy(policy, scorer).evaluate(current, now)
    where = {fact.key: i for i, fact in enumerate(current)}
    kept: list[PlanItem] = []
    dropped: list[DroppedItem] = []
    for item in plan.items:
        why = _still_due(item, evaluation, where.get((item.name, item.version)))
        if why is None:
            kept.append(item)
        else:
            dropped.append(DroppedItem(item=item, why=why))
    return Recheck(plan_id=plan.plan_id, items=tuple(kept), dropped=tuple(dropped))


def _still_due(item: PlanItem, evaluation: Evaluation, index: int | None) -> str | None:
    """None if the item still holds, else why it was dropped."""
    if index is None:
        return "the version is gone"
    fact = evaluation.facts[index]
    if fact.digest != item.digest:
        return "the version's content changed"
    if fact.tier is not item.from_tier:
        return f"the version moved to {fact.tier.value}"
    if item.action is Action.DELETE and evaluation.protected[index]:
        return "protected now: " + "; ".join(evaluation.reasons(index))
    action, target = evaluation.actions[index], evaluation.target(index)
    if action is not item.action or target is not item.to_tier:
        now_does = action.value + (f" to {target.value}" if target is not None else "")
        return f"no longer qualifies: the policy now says {now_does}"
    return None


def delete_batches(
    items: Sequence[PlanItem], batch_size: int = MAX_DELETE_BATCH
) -> Iterator[tuple[PlanItem, ...]]:
    """The delete items in groups of at most `batch_size` (S3 allows 1,000 keys a call)."""
    if not 1 <= batch_size <= MAX_DELETE_BATCH:
        raise ValueError(f"batch_size must be 1..{MAX_DELETE_BATCH}, got {batch_size}")
    deletes = [item for item in items if item.action is Action.DELETE]
    for start in range(0, len(deletes), batch_size):
        yield tuple(deletes[start : start + batch_size])


def policy_digest(policy: Policy) -> str:
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()


def plan_id(facts: Sequence[VersionFacts], policy: Policy, now: datetime, scorer: Scorer) -> str:
    """A hash of everything the plan depends on: the facts (in any order), the policy, the
    score config and `now`. Same inputs, same id."""
    digest = hashlib.sha256()
    digest.update(policy_digest(policy).encode())
    digest.update(scorer.config.model_dump_json().encode())
    digest.update(repr(now.timestamp()).encode())
    for line in sorted(_fact_line(fact) for fact in facts):
        digest.update(line.encode())
    return "plan-" + digest.hexdigest()[:24]


def _fact_line(fact: VersionFacts) -> str:
    # repr of plain values is stable across runs (no hash seeds, floats round-trip)
    return repr(
        (
            fact.name,
            fact.version,
            fact.digest,
            fact.size,
            fact.media_type,
            fact.created_at.timestamp(),
            sorted(fact.tags),
            sorted((key, type(value).__name__, value) for key, value in fact.metadata.items()),
            fact.tier.value,
            fact.tier_since.timestamp() if fact.tier_since else None,
            fact.last_access.timestamp() if fact.last_access else None,
            fact.access_count,
            sorted(fact.access_counts.items()),
            fact.rank,
            fact.compressed_size,
        )
    )
