"""Saved cleanup plans and apply journals, under `<state-dir>/stale/`.

plans/<plan_id>.json     the plan and the policy text it was made with
applied/<plan_id>.json   what apply did (soft deletes, blob moves), for restore
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from pit.artifacts.store import ArtifactStore
from pit.common.config import Settings
from pit.common.errors import InvalidInputError, NotFoundError
from pit.common.fs import atomic_write
from pit.stale.journal import Journal
from pit.stale.manager import StaleManager
from pit.stale.plan import Plan, plan_from_json, policy_digest
from pit.stale.policy import Policy, parse_policy

_PLAN_ID = re.compile(r"plan-[0-9a-f]{24}")


PLANS_SUBDIR = "stale"
"""Where plans and journals live under the state dir."""


class PlanStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, kind: str, plan_id: str) -> Path:
        if _PLAN_ID.fullmatch(plan_id) is None:
            rule = "a plan id as `pit stale plan` prints it (plan- and 24 hex digits)"
            raise InvalidInputError.for_field("PLAN_ID", plan_id, rule)
        return self.root / kind / f"{plan_id}.json"

    def save(self, plan: Plan, policy_text: str) -> Path:
        path = self._path("plans", plan.plan_id)
        document = {"plan": json.loads(plan.to_json()), "policy": policy_text}
        atomic_write(path, json.dumps(document, indent=1).encode())
        return path

    def load(self, plan_id: str) -> tuple[Plan, Policy]:
        path = self._path("plans", plan_id)
        try:
            document: dict[str, Any] = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise NotFoundError(
                f"plan {plan_id} is not saved in {self.root} (make it with `pit stale plan`)"
            ) from None
        plan = plan_from_json(json.dumps(document["plan"]))
        policy = parse_policy(yaml.safe_load(document["policy"]))
        if policy_digest(policy) != plan.policy_digest:
            raise InvalidInputError.for_field(
                "PLAN_ID", plan_id, "the saved policy does not match the plan; plan again"
            )
        return plan, policy

    def save_journal(self, journal: Journal) -> None:
        atomic_write(self._path("applied", journal.plan_id), journal.model_dump_json().encode())

    def journal(self, plan_id: str) -> Journal | None:
        path = self._path("applied", plan_id)
        try:
            return Journal.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None


def open_stale_manager(store: ArtifactStore, settings: Settings) -> StaleManager:
    """The Stale Manager of `store`, with plans and journals under the state dir."""
    return StaleManager(
        store,
        PlanStore(settings.state_dir / PLANS_SUBDIR),
        grace_period=settings.stale.grace_period,
    )
