"""Saved cleanup plans and apply journals, in the store's shared records (so a plan made or
applied on one machine is applied or restored from any other):

stale/plans/<plan_id>.json     the plan and the policy text it was made with
stale/applied/<plan_id>.json   what apply did (soft deletes, blob moves), for restore

Plans and journals saved by earlier versions under `<state-dir>/stale/` are still read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from pit.artifacts.records import RecordStore
from pit.artifacts.store import ArtifactStore
from pit.common.config import Settings
from pit.common.errors import IntegrityError, InvalidInputError, NotFoundError
from pit.stale.journal import Journal
from pit.stale.manager import StaleManager
from pit.stale.plan import Plan, plan_from_json, policy_digest
from pit.stale.policy import Policy, parse_policy

_PLAN_ID = re.compile(r"plan-[0-9a-f]{24}")
PLANS_SUBDIR = "stale"
"""Where earlier versions kept plans and journals under the state dir (read, never written)."""


class PlanStore:
    """`PlanBook` over a `RecordStore`, with a read-only fallback to a legacy directory."""

    def __init__(self, records: RecordStore, legacy: Path | None = None) -> None:
        self.records = records
        self.legacy = legacy

    def _key(self, kind: str, plan_id: str) -> str:
        if _PLAN_ID.fullmatch(plan_id) is None:
            rule = "a plan id as `pit stale plan` prints it (plan- and 24 hex digits)"
            raise InvalidInputError.for_field("PLAN_ID", plan_id, rule)
        return f"stale/{kind}/{plan_id}.json"

    async def _read(self, kind: str, plan_id: str) -> bytes | None:
        data = await self.records.read_record(self._key(kind, plan_id))
        if data is None and self.legacy is not None:
            try:
                return (self.legacy / kind / f"{plan_id}.json").read_bytes()
            except FileNotFoundError:
                return None
        return data

    async def save(self, plan: Plan, policy_text: str) -> str:
        key = self._key("plans", plan.plan_id)
        document = {"plan": json.loads(plan.to_json()), "policy": policy_text}
        await self.records.replace_record(key, json.dumps(document, indent=1).encode())
        return key

    async def load(self, plan_id: str) -> tuple[Plan, Policy]:
        data = await self._read("plans", plan_id)
        if data is None:
            raise NotFoundError(
                f"plan {plan_id} is not saved in {self.records.url} (make it with `pit stale plan`)"
            )
        try:
            document: dict[str, Any] = json.loads(data)
            plan = plan_from_json(json.dumps(document["plan"]))
            policy = parse_policy(yaml.safe_load(document["policy"]))
        except (ValueError, KeyError, TypeError, yaml.YAMLError) as error:
            raise IntegrityError(f"saved plan {plan_id} is corrupt: {error}") from None
        if policy_digest(policy) != plan.policy_digest:
            raise InvalidInputError.for_field(
                "PLAN_ID", plan_id, "the saved policy does not match the plan; plan again"
            )
        return plan, policy

    async def save_journal(self, journal: Journal) -> None:
        key = self._key("applied", journal.plan_id)
        await self.records.replace_record(key, journal.model_dump_json().encode())

    async def journal(self, plan_id: str) -> Journal | None:
        data = await self._read("applied", plan_id)
        if data is None:
            return None
        try:
            return Journal.model_validate_json(data)
        except ValueError as error:
            raise IntegrityError(f"journal of plan {plan_id} is corrupt: {error}") from None


def open_stale_manager(store: ArtifactStore, settings: Settings) -> StaleManager:
    """The Stale Manager of `store`, with plans and journals in the store's records."""
    return StaleManager(
        store,
        PlanStore(store.records, settings.state_dir / PLANS_SUBDIR),
        grace_period=settings.stale.grace_period,
    )
