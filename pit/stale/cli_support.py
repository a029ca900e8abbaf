"""What the future `pit stale` commands call: load a policy file, plan, render JSON-able dicts.

The CLI module stays a thin layer: it parses flags, gathers facts through the store adapter
(asking for `required_windows(policy)`), calls `plan_command`, and prints `plan_to_dict`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from pit.common.errors import InvalidInputError
from pit.stale.facts import VersionFacts
from pit.stale.plan import Plan, Recheck, make_plan, to_jsonable
from pit.stale.policy import Policy, PolicyInvalidError, parse_policy
from pit.stale.score import ScoreExplanation, Scorer
from pit.stale.tiers import PriceTable, Savings, placement_savings


def load_policy_file(path: Path) -> Policy:
    """Parse a YAML (or .json) policy file; every problem is reported, one line each."""
    try:
        text = path.read_text()
    except OSError as error:
        rule = f"cannot be read: {error.strerror}"
        raise InvalidInputError.for_field("--policy", str(path), rule) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise PolicyInvalidError([f"{path}:{error.lineno}: not valid JSON: {error.msg}"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise PolicyInvalidError([f"{path}{line}: not valid YAML: {problem}"]) from None
    return parse_policy(data)


def parse_now(text: str | None, field: str = "--now") -> datetime:
    """`--now ISO8601`; no time zone means UTC; None means the current time."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError.for_field(
            field, text, "an ISO 8601 time such as 2026-07-01T00:00:00Z"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def plan_command(
    facts: Sequence[VersionFacts],
    policy: Policy,
    now: datetime,
    *,
    prices: PriceTable | None = None,
    scorer: Scorer | None = None,
) -> tuple[Plan, Savings]:
    """`pit stale plan`: the plan and what it would save against keeping everything hot."""
    plan = make_plan(facts, policy, now, scorer)
    return plan, plan_savings(plan, facts, prices)


def plan_savings(
    plan: Plan, facts: Sequence[VersionFacts], prices: PriceTable | None = None
) -> Savings:
    """Savings once the plan is applied: deleted versions gone, moved ones in their tier."""
    moves = {(item.name, item.version): item.to_tier for item in plan.items}
    return placement_savings([(fact, moves.get(fact.key, fact.tier)) for fact in facts], prices)


def plan_to_dict(plan: Plan, savings: Savings | None = None) -> dict[str, Any]:
    """The JSON shape of a plan, as `pit stale plan --json` prints it."""
    dumped = to_jsonable(plan)
    shaped: dict[str, Any] = {
        "plan_id": plan.plan_id,
        "now": plan.now.isoformat(),
        "policy_digest": plan.policy_digest,
        "versions": plan.versions,
        "counts": {
            action: sum(1 for item in plan.items if item.action.value == action)
            for action in ("delete", "demote", "promote")
        },
        "items": dumped["items"],
        "kept": dumped["kept"],
    }
    if savings is not None:
        shaped["savings"] = savings.to_dict()
    return shaped


def recheck_to_dict(result: Recheck) -> dict[str, Any]:
    """`pit stale apply --json`: the items applied and those dropped at apply time, and why."""
    shaped: dict[str, Any] = to_jsonable(result)
    return shaped


def explanation_to_dict(explanation: ScoreExplanation) -> dict[str, Any]:
    """`pit stale score NAME --json`: each component and its weighted contribution."""
    return explanation.to_dict()


def plan_lines(plan: Plan) -> list[str]:
    """The human form: one line per action, then the keep summary."""
    lines = [
        f"{item.action.value:<8} {item.name}@{item.version}  "
        f"{item.from_tier.value}->{item.to_tier.value if item.to_tier else '-'}  "
        f"{item.size} B  score {item.score:.3f}  ({'; '.join(item.reasons)})"
        for item in plan.items
    ]
    kept = plan.kept
    lines.append(
        f"keep     {kept.versions} versions, {kept.bytes} B "
        f"({kept.protected} protected, {kept.saved_from_delete} saved from delete)"
    )
    lines.append(f"plan {plan.plan_id}")
    return lines
