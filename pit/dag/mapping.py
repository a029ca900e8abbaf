"""The items of a map node (`for_each`) while it runs: their states, handed out in item order
under the node's `max_parallel`, and the node's outcome and output once all have finished.

Pure and deterministic, like the scheduler. An item's status is a `NodeStatus` (attempts,
times, output, error, reason, fingerprint, `cached_from`), so a run records an item exactly as
it records a node; the map node's own status carries only `ItemCounts`.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from typing import Any

from pit.common.errors import InvalidInputError
from pit.dag.limits import MAX_MAP_ITEMS
from pit.dag.refs import resolve
from pit.dag.status import ItemCounts, NodeState, NodeStatus, SkipCause


class MapItems:
    def __init__(
        self, count: int, max_parallel: int | None, items: list[NodeStatus] | None = None
    ) -> None:
        """`items`: carried over a restart (continue-as-new); running ones run again."""
        self.items = items if items is not None else [NodeStatus() for _ in range(count)]
        assert len(self.items) == count
        self.max_parallel = max_parallel
        self.counts: Counter[NodeState] = Counter()
        self.cached = sum(1 for item in self.items if item.cached_from is not None)
        for item in self.items:
            if item.state is NodeState.RUNNING:
                item.state = NodeState.PENDING
            self.counts[item.state] += 1
        self._pending = deque(i for i, item in enumerate(self.items) if not item.state.finished)

    @property
    def size(self) -> int:
        return len(self.items)

    @property
    def running(self) -> int:
        return self.counts[NodeState.RUNNING]

    @property
    def finished(self) -> bool:
        return not self._pending and self.running == 0

    def room(self) -> int:
        """How many more items may start now, by the node's own `max_parallel`."""
        cap = len(self._pending) if self.max_parallel is None else self.max_parallel - self.running
        return max(0, min(cap, len(self._pending)))

    def take(self, limit: int) -> list[int]:
        """Up to `limit` pending items (and no more than `room()`), in item order, marked
        running."""
        taken = [self._pending.popleft() for _ in range(min(limit, self.room()))]
        for index in taken:
            self._set(index, NodeState.RUNNING)
        return taken

    def finish(self, index: int, state: NodeState) -> None:
        """Record a finished item (its status's output, error, ... are set by the caller)."""
        assert state.finished and self.items[index].state is NodeState.RUNNING
        self._set(index, state)
        if self.items[index].cached_from is not None:
            self.cached += 1

    def cancel_pending(self, reason: str) -> list[int]:
        cancelled = list(self._pending)
        self._pending.clear()
        for index in cancelled:
            self._set(index, NodeState.CANCELLED)
            self.items[index].reason = reason
        return cancelled

    def outcome(self) -> NodeState:
        """The map node's state once every item finished: failed if any item failed (after its
        retries and `on_failure`), cancelled if any was cancelled, else succeeded."""
        assert self.finished
        if self.counts[NodeState.FAILED]:
            return NodeState.FAILED
        if self.counts[NodeState.CANCELLED]:
            return NodeState.CANCELLED
        return NodeState.SUCCEEDED

    def failure_summary(self, shown: int = 5) -> str | None:
        """`3 of 10,000 items failed: 4, 17, 99`, or None."""
        failed = [i for i, item in enumerate(self.items) if item.state is NodeState.FAILED]
        if not failed:
            return None
        listed = ", ".join(str(i) for i in failed[:shown]) + (
            ", ..." if len(failed) > shown else ""
        )
        first = self.items[failed[0]].error
        return f"{len(failed)} of {self.size:,} items failed: {listed}" + (
            f" (item {failed[0]}: {first})" if first else ""
        )

    def output(self) -> list[Any]:
        """The node's output: each item's output in item order, null where an item did not
        succeed (skipped by its `when`, skipped after failure, failed)."""
        return [item.output if item.state is NodeState.SUCCEEDED else None for item in self.items]

    def release_outputs(self) -> None:
        """Drop the items' outputs once the node's output holds them: carried state and the
        item view (`item_page`) then read them from the node's output."""
        for item in self.items:
            item.output = None

    def item_counts(self) -> ItemCounts:
        counts = self.counts
        return ItemCounts(
            total=self.size,
            pending=counts[NodeState.PENDING],
            running=counts[NodeState.RUNNING],
            succeeded=counts[NodeState.SUCCEEDED],
            failed=counts[NodeState.FAILED],
            skipped=counts[NodeState.SKIPPED],
            cancelled=counts[NodeState.CANCELLED],
            cached=self.cached,
        )

    def skip(self, index: int, cause: SkipCause, reason: str) -> None:
        """Finish an item as skipped (a per-item `when` was false: `SkipCause.CONDITION`)."""
        item = self.items[index]
        item.skipped_by, item.reason = cause, reason
        self.finish(index, NodeState.SKIPPED)

    def _set(self, index: int, state: NodeState) -> None:
        item = self.items[index]
        self.counts[item.state] -= 1
        self.counts[state] += 1
        item.state = state


def item_page(
    items: list[NodeStatus], node_output: Any, offset: int, limit: int
) -> list[NodeStatus]:
    """Items `offset .. offset + limit` for `pit dag status RUN --node ID`, each with its
    output (from the node's output once the map finished and released them)."""
    page = [item.model_copy() for item in items[offset : offset + limit]]
    if isinstance(node_output, list) and len(node_output) == len(items):
        for position, item in enumerate(page, start=offset):
            if item.output is None:
                item.output = node_output[position]
    return page


def resolve_items(
    for_each: str | list[Any],
    outputs: Mapping[str, Any],
    run_inputs: Mapping[str, Any],
    field: str,
) -> list[Any]:
    """A map node's list: its literal list, or what its reference stands for, which must be a
    list of at most `MAX_MAP_ITEMS` (else `InvalidInputError`: the node fails, not retried).
    Deterministic, so a restart resolves the same list again instead of carrying it."""
    if isinstance(for_each, list):
        return for_each
    value = resolve(for_each.strip(), outputs, run_inputs, field)
    if not isinstance(value, list):
        kind = "null" if value is None else type(value).__name__
        raise InvalidInputError.for_field(field, for_each, f"stands for {kind}, not a list")
    if len(value) > MAX_MAP_ITEMS:
        raise InvalidInputError.for_field(
            field, for_each, f"a list of {len(value):,} items, over the limit of {MAX_MAP_ITEMS:,}"
        )
    return value
