"""What plans come to: --now parsing, plan + savings, the report's JSON shape and lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pit.common.errors import InvalidInputError
from pit.common.validation import parse_now
from pit.stale import Scorer, parse_policy, with_ranks
from pit.stale.plan import recheck, to_jsonable
from pit.stale.report import PlanReport, plan_command
from tests.stale.strategies import NOW
from tests.stale.test_rules import fact

POLICY = parse_policy(
    {
        "keep": {"keep_last": 1},
        "delete": {"max_age": "60d"},
        "demote": {"cold": {"idle_for": "30d"}},
    }
)


def test_now_reads_iso_8601_with_z_or_offset_and_defaults_to_utc() -> None:
    assert parse_now("2026-07-01T00:00:00Z") == datetime(2026, 7, 1, tzinfo=UTC)
    assert parse_now("2026-07-01T02:00:00+02:00") == datetime(2026, 7, 1, tzinfo=UTC)
    assert parse_now("2026-07-01") == datetime(2026, 7, 1, tzinfo=UTC)
    assert abs(parse_now(None) - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_bad_now_names_the_flag() -> None:
    with pytest.raises(InvalidInputError, match="--now: 'next month'"):
        parse_now("next month")


def test_plan_json_lists_every_action_with_reason_score_and_bytes() -> None:
    facts = with_ranks(
        [
            fact(version=1, created_at=NOW - timedelta(days=90), size=5),
            fact(version=2, created_at=NOW - timedelta(days=40), size=7),
            fact(version=3, created_at=NOW - timedelta(days=1), size=9),
        ]
    )
    plan, savings = plan_command(facts, POLICY, NOW)
    report = PlanReport.of(plan, savings)
    shaped = json.loads(report.model_dump_json())
    assert shaped["plan_id"] == plan.plan_id
    assert shaped["counts"] == {"delete": 1, "demote": 1, "promote": 0}
    delete, demote = sorted(shaped["items"], key=lambda item: item["action"])
    assert (delete["version"], delete["size"], delete["reasons"]) == (1, 5, ["delete: max_age 60d"])
    assert (demote["to_tier"], demote["reasons"]) == ("cold", ["demote.cold: idle_for 30d"])
    assert isinstance(delete["score"], float)
    assert shaped["kept"]["versions"] == 1 and shaped["kept"]["bytes"] == 9
    assert shaped["savings"]["deleted"] == 1 and shaped["savings"]["bytes_before"] == 21
    lines = report.lines()
    assert lines[-1] == f"plan {plan.plan_id}"
    assert any(line.startswith("delete   a@1") for line in lines)


def test_recheck_and_explanations_render_as_json() -> None:
    facts = with_ranks([fact(version=1), fact(version=2)])
    plan, _ = plan_command(facts, POLICY, NOW)
    assert json.loads(json.dumps(to_jsonable(recheck(plan, facts, POLICY, NOW))))["dropped"] == []
    explained = Scorer().explain(facts[0], NOW).to_dict()
    assert [c["name"] for c in json.loads(json.dumps(explained))["components"]] == [
        "recency",
        "frequency",
        "quality",
        "size",
    ]
