"""The incremental scheduler: which nodes may run next, as completions come in.

Work per event is proportional to the nodes it touches (a node's children, or the
descendants a failure reaches), never to the whole graph, so a workflow task stays far below
Temporal's 2 s deadlock limit on graphs of tens of thousands of nodes. Pure and
deterministic: safe inside workflow code.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable

from pit.dag.graph import Topology
from pit.dag.status import NodeState, NodeStatus

_LETS_CHILDREN_RUN = frozenset(state for state in NodeState if state.lets_children_run)


class Scheduler:
    def __init__(self, graph: Topology, nodes: dict[str, NodeStatus]) -> None:
        self.graph = graph
        self.nodes = nodes
        self._position = {node_id: i for i, node_id in enumerate(graph.order)}
        self._waiting: dict[str, int] = {}
        # positions are visited in increasing order: appending keeps the list a heap
        self._ready: list[int] = []
        # one pass over plain values: this runs on every (re)load of a run of any size
        state_of = {node_id: status.state for node_id, status in nodes.items()}
        self.counts: Counter[NodeState] = Counter(state_of.values())
        for position, node_id in enumerate(graph.order):
            state = state_of[node_id]
            if state is NodeState.RUNNING:  # carried over a restart: run it again
                self._set(node_id, NodeState.PENDING)
                state = state_of[node_id] = NodeState.PENDING
            if state is not NodeState.PENDING:
                continue
            blocking = [p for p in graph.parents[node_id] if state_of[p] not in _LETS_CHILDREN_RUN]
            if any(state_of[p] is not NodeState.PENDING for p in blocking):
                self._set(node_id, NodeState.UPSTREAM_FAILED)
                state_of[node_id] = NodeState.UPSTREAM_FAILED
                continue
            self._waiting[node_id] = len(blocking)
            if not blocking:
                self._ready.append(position)

    @property
    def running(self) -> int:
        return self.counts[NodeState.RUNNING]

    @property
    def has_ready(self) -> bool:
        return bool(self._ready)

    @property
    def finished(self) -> bool:
        return self.counts[NodeState.PENDING] == 0 and self.counts[NodeState.RUNNING] == 0

    def take_ready(self, limit: int) -> list[str]:
        """Up to `limit` ready nodes, in file order, marked running."""
        taken: list[str] = []
        while self._ready and len(taken) < limit:
            node_id = self.graph.order[heapq.heappop(self._ready)]
            self._set(node_id, NodeState.RUNNING)
            taken.append(node_id)
        return taken

    def finish(self, node_id: str, state: NodeState) -> None:
        """Record a finished node and release or fail what depended on it."""
        assert state.finished
        self._set(node_id, state)
        if state.lets_children_run:
            for child in self.graph.children[node_id]:
                if child in self._waiting:
                    self._waiting[child] -= 1
                    if self._waiting[child] == 0:
                        del self._waiting[child]
                        heapq.heappush(self._ready, self._position[child])
        elif state is not NodeState.CANCELLED:
            self._fail_descendants(node_id)

    def cancel_pending(self, reason: str) -> list[str]:
        """Mark every node that has not started cancelled (fail-fast, a cancelled run)."""
        cancelled = [n for n in self.graph.order if self.nodes[n].state is NodeState.PENDING]
        for node_id in cancelled:
            self._set(node_id, NodeState.CANCELLED)
            self.nodes[node_id].reason = reason
        self._ready.clear()
        self._waiting.clear()
        return cancelled

    def _fail_descendants(self, node_id: str) -> None:
        stack = list(self.graph.children[node_id])
        while stack:
            child = stack.pop()
            if self.nodes[child].state is NodeState.PENDING:
                self._set(child, NodeState.UPSTREAM_FAILED)
                self.nodes[child].reason = f"upstream {node_id} did not succeed"
                self._waiting.pop(child, None)
                stack.extend(self.graph.children[child])

    def _set(self, node_id: str, state: NodeState) -> None:
        status = self.nodes[node_id]
        self.counts[status.state] -= 1
        self.counts[state] += 1
        status.state = state

    def states(self, node_ids: Iterable[str]) -> list[NodeState]:
        return [self.nodes[n].state for n in node_ids]
