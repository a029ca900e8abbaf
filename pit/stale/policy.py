"""The policy file: `keep`, `delete` and `demote` sections of rules, parsed and checked.

A policy that does not parse is refused with one line per problem, each naming the path to the
bad field: `delete.all[1].not.min_access_count.window: 'soon': a duration such as ...`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict

from pit.common.errors import InvalidInputError
from pit.stale.facts import Tier
from pit.stale.rules import RULE_TYPES, UNKNOWN_RULE, MinAccessCount, Rule, walk
from pit.stale.score import ScoreConfig


class Demote(BaseModel):
    """When a version belongs in a colder tier; `cold` is checked first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warm: Rule | None = None
    cold: Rule | None = None


class Policy(BaseModel):
    """A retention policy. Keep wins: a version `keep` covers is never deleted, and is never
    placed colder than `keep_coldest_tier`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    keep: Rule | None = None
    delete: Rule | None = None
    demote: Demote | None = None
    """None: tiers are left as they are. Given: it decides each version's tier, so a version
    sitting colder than its rules place it is promoted."""
    keep_coldest_tier: Tier = Tier.COLD
    """The coldest tier a kept version may be demoted to (`hot`: kept versions never move)."""
    score: ScoreConfig = ScoreConfig()


class PolicyInvalidError(InvalidInputError):
    """A policy broke one or more rules; `problems` has one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if len(problems) == 1 else f"{len(problems)} problems")
        self.problems = problems
        self.details["problems"] = problems


DEFAULT_POLICY_YAML = """\
description: keep releases and the newest version; delete what is old and unread; cool the idle
keep:   {any: [{keep_tagged: [release, pinned]}, {keep_last: 1}]}
delete: {all: [{max_age: 30d}, {not: {min_access_count: {count: 3, window: 30d}}}]}
demote: {warm: {idle_for: 7d}, cold: {idle_for: 30d}}
"""


def parse_policy(data: Any) -> Policy:
    """Validate raw policy data (from YAML or JSON) or raise `PolicyInvalidError`."""
    if not isinstance(data, dict):
        shown = _shown(data)
        raise PolicyInvalidError([f"policy: {shown}: a policy is a mapping (keep, delete, demote)"])
    try:
        return Policy.model_validate(data)
    except pydantic.ValidationError as error:
        raise PolicyInvalidError(pydantic_problems(error.errors())) from None


def required_windows(policy: Policy) -> set[timedelta]:
    """The access-count windows the policy reads: what `VersionFacts.access_counts` needs."""
    sections = [policy.keep, policy.delete]
    if policy.demote is not None:
        sections += [policy.demote.warm, policy.demote.cold]
    return {
        rule.min_access_count.window
        for section in sections
        if section is not None
        for rule in walk(section)
        if isinstance(rule, MinAccessCount)
    }


def pydantic_problems(errors: list[Any]) -> list[str]:
    """One line per problem, naming the path to the bad field, the value and the rule."""
    lines: list[str] = []
    locations = [tuple(error["loc"]) for error in errors]
    for error in errors:
        here = tuple(error["loc"])
        if any(len(other) > len(here) and other[: len(here)] == here for other in locations):
            continue  # a container's complaint that only repeats its items' problems
        line = _problem(error)
        if line not in lines:
            lines.append(line)
    return lines


def _problem(error: Any) -> str:
    parts = [part for part in error["loc"] if not str(part).startswith("function-")]
    location = _path(parts)
    value = error.get("input")
    if error["type"] == UNKNOWN_RULE:
        return _unknown_rule(location, value)
    rule = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
    rule = rule.removeprefix("Value error, ")
    return f"{location or 'policy'}: {_shown(value)}: {rule}"


def _path(parts: list[Any]) -> str:
    """`delete.all[1].not.window` from pydantic's location, where a tagged union repeats the
    rule's key (the tag, then the field of the same name)."""
    location = ""
    previous: Any = None
    for part in parts:
        if isinstance(part, int):
            location += f"[{part}]"
        elif part == previous and part in RULE_TYPES:
            previous = None  # collapse one pair only: `not.not` is a real path
            continue
        else:
            location += f".{part}" if location else str(part)
        previous = part
    return location


_KNOWN = ", ".join(RULE_TYPES)


def _unknown_rule(location: str, value: Any) -> str:
    where = location or "policy"
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return f"{where}.{key}: {_shown(value[key])}: unknown rule (known: {_KNOWN})"
    if isinstance(value, dict):
        keys = ", ".join(str(key) for key in value) or "none"
        return f"{where}: {{...}}: a rule has exactly one key, got {keys}; combine with all/any"
    return f"{where}: {_shown(value)}: a rule is a mapping with one key (known: {_KNOWN})"


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list | tuple):
        return "[...]"
    return repr(value)
