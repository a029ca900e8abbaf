"""One unit of a DAG run's work: a node, or one item of a map node. Recovery, caching and
conditions apply to both the same way; only how a unit's end is recorded differs."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pit.dag.refs import ItemScope
    from pit.dag.spec import NodeSpec
    from pit.dag.status import NodeStatus


@dataclass(frozen=True)
class Unit:
    node: NodeSpec
    status: NodeStatus
    item: ItemScope | None = None
    """The map item this unit runs (None: the node itself)."""

    @property
    def index(self) -> int | None:
        return None if self.item is None else self.item.index

    @property
    def key(self) -> str:
        """Its activity id, and its key among the run's running tasks: `node`, `node[3]`."""
        return self.node.id if self.item is None else f"{self.node.id}[{self.item.index}]"

    @property
    def field(self) -> str:
        """Where its messages say a problem is: `nodes.review`, `nodes.review[3]`."""
        return f"nodes.{self.key}"
