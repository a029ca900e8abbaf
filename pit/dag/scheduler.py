"""The incremental scheduler: which nodes may run next, as completions come in.

Work per event is proportional to the nodes it touches (a node's children, or the
descendants a failure or a skip reaches), never to the whole graph, so a workflow task stays
far below Temporal's 2 s deadlock limit on graphs of tens of thousands of nodes. Pure and
deterministic: safe inside workflow code.

Each node's trigger rule (`pit.dag.options.Trigger`) decides, from its parents' final states,
whether it runs, is skipped or fails upstream; a node's final state depends only on its
parents' final states, never on the order they finished in.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Literal

from pit.dag.graph import Topology
from pit.dag.options import Trigger
from pit.dag.status import NodeState, NodeStatus, SkipCause

_PASSED, _SKIPPED, _FAILED = 1, 2, 4
"""What a waiting node has seen of its finished parents (bits)."""
_READY: Literal["ready"] = "ready"


class Scheduler:
    def __init__(
        self,
        graph: Topology,
        nodes: dict[str, NodeStatus],
        triggers: Mapping[str, Trigger] | None = None,
    ) -> None:
        self.graph = graph
        self.nodes = nodes
        self.triggers: Mapping[str, Trigger] = triggers or {}
        self._position = {node_id: i for i, node_id in enumerate(graph.order)}
        self._waiting: dict[str, int] = {}
        """Pending nodes not decided yet: how many parents have not finished."""
        self._seen: dict[str, int] = {}
        # positions are visited in increasing order: appending keeps the list a heap
        self._ready: list[int] = []
        self.counts: Counter[NodeState] = Counter(status.state for status in nodes.values())
        for position, node_id in enumerate(graph.order):
            state = nodes[node_id].state
            if state is NodeState.RUNNING:  # carried over a restart: run it again
                self._set(node_id, NodeState.PENDING)
            elif state is not NodeState.PENDING:
                continue
            parents = graph.parents[node_id]
            remaining, seen = 0, 0
            for parent in parents:
                outcome = _outcome(nodes[parent])
                if outcome is None:
                    remaining += 1
                else:
                    seen |= outcome
            decision = self._decide(node_id, remaining, seen)
            if decision == _READY:
                self._ready.append(position)
            elif isinstance(decision, NodeState):
                self._settle(node_id, decision)
            else:
                self._waiting[node_id] = remaining
                self._seen[node_id] = seen

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

    def hold(self, node_id: str) -> None:
        """Mark a ready node running without handing it out: after a restart, a map node whose
        items were carried over, or an approval that still waits, goes on where it was."""
        position = self._position[node_id]
        assert position in self._ready, f"{node_id} is not ready"
        self._ready.remove(position)
        heapq.heapify(self._ready)
        self._set(node_id, NodeState.RUNNING)

    def finish(self, node_id: str, state: NodeState) -> None:
        """Record a finished node and release, skip or fail what depended on it."""
        assert state.finished
        self._set(node_id, state)
        if state is not NodeState.CANCELLED:
            self._release_children(node_id)

    def skip(self, node_id: str, cause: SkipCause, reason: str) -> None:
        """Finish a node as skipped, saying why (a false `when`: `SkipCause.CONDITION`)."""
        status = self.nodes[node_id]
        status.skipped_by, status.reason = cause, reason
        self.finish(node_id, NodeState.SKIPPED)

    def cancel_pending(self, reason: str) -> list[str]:
        """Mark every node that has not started cancelled (fail-fast, a cancelled run)."""
        cancelled = [n for n in self.graph.order if self.nodes[n].state is NodeState.PENDING]
        for node_id in cancelled:
            self._set(node_id, NodeState.CANCELLED)
            self.nodes[node_id].reason = reason
        self._ready.clear()
        self._waiting.clear()
        self._seen.clear()
        return cancelled

    def _release_children(self, node_id: str) -> None:
        """Tell the children of finished `node_id`; settle the ones that this decides, and
        theirs in turn (a stack: no recursion however deep the graph)."""
        stack = [node_id]
        while stack:
            parent = stack.pop()
            outcome = _outcome(self.nodes[parent])
            assert outcome is not None
            for child in self.graph.children[parent]:
                if child not in self._waiting:
                    continue
                self._waiting[child] -= 1
                self._seen[child] |= outcome
                decision = self._decide(child, self._waiting[child], self._seen[child], parent)
                if decision is None:
                    continue
                del self._waiting[child], self._seen[child]
                if isinstance(decision, NodeState):
                    self._settle(child, decision, parent)
                    stack.append(child)
                else:
                    heapq.heappush(self._ready, self._position[child])

    def _decide(
        self, node_id: str, remaining: int, seen: int, last: str | None = None
    ) -> NodeState | Literal["ready"] | None:
        """Ready, a final state, or None to wait for more parents (see `Trigger`)."""
        trigger = self.triggers.get(node_id, Trigger.ALL_SUCCEEDED)
        if trigger is Trigger.ALL_SUCCEEDED and seen & _FAILED:
            return NodeState.UPSTREAM_FAILED  # a failure decides at once
        if remaining:
            return None
        if trigger is Trigger.ALL_DONE or not self.graph.parents[node_id]:
            return _READY
        if trigger is Trigger.ANY_SUCCEEDED:
            if seen & _PASSED:
                return _READY
            return NodeState.UPSTREAM_FAILED if seen & _FAILED else NodeState.SKIPPED
        return NodeState.SKIPPED if seen & _SKIPPED else _READY

    def _settle(self, node_id: str, state: NodeState, parent: str | None = None) -> None:
        """Decide a pending node without running it: skipped or upstream_failed, saying why."""
        status = self.nodes[node_id]
        cause = parent or self._first_parent(node_id, state)
        trigger = self.triggers.get(node_id, Trigger.ALL_SUCCEEDED)
        if state is NodeState.UPSTREAM_FAILED:
            if trigger is Trigger.ALL_SUCCEEDED:
                status.reason = f"upstream {cause} did not succeed"
            else:
                status.reason = f"no parent succeeded and {cause} failed (trigger {trigger})"
        else:
            status.skipped_by = SkipCause.UPSTREAM
            if trigger is Trigger.ALL_SUCCEEDED:
                status.reason = f"upstream {self._first_parent(node_id, state)} was skipped"
            else:
                status.reason = f"no parent succeeded (trigger {trigger})"
        self._set(node_id, state)

    def _first_parent(self, node_id: str, state: NodeState) -> str:
        """The first parent (in the node's parent order) that explains `state`."""
        wanted = _FAILED if state is NodeState.UPSTREAM_FAILED else _SKIPPED
        parents = self.graph.parents[node_id]
        return next((p for p in parents if _outcome(self.nodes[p]) == wanted), parents[0])

    def _set(self, node_id: str, state: NodeState) -> None:
        status = self.nodes[node_id]
        self.counts[status.state] -= 1
        self.counts[state] += 1
        status.state = state

    def states(self, node_ids: Iterable[str]) -> list[NodeState]:
        return [self.nodes[n].state for n in node_ids]


def _outcome(status: NodeStatus) -> int | None:
    """What a parent's state means to its children; None while it has not finished (or was
    cancelled: then the run is stopping and cancels what waits)."""
    state = status.state
    if state in (NodeState.PENDING, NodeState.RUNNING, NodeState.CANCELLED):
        return None
    if status.passed:
        return _PASSED
    return _SKIPPED if state is NodeState.SKIPPED else _FAILED
