"""Evaluate a policy over a batch of versions: keep, delete, demote or promote, with reasons.

    1. keep    = the `keep` section                      (quotas rank by value alone)
    2. delete  = the `delete` section and not keep        (quotas count kept versions first)
    3. tier    = cold if `demote.cold`, else warm if `demote.warm`, else hot; a kept version
                 no colder than `keep_coldest_tier`; no `demote` section: the current tier
    4. action  = delete, or demote / promote when the tier differs from the current one, or keep

The result is columnar (`Evaluation`): a million versions cost a few lists, and the reasons of
a version are read back from the rule masks only when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pit.stale.columns import Columns
from pit.stale.compile import Mask, Node, SectionMasks, compile_rule
from pit.stale.facts import TIERS_BY_DEPTH, Tier, VersionFacts
from pit.stale.policy import Policy
from pit.stale.rules import Rule
from pit.stale.score import Scorer


class Action(StrEnum):
    KEEP = "keep"
    DELETE = "delete"
    DEMOTE = "demote"
    PROMOTE = "promote"


@dataclass(frozen=True)
class Decision:
    """What the policy decided for one version, and why."""

    facts: VersionFacts
    action: Action
    target: Tier | None
    """The tier the version belongs in; None when it is deleted."""
    protected: bool
    """A keep rule covers it."""
    reasons: tuple[str, ...]


class CompiledPolicy:
    """A policy compiled once, evaluated over any number of batches."""

    def __init__(self, policy: Policy, scorer: Scorer | None = None) -> None:
        self.policy = policy
        self.scorer = scorer if scorer is not None else Scorer(policy.score)
        self._keep = _compiled(policy.keep, "keep")
        self._delete = _compiled(policy.delete, "delete")
        demote = policy.demote
        self._warm = _compiled(demote.warm if demote else None, "demote.warm")
        self._cold = _compiled(demote.cold if demote else None, "demote.cold")
        self.places = demote is not None
        self._floor = policy.keep_coldest_tier.depth

    def evaluate(self, facts: Sequence[VersionFacts], now: datetime) -> Evaluation:
        columns = Columns(facts, now, self.scorer)
        keep = _section(self._keep, columns, None)
        protected = keep.mask if keep is not None else [False] * columns.size
        delete = _section(self._delete, columns, protected)
        warm = _section(self._warm, columns, protected)
        cold = _section(self._cold, columns, protected)
        actions, targets = self._decide(facts, protected, delete, warm, cold)
        return Evaluation(self, columns, protected, actions, targets, keep, delete, warm, cold)

    def _decide(
        self,
        facts: Sequence[VersionFacts],
        protected: Mask,
        delete: SectionMasks | None,
        warm: SectionMasks | None,
        cold: SectionMasks | None,
    ) -> tuple[list[Action], list[int]]:
        size = len(facts)
        deleting = delete.mask if delete is not None else [False] * size
        current = [fact.tier.depth for fact in facts]
        if self.places:
            no = [False] * size
            warm_mask = warm.mask if warm is not None else no
            cold_mask = cold.mask if cold is not None else no
            floor = self._floor
            depths = [
                min(depth, floor) if kept else depth
                for depth, kept in zip(
                    [2 if c else 1 if w else 0 for c, w in zip(cold_mask, warm_mask, strict=True)],
                    protected,
                    strict=True,
                )
            ]
        else:
            depths = current
        keep_, delete_, demote_, promote_ = (
            Action.KEEP,
            Action.DELETE,
            Action.DEMOTE,
            Action.PROMOTE,
        )
        actions = [
            delete_
            if gone and not kept
            else demote_
            if depth > now
            else promote_
            if depth < now
            else keep_
            for gone, kept, depth, now in zip(deleting, protected, depths, current, strict=True)
        ]
        targets = [
            -1 if action is delete_ else d for action, d in zip(actions, depths, strict=True)
        ]
        return actions, targets


def _compiled(rule: Rule | None, path: str) -> Node | None:
    return compile_rule(rule, path) if rule is not None else None


def _section(node: Node | None, columns: Columns, protected: Mask | None) -> SectionMasks | None:
    return SectionMasks(node, columns, protected) if node is not None else None


class Evaluation:
    """The decisions of one evaluation, column by column; `decision(i)` for one version."""

    def __init__(
        self,
        compiled: CompiledPolicy,
        columns: Columns,
        protected: Mask,
        actions: list[Action],
        targets: list[int],
        keep: SectionMasks | None,
        delete: SectionMasks | None,
        warm: SectionMasks | None,
        cold: SectionMasks | None,
    ) -> None:
        self.compiled = compiled
        self.columns = columns
        self.facts = columns.facts
        self.now = columns.now
        self.protected = protected
        self.actions = actions
        self.target_depths = targets
        self._keep, self._delete, self._warm, self._cold = keep, delete, warm, cold

    @property
    def delete_held(self) -> Mask:
        """Where the delete section holds, kept or not."""
        return self._delete.mask if self._delete is not None else [False] * len(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    def target(self, index: int) -> Tier | None:
        depth = self.target_depths[index]
        return None if depth < 0 else TIERS_BY_DEPTH[depth]

    def decision(self, index: int) -> Decision:
        return Decision(
            facts=self.facts[index],
            action=self.actions[index],
            target=self.target(index),
            protected=self.protected[index],
            reasons=self.reasons(index),
        )

    def decisions(self) -> list[Decision]:
        return [self.decision(index) for index in range(len(self))]

    def reasons(self, index: int) -> tuple[str, ...]:
        """The rules that decided, each as `path: rule`."""
        action = self.actions[index]
        if action is Action.DELETE:
            return _reasons(self._delete, index)
        placed = self._placement_reasons(index)
        if action is not Action.KEEP:
            return placed
        kept = _reasons(self._keep, index)
        overruled = tuple(f"overrides {line}" for line in _reasons(self._delete, index))
        return (*kept, *overruled, *placed) or ("no rule applies",)

    def _placement_reasons(self, index: int) -> tuple[str, ...]:
        if not self.compiled.places:
            return ()
        depth = self.target_depths[index]
        cold, warm = _reasons(self._cold, index), _reasons(self._warm, index)
        wanted = 2 if cold else 1 if warm else 0
        if wanted > depth:  # a keep rule held it warmer than the demote rules place it
            floor = self.compiled.policy.keep_coldest_tier.value
            return (*(cold or warm), f"keep_coldest_tier: {floor}", *_reasons(self._keep, index))
        if depth == 2:
            return cold
        if depth == 1:
            return warm
        if self.actions[index] is Action.PROMOTE:
            lines = tuple(
                f"{path}: does not hold"
                for path, section in (("demote.cold", self._cold), ("demote.warm", self._warm))
                if section is not None
            )
            return lines or ("demote: no tier rule holds, so hot",)
        return ()


def _reasons(section: SectionMasks | None, index: int) -> tuple[str, ...]:
    return section.reasons(index) if section is not None else ()


def evaluate(
    facts: Sequence[VersionFacts], policy: Policy, now: datetime, scorer: Scorer | None = None
) -> Evaluation:
    """Decide every version under `policy` at time `now` (the same inputs, the same result)."""
    return CompiledPolicy(policy, scorer).evaluate(facts, now)
