"""What a run starts next, under the DAG's `max_parallel`: ready nodes from the scheduler, and
the items of the map nodes that are running.

A slot is one activity or child graph in flight: a plain node holds one while it runs, each
running map item holds one, and a map node or an approval node holds none itself (a map's
items do; an approval waits for a person). Ready nodes go first, in file order, then the
items of running maps, map by map in file order and item by item, each map within its own
`max_parallel`. Pure and deterministic: the workflow asks `take()` after every change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pit.dag.compiled import NodeKind
from pit.dag.mapping import MapItems
from pit.dag.scheduler import Scheduler
from pit.dag.status import NodeState


@dataclass(frozen=True)
class Work:
    """One thing to start: a node, or item `index` of map node `node_id`."""

    node_id: str
    index: int | None = None


class Dispatcher:
    def __init__(
        self,
        scheduler: Scheduler,
        kinds: Mapping[str, NodeKind],
        limit: int,
        maps: dict[str, MapItems] | None = None,
        waiting: Iterable[str] = (),
    ) -> None:
        """Over a restart (continue-as-new): `maps`, the maps' items by node id; `waiting`,
        approval nodes still waiting. Those that were running go on running, not again."""
        self.scheduler = scheduler
        self.kinds = kinds
        self.limit = limit
        self.maps: dict[str, MapItems] = maps if maps is not None else {}
        """Every map that has expanded, finished ones too (their items stay readable)."""
        self._holding: set[str] = set()
        """Running nodes that hold a slot."""
        self._rank = {node_id: i for i, node_id in enumerate(scheduler.graph.order)}
        for node_id in (*self.maps, *waiting):
            if scheduler.nodes[node_id].state is NodeState.PENDING:
                scheduler.hold(node_id)

    @property
    def busy(self) -> int:
        """Slots in use: running plain nodes and running map items."""
        return len(self._holding) + sum(items.running for items in self.maps.values())

    @property
    def finished(self) -> bool:
        return self.scheduler.finished

    def take(self) -> list[Work]:
        """Everything that may start now, marked running. Ask again after `expand`: the new
        map's items may start at once."""
        free = self.limit - self.busy
        started: list[Work] = []
        while free > 0:
            taken = self.scheduler.take_ready(free)
            if not taken:
                break
            for node_id in taken:
                started.append(Work(node_id))
                if node_id not in self.kinds:
                    self._holding.add(node_id)
                    free -= 1
        for node_id in sorted(self.maps, key=self._rank.__getitem__):
            if free <= 0:
                break
            indexes = self.maps[node_id].take(free)
            started += [Work(node_id, index) for index in indexes]
            free -= len(indexes)
        return started

    def expand(self, node_id: str, count: int, max_parallel: int | None) -> MapItems:
        """A running map node's list is known: its `count` items wait for slots. With no
        items, the map has already finished (`MapItems.finished`)."""
        assert self.kinds.get(node_id) is NodeKind.MAP and node_id not in self.maps
        items = self.maps[node_id] = MapItems(count, max_parallel)
        return items

    def finish_item(self, node_id: str, index: int, state: NodeState) -> NodeState | None:
        """Record a finished item; the map node's final state once its last item finished
        (the caller sets the node's output, `MapItems.output()`, and then `finish`es it)."""
        items = self.maps[node_id]
        items.finish(index, state)
        return items.outcome() if items.finished else None

    def finish(self, node_id: str, state: NodeState) -> None:
        """Record a finished node (a map node: after its items), freeing its slot."""
        self._holding.discard(node_id)
        self.scheduler.finish(node_id, state)

    def cancel_pending(self, reason: str) -> list[Work]:
        """Cancel every node and map item that has not started (fail-fast, a cancelled run)."""
        cancelled = [Work(n) for n in self.scheduler.cancel_pending(reason)]
        for node_id in sorted(self.maps, key=self._rank.__getitem__):
            cancelled += [Work(node_id, i) for i in self.maps[node_id].cancel_pending(reason)]
        return cancelled
