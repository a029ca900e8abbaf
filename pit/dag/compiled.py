"""A checked DAG as a run carries it: validated and checked once, by the client, then loaded by
the workflow in milliseconds, however big, on every start, replay and continue-as-new.

The topology travels as index arrays, and each node's own fields as the JSON text they were
checked as, turned back into a `NodeSpec` only when the node runs. Child graphs travel compiled
the same way, so a child run starts without checking anything again.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from functools import cached_property

from pydantic import BaseModel, ConfigDict, model_validator

from pit.dag.expressions import Condition
from pit.dag.graph import Graph, Topology
from pit.dag.options import Trigger
from pit.dag.spec import DagSettings, DagSpec, NodeSpec


class NodeKind(StrEnum):
    """Nodes a run drives differently from an activity or a child graph (they hold no slot
    of `max_parallel` themselves)."""

    MAP = "map"
    """Runs its items (each holds a slot)."""
    APPROVAL = "approval"
    """Waits for a person."""


_CARRIED_ELSEWHERE = {"id", "depends_on", "dag"}
"""Node fields the compiled form holds in its own arrays, not in each node's text."""


class CompiledDag(BaseModel):
    """A checked DAG in the compact form a run's workflow input carries (see the module)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    settings: DagSettings
    ids: tuple[str, ...]
    """Node ids in file order; every other array is indexed the same way."""
    order: tuple[int, ...]
    """A deterministic topological order (file order among ready nodes)."""
    parents: tuple[tuple[int, ...], ...]
    """Each node's parents, in the order its fingerprint lists them."""
    steps: tuple[str, ...]
    """What each node runs, as its fingerprint hashes it (a child graph: name and digest)."""
    nodes: tuple[str, ...]
    """Each node's own fields as JSON, without its id, dependencies or child graph."""
    children: dict[int, CompiledDag] = {}
    """The compiled child graph of each `dag:` node, by node index."""
    conditions: dict[int, Condition] = {}
    """The checked `when:` of each node that has one, by node index."""
    triggers: dict[int, Trigger] = {}
    """Each node's trigger rule where it is not the default (`all_succeeded`)."""
    kinds: dict[int, NodeKind] = {}
    """Map and approval nodes, by node index (every other node runs one step)."""

    @model_validator(mode="after")
    def _arrays_line_up(self) -> CompiledDag:
        size = len(self.ids)
        if not (len(self.order) == len(self.parents) == len(self.steps) == len(self.nodes) == size):
            raise ValueError("ids, order, parents, steps and nodes must have one entry per node")
        return self

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def size(self) -> int:
        return len(self.ids)

    @cached_property
    def total_nodes(self) -> int:
        """Nodes here and in every child graph."""
        return self.size + sum(child.total_nodes for child in self.children.values())

    @cached_property
    def topology(self) -> Topology:
        ids = self.ids
        parents = {ids[i]: tuple(ids[p] for p in row) for i, row in enumerate(self.parents)}
        return Topology.of(tuple(ids[i] for i in self.order), parents)

    @cached_property
    def trigger_of(self) -> dict[str, Trigger]:
        """Node ids with a trigger other than the default, for the scheduler."""
        return {self.ids[i]: trigger for i, trigger in self.triggers.items()}

    def condition(self, node_id: str) -> Condition | None:
        """The node's checked `when:`, if it has one (evaluate it, do not check it again)."""
        return self.conditions.get(self._index[node_id])

    def kind(self, node_id: str) -> NodeKind | None:
        return self.kinds.get(self._index[node_id])

    @cached_property
    def step_of(self) -> dict[str, str]:
        return dict(zip(self.ids, self.steps, strict=True))

    @cached_property
    def _index(self) -> dict[str, int]:
        return {node_id: i for i, node_id in enumerate(self.ids)}

    @cached_property
    def header(self) -> DagSpec:
        """This graph's settings as a `DagSpec` without nodes (they load one at a time, with
        `node`): for code that reads a spec's settings, such as the arbiter's grants."""
        return DagSpec.model_construct(**dict(self.settings), nodes=())

    def node(self, node_id: str) -> NodeSpec:
        """The node's spec, validated from its text; a child graph node's `dag` is the child's
        `header` (run the child from `child`)."""
        index = self._index[node_id]
        fields = json.loads(self.nodes[index])
        child = self.children.get(index)
        if child is not None:
            fields["dag"] = child.header
        return NodeSpec.model_validate({**fields, "id": node_id})

    def child(self, node_id: str) -> CompiledDag | None:
        return self.children.get(self._index[node_id])


def compile_graph(graph: Graph) -> CompiledDag:
    """The compact form of a checked graph (and of its child graphs)."""
    spec = graph.spec
    index = {node.id: i for i, node in enumerate(spec.nodes)}
    return CompiledDag(
        settings=DagSettings.model_validate(spec.model_dump(exclude={"nodes"})),
        ids=tuple(node.id for node in spec.nodes),
        order=tuple(index[node_id] for node_id in graph.order),
        parents=tuple(tuple(index[p] for p in graph.parents[node.id]) for node in spec.nodes),
        steps=tuple(step_identity(node) for node in spec.nodes),
        nodes=tuple(
            node.model_dump_json(exclude=_CARRIED_ELSEWHERE, exclude_defaults=True)
            for node in spec.nodes
        ),
        children={
            index[node_id]: compile_graph(child) for node_id, child in graph.subgraphs.items()
        },
        conditions={index[node_id]: cond for node_id, cond in graph.conditions.items()},
        triggers={
            i: node.trigger
            for i, node in enumerate(spec.nodes)
            if node.trigger is not Trigger.ALL_SUCCEEDED
        },
        kinds={i: kind for i, node in enumerate(spec.nodes) if (kind := _kind(node)) is not None},
    )


def _kind(node: NodeSpec) -> NodeKind | None:
    if node.approval is not None:
        return NodeKind.APPROVAL
    return NodeKind.MAP if node.for_each is not None else None


def step_identity(node: NodeSpec) -> str:
    """What a fingerprint hashes for the step itself: the activity (and model), or the child
    graph's name and the digest of its whole spec."""
    if node.dag is None:
        return node.step if node.model is None else f"{node.step}@{node.model}"
    digest = hashlib.sha256(node.dag.model_dump_json().encode()).hexdigest()
    return f"{node.step}@sha256:{digest}"
