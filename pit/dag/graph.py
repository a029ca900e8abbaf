"""Graph checks before anything runs: ids, dependencies, references, cycles, activities."""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import pydantic

from pit.arbitration.model import Request
from pit.common.errors import InvalidInputError
from pit.common.files import problem_lines, shown
from pit.dag.expressions import Condition
from pit.dag.features import check_features
from pit.dag.limits import MAX_CHILD_DEPTH, MAX_NODES, count_problem, depth_problem, shape_problems
from pit.dag.refs import find_references
from pit.dag.spec import DagSpec, NodeSpec

_UNION_MEMBERS = ("literal['fail','skip']", "FallbackChoice")


class DagInvalidError(InvalidInputError):
    """A DAG file broke one or more rules; `problems` has one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if len(problems) == 1 else f"{len(problems)} problems")
        self.problems = problems
        self.details["problems"] = problems


@dataclass(frozen=True)
class Topology:
    """Node ids in a deterministic topological order, with both edge directions."""

    order: tuple[str, ...]
    parents: Mapping[str, tuple[str, ...]]
    children: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, order: tuple[str, ...], parents: Mapping[str, tuple[str, ...]]) -> Topology:
        """The topology of nodes in `order` with these `parents` (children follow `order`)."""
        children: dict[str, list[str]] = {node_id: [] for node_id in parents}
        for node_id in order:
            for parent in parents[node_id]:
                children[parent].append(node_id)
        return cls(order, parents, {node_id: tuple(kids) for node_id, kids in children.items()})

    @property
    def size(self) -> int:
        return len(self.order)

    def sinks(self) -> list[str]:
        """The nodes nothing depends on, in topological order."""
        return [node_id for node_id in self.order if not self.children[node_id]]


@dataclass(frozen=True)
class Graph(Topology):
    """A checked DAG file: its spec, its topology, and its child graphs checked too."""

    spec: DagSpec
    subgraphs: Mapping[str, Graph]
    """The checked graph of each `dag:` node, by node id."""
    conditions: Mapping[str, Condition] = dataclass_field(default_factory=dict)
    """The checked `when:` of each node that has one, by node id."""


def parse_dag(data: Any, known_activities: Collection[str] | None = None) -> Graph:
    """Validate raw DAG data (from YAML or JSON) into a `Graph`, or raise `DagInvalidError`
    listing every problem found."""
    too_big = shape_problems(data)
    if too_big:
        raise DagInvalidError(too_big)
    try:
        spec = DagSpec.model_validate(data)
    except pydantic.ValidationError as error:
        errors = [e for e in error.errors() if not _meant_a_fallback(e)]
        problems = problem_lines(errors, "dag", _on_failure_union)
        raise DagInvalidError(problems) from None
    return check_graph(spec, known_activities)


def check_graph(spec: DagSpec, known_activities: Collection[str] | None = None) -> Graph:
    """Check a validated spec's graph, its child graphs and its limits."""
    total, depth, where = _extent(spec)
    problems = [count_problem(total)] if total > MAX_NODES else []
    if depth > MAX_CHILD_DEPTH:
        problems.append(depth_problem(depth, where))
    if problems:
        raise DagInvalidError(problems)
    return _check(spec, known_activities)


def _extent(spec: DagSpec) -> tuple[int, int, str]:
    """(nodes in all levels, deepest child level, the path to its first node)."""
    total, deepest, where = len(spec.nodes), 0, ""
    for position, node in enumerate(spec.nodes):
        if node.dag is not None:
            count, depth, inner = _extent(node.dag)
            total += count
            if depth + 1 > deepest:
                deepest, where = (
                    depth + 1,
                    f"nodes[{position}].dag" + (f".{inner}" if inner else ""),
                )
    return total, deepest, where


def _check(spec: DagSpec, known_activities: Collection[str] | None) -> Graph:
    problems: list[str] = []
    subgraphs: dict[str, Graph] = {}
    index: dict[str, int] = {}
    for position, node in enumerate(spec.nodes):
        if node.id in index:
            problems.append(
                f"nodes[{position}].id: {node.id!r}: duplicate of nodes[{index[node.id]}].id"
            )
        else:
            index[node.id] = position

    parents: dict[str, list[str]] = {node.id: [] for node in spec.nodes}
    conditions: dict[str, Condition] = {}
    for position, node in enumerate(spec.nodes):
        wanted = list(node.depends_on)
        features = check_features(node, position, index)
        problems += features.problems
        wanted += features.needs  # like a reference in inputs, a dependency by itself
        if features.condition is not None:
            conditions[node.id] = features.condition
        for field, reference in _node_references(node.inputs, position, problems):
            if reference.node is not None:
                if reference.node not in index:
                    problems.append(f"{field}: '${{{reference.text}}}': no node {reference.node!r}")
                elif reference.node not in wanted:
                    wanted.append(reference.node)  # a reference is a dependency by itself
        for dep in node.depends_on:
            if dep not in index:
                problems.append(f"nodes[{position}].depends_on: {dep!r}: no such node")
            elif dep == node.id:
                problems.append(f"nodes[{position}].depends_on: {dep!r}: a node cannot need itself")
        problems += _unknown_activities(node, position, known_activities)
        problems += _resource_problems(spec, node, position)
        if node.dag is not None:
            try:
                subgraphs[node.id] = _check(node.dag, known_activities)
            except DagInvalidError as error:
                problems += [f"nodes[{position}].dag.{problem}" for problem in error.problems]
        parents[node.id] = [d for d in dict.fromkeys(wanted) if d in index and d != node.id]

    order = _topological_order(spec, parents, index)
    if order is None:
        cycle = find_cycle(parents)
        path = " -> ".join([*cycle, cycle[0]])
        problems.append(f"nodes: cycle {path}: a DAG must not have cycles")
    if problems or order is None:
        raise DagInvalidError(problems)
    topology = Topology.of(tuple(order), {k: tuple(v) for k, v in parents.items()})
    return Graph(
        spec=spec,
        order=topology.order,
        parents=topology.parents,
        children=topology.children,
        subgraphs=subgraphs,
        conditions=conditions,
    )


