"""What the future `pit stale` commands call: load a policy file, plan, render JSON-able dicts.

The CLI module stays a thin layer: it parses flags, gathers facts through the store adapter
(asking for `required_windows(policy)`), calls `plan_command`, and prints `plan_to_dict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pit.common.errors import InvalidInputError
from pit.common.files import MAX_JSON_BYTES, is_json, parse_json, parse_yaml, read_text
from pit.stale.facts import VersionFacts
from pit.stale.plan import Plan, Recheck, make_plan, to_jsonable
from pit.stale.policy import Policy, PolicyInvalidError, parse_policy
from pit.stale.score import ScoreExplanation, Scorer
from pit.stale.tiers import PriceTable, Savings, placement_savings


def load_policy_file(path: Path) -> Policy:
    """Parse a YAML (or .json) policy file; every problem is reported, one line each."""
    return read_policy_file(path)[0]


def read_policy_file(path: Path) -> tuple[Policy, str]:
    """The policy in `path` and its text (what a saved plan keeps), read once."""
    if is_json(path):
        text, parse = read_text(path, "--policy", MAX_JSON_BYTES), parse_json
    else:
        text, parse = read_text(path, "--policy"), parse_yaml
    try:
        data = parse(text, str(path))
    except InvalidInputError as error:
        raise PolicyInvalidError([error.message]) from None
    return parse_policy(data), text


EARLIEST_NOW = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_NOW = datetime(3000, 1, 1, tzinfo=UTC)
"""`--now` must lie in [1970, 3000): far enough from datetime's ends that every window and
grace period (at most 100 years) can be added or taken away."""


def parse_now(text: str | None, field: str = "--now") -> datetime:
    """`--now ISO8601`; no time zone means UTC; None means the current time."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        in_range = EARLIEST_NOW <= moment.astimezone(UTC) < LATEST_NOW
    except (ValueError, OverflowError):
        raise InvalidInputError.for_field(
            field, text, "an ISO 8601 time such as 2026-07-01T00:00:00Z"
        ) from None
    if not in_range:
        raise InvalidInputError.for_field(field, text, "must be from 1970 to 2999")
    return moment


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
