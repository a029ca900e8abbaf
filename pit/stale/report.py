"""What a plan comes to, as the client returns it and `pit stale plan --json` prints it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from pit.stale.facts import VersionFacts
from pit.stale.plan import Plan, make_plan, to_jsonable
from pit.stale.policy import Policy
from pit.stale.score import Scorer
from pit.stale.tiers import PriceTable, Savings, placement_savings


def plan_command(
    facts: Sequence[VersionFacts],
    policy: Policy,
    now: datetime,
    *,
    prices: PriceTable | None = None,
    scorer: Scorer | None = None,
) -> tuple[Plan, Savings]:
    """The plan and what it would save against keeping everything hot."""
    plan = make_plan(facts, policy, now, scorer)
    return plan, plan_savings(plan, facts, prices)


def plan_savings(
    plan: Plan, facts: Sequence[VersionFacts], prices: PriceTable | None = None
) -> Savings:
    """Savings once the plan is applied: deleted versions gone, moved ones in their tier."""
    moves = {(item.name, item.version): item.to_tier for item in plan.items}
    return placement_savings([(fact, moves.get(fact.key, fact.tier)) for fact in facts], prices)


class PlanReport(BaseModel):
    """A plan with its counts and savings."""

    plan_id: str
    now: datetime
    policy_digest: str
    versions: int
    counts: dict[str, int]
    items: list[dict[str, Any]]
    kept: dict[str, Any]
    savings: dict[str, Any] | None = None

    @classmethod
    def of(cls, plan: Plan, savings: Savings | None = None) -> PlanReport:
        dumped = to_jsonable(plan)
        return cls(
            plan_id=plan.plan_id,
            now=plan.now,
            policy_digest=plan.policy_digest,
            versions=plan.versions,
            counts={
                action: sum(1 for item in plan.items if item.action.value == action)
                for action in ("delete", "demote", "promote")
            },
            items=dumped["items"],
            kept=dumped["kept"],
            savings=None if savings is None else savings.to_dict(),
        )

    def lines(self) -> list[str]:
        """The human form: one line per action, then the keep summary."""
        lines = [
            f"{item['action']:<8} {item['name']}@{item['version']}  "
            f"{item['from_tier']}->{item['to_tier'] or '-'}  "
            f"{item['size']} B  score {item['score']:.3f}  ({'; '.join(item['reasons'])})"
            for item in self.items
        ]
        kept = self.kept
        lines.append(
            f"keep     {kept['versions']} versions, {kept['bytes']} B "
            f"({kept['protected']} protected, {kept['saved_from_delete']} saved from delete)"
        )
        lines.append(f"plan {self.plan_id}")
        return lines
