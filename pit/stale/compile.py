"""Compile a rule tree into functions over columns: one list of booleans per rule node.

A compiled node evaluates a whole batch at once with list comprehensions over the columns of
`pit.stale.columns.Columns`, so no pydantic object is touched per version. The masks of every
node are kept, so the reason a version matched is read back from them afterwards.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pit.common.errors import InvalidInputError
from pit.common.validation import format_duration
from pit.stale.columns import Columns
from pit.stale.facts import MetaValue, window_key
from pit.stale.rules import (
    AllOf,
    AnyOf,
    IdleFor,
    KeepLast,
    KeepTagged,
    Match,
    MaxAge,
    MaxTotalSize,
    MinAccessCount,
    MinValue,
    Not,
    Quota,
    Rule,
    Selector,
    describe,
    rule_tag,
)

Mask = list[bool]
LeafFn = Callable[[Columns, "Mask | None"], Mask]


@dataclass(frozen=True)
class Node:
    """One compiled rule: its path in the file, its label and how to evaluate it."""

    path: str
    label: str
    kind: str
    """`leaf`, `all`, `any` or `not`."""
    leaf: LeafFn | None = None
    children: tuple[Node, ...] = ()
    reason: tuple[str, ...] = field(default=())
    """The reason a leaf (or a `not`) gives when it holds; built once, shared by all versions."""


def compile_rule(rule: Rule, path: str) -> Node:
    """The compiled form of `rule`, whose place in the policy file is `path`."""
    if isinstance(rule, AllOf | AnyOf):
        kind = "all" if isinstance(rule, AllOf) else "any"
        members = rule.all if isinstance(rule, AllOf) else rule.any
        children = tuple(
            compile_rule(child, f"{path}.{kind}[{position}]")
            for position, child in enumerate(members)
        )
        return Node(path, describe(rule), kind, children=children)
    if isinstance(rule, Not):
        child = compile_rule(rule.not_, f"{path}.not")
        return Node(path, describe(rule), "not", children=(child,), reason=(_line(path, rule),))
    return Node(path, describe(rule), "leaf", leaf=_leaf(rule), reason=(_line(path, rule),))


def _line(path: str, rule: Rule) -> str:
    return f"{path}: {describe(rule)}"


class SectionMasks:
    """The masks of every node of one evaluated section, and the reasons read from them."""

    def __init__(self, root: Node, columns: Columns, protected: Mask | None) -> None:
        self.root = root
        self._masks: dict[int, Mask] = {}
        self.mask = self._evaluate(root, columns, protected)

    def _evaluate(self, node: Node, columns: Columns, protected: Mask | None) -> Mask:
        if node.leaf is not None:
            mask = node.leaf(columns, protected)
        else:
            masks = [self._evaluate(child, columns, protected) for child in node.children]
            mask = masks[0]
            if node.kind == "not":
                mask = [not value for value in mask]
            elif node.kind == "all":
                for other in masks[1:]:
                    mask = [a and b for a, b in zip(mask, other, strict=True)]
            else:
                for other in masks[1:]:
                    mask = [a or b for a, b in zip(mask, other, strict=True)]
        self._masks[id(node)] = mask
        return mask

    def reasons(self, index: int) -> tuple[str, ...]:
        """Why the section holds for version `index` (empty when it does not hold)."""
        return self._reasons(self.root, index) if self.mask[index] else ()

    def _reasons(self, node: Node, index: int) -> tuple[str, ...]:
        if node.kind == "all":
            return tuple(line for child in node.children for line in self._reasons(child, index))
        if node.kind == "any":
            for child in node.children:
                if self._masks[id(child)][index]:
                    return self._reasons(child, index)
        return node.reason


def _leaf(rule: Rule) -> LeafFn:
    if isinstance(rule, MaxAge):
        return _max_age(rule.max_age.total_seconds())
    if isinstance(rule, IdleFor):
        return _idle_for(rule.idle_for.total_seconds())
    if isinstance(rule, MinAccessCount):
        spec = rule.min_access_count
        return _min_access_count(spec.count, window_key(spec.window), format_duration(spec.window))
    if isinstance(rule, KeepLast):
        return _keep_last(rule.keep_last)
    if isinstance(rule, KeepTagged):
        return _keep_tagged(frozenset(rule.keep_tagged))
    if isinstance(rule, MaxTotalSize):
        return _max_total_size(rule.max_total_size)
    if isinstance(rule, MinValue):
        return _min_value(rule.min_value)
    if isinstance(rule, Match):
        return _match(rule.match)
    raise AssertionError(f"not a leaf rule: {rule_tag(rule)}")  # pragma: no cover


def _max_age(limit: float) -> LeafFn:
    return lambda columns, _: [age > limit for age in columns.age_seconds]


def _idle_for(limit: float) -> LeafFn:
    return lambda columns, _: [idle >= limit for idle in columns.idle_seconds]


def _min_access_count(count: int, key: int, shown: str) -> LeafFn:
    def evaluate(columns: Columns, _: Mask | None) -> Mask:
        reads = columns.reads_in(key)
        if None in reads:
            fact = columns.facts[reads.index(None)]
            raise InvalidInputError.for_field(
                f"{fact.name}@{fact.version}.access_counts",
                sorted(fact.access_counts),
                f"lacks the {key} s ({shown}) window the policy reads; "
                "gather facts with required_windows(policy)",
            )
        return [seen >= count for seen in reads]  # type: ignore[operator]

    return evaluate


def _keep_last(count: int) -> LeafFn:
    return lambda columns, _: [rank <= count for rank in columns.ranks]


def _keep_tagged(wanted: frozenset[str]) -> LeafFn:
    return lambda columns, _: [not wanted.isdisjoint(tags) for tags in columns.tags]


def _min_value(threshold: float) -> LeafFn:
    return lambda columns, _: [score >= threshold for score in columns.scores]


def _max_total_size(quota: Quota) -> LeafFn:
    def evaluate(columns: Columns, protected: Mask | None) -> Mask:
        order = columns.value_order
        if protected is not None:  # what keep protects fills the quota first
            order = sorted(order, key=lambda i: not protected[i])
        sizes, names = columns.sizes, columns.names
        beyond = [False] * columns.size
        used: dict[str, int] = {}
        total = 0
        for i in order:
            if quota.scope == "artifact":
                total = used.get(names[i], 0) + sizes[i]
                used[names[i]] = total
            else:
                total += sizes[i]
            beyond[i] = total > quota.size
        return beyond

    return evaluate


def _match(selector: Selector) -> LeafFn:
    name_ok = _glob(selector.name)
    media_ok = _glob(selector.media_type)
    wanted = tuple((selector.metadata or {}).items())

    def evaluate(columns: Columns, _: Mask | None) -> Mask:
        return [
            name_ok(fact.name)
            and media_ok(fact.media_type)
            and all(_same(fact.metadata.get(key), value) for key, value in wanted)
            for fact in columns.facts
        ]

    return evaluate


def _glob(pattern: str | None) -> Callable[[str], bool]:
    if pattern is None:
        return lambda _: True
    regex = re.compile(fnmatch.translate(pattern))
    cache: dict[str, bool] = {}

    def matches(text: str) -> bool:
        found = cache.get(text)
        if found is None:
            found = cache[text] = regex.match(text) is not None
        return found

    return matches


def _same(have: MetaValue | None, want: MetaValue) -> bool:
    """Equality that does not confuse True with 1 (YAML and JSON keep them apart)."""
    if have is None or isinstance(have, bool) != isinstance(want, bool):
        return False
    return have == want
