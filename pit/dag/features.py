"""Pre-validation of a node's map, condition, cache and approval: one line per problem, naming
the node's position and the field, and the dependencies its `for_each`, `when` and prompt add."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pit.common.errors import InvalidInputError
from pit.dag.expressions import Condition, check_condition
from pit.dag.refs import Reference, find_references, parse_reference
from pit.dag.spec import NodeSpec

_ITEM_RULE = "${item} and ${index} are defined only in a map node (one with for_each)"


@dataclass
class FeatureCheck:
    """What checking one node's features found."""

    problems: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    """Nodes its `for_each`, `when` and approval prompt refer to: dependencies by themselves."""
    condition: Condition | None = None


def check_features(node: NodeSpec, position: int, ids: Mapping[str, int]) -> FeatureCheck:
    """Check `node` (at `nodes[position]`) against the node ids of its graph."""
    check = FeatureCheck()
    where = f"nodes[{position}]"
    if node.for_each is None:
        if node.max_parallel is not None:
            check.problems.append(
                f"{where}.max_parallel: {node.max_parallel}: caps a map node's items in flight; "
                "this node has no for_each"
            )
        for fld, ref in _item_references(node, where):
            check.problems.append(f"{fld}: '${{{ref.text}}}': {_ITEM_RULE}")
    else:
        if node.dag is not None:
            check.problems.append(
                f"{where}.for_each: {_shown(node.for_each)}: a map runs an activity per item; "
                "a child graph per item is not supported"
            )
        if isinstance(node.for_each, str):
            _reference(check, f"{where}.for_each", node.for_each.strip()[2:-1], ids, items=False)
    if node.when is not None:
        _condition(check, node, f"{where}.when", ids)
    if node.approval is not None:
        check.problems += _approval_problems(node, where)
        for fld, ref in _references(node.approval.prompt, f"{where}.approval.prompt", check):
            _reference(check, fld, ref.text, ids, items=False)
    if node.cache is not None:
        check.problems += _cache_problems(node, where)
    return check


def _condition(check: FeatureCheck, node: NodeSpec, fld: str, ids: Mapping[str, int]) -> None:
    assert node.when is not None
    try:
        condition = check_condition(node.when, fld)
    except InvalidInputError as error:
        check.problems.append(error.message)
        return
    for inner in condition.references:
        _reference(check, fld, inner, ids, items=node.for_each is not None)
    check.condition = condition


def _reference(
    check: FeatureCheck, fld: str, inner: str, ids: Mapping[str, int], *, items: bool
) -> None:
    """Check one reference; note the node it needs."""
    try:
        reference = parse_reference(inner, fld)
    except InvalidInputError as error:
        check.problems.append(error.message)
        return
    if reference.per_item and not items:
        rule = (
            "a map's list cannot come from its own items"
            if fld.endswith(".for_each")
            else _ITEM_RULE
        )
        check.problems.append(f"{fld}: '${{{reference.text}}}': {rule}")
    elif reference.node is not None:
        if reference.node not in ids:
            check.problems.append(f"{fld}: '${{{reference.text}}}': no node {reference.node!r}")
        elif ids[reference.node] == position_of(fld):
            check.problems.append(f"{fld}: '${{{reference.text}}}': a node cannot need itself")
        elif reference.node not in check.needs:
            check.needs.append(reference.node)


def _item_references(node: NodeSpec, where: str) -> Iterator[tuple[str, Reference]]:
    """`${item}`/`${index}` in the inputs and fallback inputs of a node (one without for_each:
    each is a problem; `when` and the prompt are checked with their own references)."""
    sources: list[tuple[str, Any]] = [(f"{where}.inputs", node.inputs)]
    fallback = node.fallback
    if fallback is not None and fallback.inputs is not None:
        sources.append((f"{where}.on_failure.fallback.inputs", fallback.inputs))
    for fld, value in sources:
        try:
            yield from ((f, r) for f, r in find_references(value, fld) if r.per_item)
        except InvalidInputError:
            continue  # a malformed reference: the graph check reports it


def _references(text: str, fld: str, check: FeatureCheck) -> list[tuple[str, Reference]]:
    try:
        return list(find_references(text, fld))
    except InvalidInputError as error:
        check.problems.append(error.message)
        return []


def _approval_problems(node: NodeSpec, where: str) -> list[str]:
    """An approval node is answered by a person: it runs nothing and caches nothing."""
    rule = "an approval node runs nothing (a person answers it: pit dag approve)"
    problems = []
    if node.activity is not None:
        problems.append(f"{where}.activity: {node.activity!r}: {rule}")
    if node.dag is not None:
        problems.append(f"{where}.dag: {{...}}: {rule}")
    if node.model is not None:
        problems.append(f"{where}.model: {node.model!r}: {rule}")
    if node.for_each is not None:
        problems.append(f"{where}.for_each: {_shown(node.for_each)}: {rule}, once")
    if node.cache is not None:
        problems.append(f"{where}.cache: {{...}}: an approval is never cached")
    if node.resources:
        problems.append(f"{where}.resources: {{...}}: {rule}")
    return problems


def _cache_problems(node: NodeSpec, where: str) -> list[str]:
    assert node.cache is not None
    if node.activity is None:
        if node.dag is not None:
            return [
                f"{where}.cache: {{...}}: goes on an activity node (give the child graph's "
                "nodes their own cache)"
            ]
        return []  # an approval: reported with the approval
    keys = node.cache.key
    if keys is None:
        return []
    if isinstance(node.inputs, str):
        return [
            f"{where}.cache.key: {list(keys)!r}: this node's inputs are one reference, so "
            "they count whole: leave key out"
        ]
    known = ", ".join(sorted(node.inputs)) or "none"
    return [
        f"{where}.cache.key[{i}]: {name!r}: not an input of this node (inputs: {known})"
        for i, name in enumerate(keys)
        if name not in node.inputs
    ]


def position_of(fld: str) -> int:
    """The node position a field path starts with (`nodes[3].when` -> 3)."""
    return int(fld[len("nodes[") : fld.index("]")])


def _shown(value: Any) -> str:
    return "[...]" if isinstance(value, list) else repr(value)