_REQUEST_FIELDS = {"tenant": "tenant", "demands": "resources", "priority": "priority"}


def _resource_problems(spec: DagSpec, node: NodeSpec, position: int) -> list[str]:
    if not node.resources:
        return []
    if spec.arbiter is None:
        return [f"nodes[{position}].resources: {{...}}: needs an `arbiter:` section in the DAG"]
    try:
        # the request the run will make, checked by the arbiter's own rules now, not mid-run
        Request(
            id="pre-validation",
            tenant=node.tenant or spec.name,
            priority=node.priority,
            demands=node.resources,
        )
    except pydantic.ValidationError as error:
        return [
            f"nodes[{position}].{_REQUEST_FIELDS.get(str(e['loc'][0]), e['loc'][0])}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()
        ]
    config = spec.arbiter.config
    if config is None:
        return []
    return [
        f"nodes[{position}].resources.{name}: {amount}: the arbiter has no resource {name!r} "
        f"(it has: {', '.join(sorted(config.resources))})"
        for name, amount in node.resources.items()
        if name not in config.resources
    ]


def _unknown_activities(node: NodeSpec, position: int, known: Collection[str] | None) -> list[str]:
    if known is None:
        return []
    fallback = node.fallback
    names = [("activity", node.activity)] if node.activity is not None else []
    if fallback is not None:
        names.append(("on_failure.fallback.activity", fallback.activity))
    return [
        f"nodes[{position}].{field}: {name!r}: no worker here serves it "
        f"(known: {', '.join(sorted(known))})"
        for field, name in names
        if name not in known
    ]


def _node_references(
    inputs: Mapping[str, Any] | str, position: int, problems: list[str]
) -> list[tuple[str, Any]]:
    try:
        return list(find_references(inputs, f"nodes[{position}].inputs"))
    except InvalidInputError as error:
        problems.append(error.message)
        return []


def _topological_order(
    spec: DagSpec, parents: Mapping[str, list[str]], index: Mapping[str, int]
) -> list[str] | None:
    """Kahn's algorithm; among ready nodes, file order first (deterministic)."""
    waiting = {node_id: len(deps) for node_id, deps in parents.items()}
    children: dict[str, list[str]] = {node_id: [] for node_id in parents}
    for node_id, deps in parents.items():
        for dep in deps:
            children[dep].append(node_id)
    ready = [index[n] for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node_id = spec.nodes[heapq.heappop(ready)].id
        order.append(node_id)
        for child in children[node_id]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, index[child])
    return order if len(order) == len(parents) else None


def find_cycle(parents: Mapping[str, list[str]]) -> list[str]:
    """One cycle, in dependency order (each node depends on the one before it), starting at
    its node that comes first in `parents` (file order), so the message is stable."""
    colour: dict[str, int] = {}
    for start in parents:
        if colour.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, next_child = stack.pop()
            if next_child == 0:
                colour[node] = 1
                path.append(node)
            deps = parents[node]
            if next_child < len(deps):
                stack.append((node, next_child + 1))
                dep = deps[next_child]
                if colour.get(dep) == 1:
                    cycle = list(reversed(path[path.index(dep) :]))
                    rank = {node_id: i for i, node_id in enumerate(parents)}
                    first = min(range(len(cycle)), key=lambda i: rank[cycle[i]])
                    return cycle[first:] + cycle[:first]
                if not colour.get(dep):
                    stack.append((dep, 0))
            else:
                colour[node] = 2
                path.pop()
    return []


_ON_FAILURE_RULE = "must be fail, skip, or {fallback: {activity: NAME, inputs: {...}}}"


def _on_failure_union(location: str, error: Any) -> str | None:
    """pydantic reports `on_failure` once per union member; say it once, with the forms, or
    name the problem inside a fallback when the value is one."""
    for member in _UNION_MEMBERS:
        marker = f".on_failure.{member}"
        if marker in location:
            where, _, inner = location.partition(marker)
            value = shown(error.get("input"))
            if inner:
                rule = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
                return f"{where}.on_failure{inner}: {value}: {rule.removeprefix('Value error, ')}"
            return f"{where}.on_failure: {value}: {_ON_FAILURE_RULE}"
    return None


def _meant_a_fallback(error: Any) -> bool:
    """The `fail`/`skip` branch's complaint about a mapping: the fallback branch says more."""
    loc = [str(part) for part in error["loc"]]
    return _UNION_MEMBERS[0] in loc and isinstance(error.get("input"), dict)
