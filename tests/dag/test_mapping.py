"""Map nodes in the pure layer: items start under both max_parallels, each ends once, the
node's output lists item outputs in item order, and a restart goes on where it was."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pit.common.errors import InvalidInputError
from pit.dag.compiled import NodeKind, compile_graph
from pit.dag.dispatch import Dispatcher, Work
from pit.dag.graph import parse_dag
from pit.dag.limits import MAX_MAP_ITEMS
from pit.dag.mapping import MapItems, item_page, resolve_items
from pit.dag.refs import resolve
from pit.dag.scheduler import Scheduler
from pit.dag.status import NodeState, NodeStatus, SkipCause

ITEM_ENDS = (NodeState.SUCCEEDED, NodeState.FAILED, NodeState.SKIPPED)


@st.composite
def runs(draw: st.DrawFn) -> tuple[Any, dict[str, int], dict[str, int | None], int]:
    """(compiled dag, items per map node, its max_parallel, the DAG's max_parallel)."""
    count = draw(st.integers(1, 12))
    nodes, sizes, caps = [], {}, {}
    for i in range(count):
        parents = draw(st.lists(st.integers(0, i - 1), max_size=2, unique=True)) if i else []
        node: dict[str, Any] = {"id": f"n{i}", "activity": "pit.echo"}
        node["depends_on"] = [f"n{p}" for p in parents]
        if draw(st.booleans()):
            sizes[node["id"]] = draw(st.integers(0, 30))
            caps[node["id"]] = draw(st.none() | st.integers(1, 6))
            node["for_each"] = list(range(sizes[node["id"]]))
            if caps[node["id"]] is not None:
                node["max_parallel"] = caps[node["id"]]
        nodes.append(node)
    limit = draw(st.integers(1, 8))
    dag = compile_graph(parse_dag({"name": "m", "max_parallel": limit, "nodes": nodes}))
    return dag, sizes, caps, limit


def _kinds(dag: Any) -> dict[str, NodeKind]:
    return {dag.ids[i]: kind for i, kind in dag.kinds.items()}


class Run:
    """Drives a dispatcher the way the workflow will, with item outcomes drawn by the test."""

    def __init__(self, dag: Any, sizes: dict[str, int], caps: dict[str, int | None]) -> None:
        self.dag, self.sizes, self.caps = dag, sizes, caps
        self.nodes = {n: NodeStatus() for n in dag.ids}
        self.started: set[Work] = set()
        self.running: list[Work] = []
        self.dispatch = self.new_dispatcher(self.nodes, None)

    def new_dispatcher(self, nodes: dict, maps: dict | None) -> Dispatcher:
        scheduler = Scheduler(self.dag.topology, nodes, self.dag.trigger_of)
        return Dispatcher(scheduler, _kinds(self.dag), self.dag.settings.parallel_limit, maps)

    def start(self) -> None:
        """Start what may start; a map that expands may have items to start at once."""
        while works := self.dispatch.take():
            self.start_each(works)

    def start_each(self, works: list[Work]) -> None:
        for work in works:
            assert work not in self.started, f"{work} started twice"
            self.started.add(work)
            if work.index is None and work.node_id in self.sizes:
                items = self.dispatch.expand(
                    work.node_id, self.sizes[work.node_id], self.caps[work.node_id]
                )
                if items.finished:  # an empty list
                    self.end_map(work.node_id, items.outcome())
            else:
                self.running.append(work)
        assert self.dispatch.busy <= self.dispatch.limit
        for node_id, items in self.dispatch.maps.items():
            cap = self.caps[node_id]
            assert cap is None or items.running <= cap

    def end(self, work: Work, state: NodeState) -> None:
        if work.index is None:
            self.dispatch.finish(work.node_id, state)
            return
        item = self.dispatch.maps[work.node_id].items[work.index]
        item.output = {"item": work.index} if state is NodeState.SUCCEEDED else None
        outcome = self.dispatch.finish_item(work.node_id, work.index, state)
        if outcome is not None:
            self.end_map(work.node_id, outcome)

    def end_map(self, node_id: str, state: NodeState) -> None:
        self.nodes[node_id].output = self.dispatch.maps[node_id].output()
        self.dispatch.finish(node_id, state)


@settings(max_examples=200, deadline=None)
@given(runs(), st.data())
def test_items_respect_both_limits_and_the_output_keeps_item_order(
    case: tuple[Any, dict, dict, int], data: st.DataObject
) -> None:
    dag, sizes, caps, _ = case
    run = Run(dag, sizes, caps)
    ends: dict[Work, NodeState] = {}
    while not run.dispatch.finished:
        run.start()
        if run.dispatch.finished:  # only empty maps were left
            break
        assert run.running, "nothing runs but the run is not finished"
        work = run.running.pop(data.draw(st.integers(0, len(run.running) - 1)))
        state = data.draw(st.sampled_from(ITEM_ENDS)) if work.index is not None else None
        ends[work] = state or NodeState.SUCCEEDED
        run.end(work, ends[work])
    for node_id, size in sizes.items():
        status = run.nodes[node_id]
        if status.state is NodeState.UPSTREAM_FAILED:
            continue
        item_states = [ends[Work(node_id, i)] for i in range(size)]
        assert status.output == [
            {"item": i} if s is NodeState.SUCCEEDED else None for i, s in enumerate(item_states)
        ]
        failed = NodeState.FAILED in item_states
        assert status.state is (NodeState.FAILED if failed else NodeState.SUCCEEDED)
        assert run.dispatch.maps[node_id].item_counts().total == size


@settings(max_examples=150, deadline=None)
@given(runs(), st.data())
def test_a_restart_goes_on_with_the_carried_items_and_reruns_only_running_ones(
    case: tuple[Any, dict, dict, int], data: st.DataObject
) -> None:
    dag, sizes, caps, _ = case
    run = Run(dag, sizes, caps)
    for _ in range(data.draw(st.integers(0, 40))):
        run.start()
        if not run.running:
            break
        run.end(run.running.pop(0), NodeState.SUCCEEDED)
    run.start()  # these are in flight when the run continues-as-new: they run again after
    carried_nodes = {n: s.model_copy() for n, s in run.nodes.items()}
    carried_maps = {
        n: MapItems(items.size, items.max_parallel, [i.model_copy() for i in items.items])
        for n, items in run.dispatch.maps.items()
    }
    done_before = {
        Work(n, i)
        for n, items in carried_maps.items()
        for i, item in enumerate(items.items)
        if item.state.finished
    } | {Work(n) for n, s in carried_nodes.items() if s.state.finished}
    run.nodes = carried_nodes
    run.dispatch = run.new_dispatcher(carried_nodes, carried_maps)
    run.started, run.running = set(), []
    while not run.dispatch.finished:
        run.start()
        if run.dispatch.finished:
            break
        assert run.running
        work = run.running.pop(0)
        assert work not in done_before, f"{work} finished before the restart and ran again"
        run.end(work, NodeState.SUCCEEDED)
    assert all(s.state is NodeState.SUCCEEDED for s in carried_nodes.values())
    for node_id, size in sizes.items():
        assert carried_nodes[node_id].output == [{"item": i} for i in range(size)]


def test_ready_nodes_start_before_more_items_and_a_map_holds_no_slot_itself() -> None:
    dag = compile_graph(
        parse_dag(
            {
                "name": "m",
                "max_parallel": 3,
                "nodes": [
                    {"id": "map", "activity": "pit.echo", "for_each": list(range(10))},
                    {"id": "late", "activity": "pit.echo", "depends_on": ["first"]},
                    {"id": "first", "activity": "pit.echo"},
                ],
            }
        )
    )
    nodes = {n: NodeStatus() for n in dag.ids}
    dispatch = Dispatcher(Scheduler(dag.topology, nodes), _kinds(dag), 3)
    assert dispatch.take() == [Work("map"), Work("first")]
    dispatch.expand("map", 10, None)
    assert dispatch.take() == [Work("map", 0), Work("map", 1)]
    dispatch.finish("first", NodeState.SUCCEEDED)
    assert dispatch.take() == [Work("late")]  # a ready node before the next item
    dispatch.finish_item("map", 0, NodeState.SUCCEEDED)
    assert dispatch.take() == [Work("map", 2)]


def test_a_map_with_a_failed_item_fails_and_says_which() -> None:
    items = MapItems(4, None)
    assert items.take(10) == [0, 1, 2, 3]
    items.items[2].error = "boom"
    for index, state in enumerate(
        [NodeState.SUCCEEDED, NodeState.SKIPPED, NodeState.FAILED, NodeState.SUCCEEDED]
    ):
        items.finish(index, state)
    assert items.outcome() is NodeState.FAILED
    assert items.failure_summary() == "1 of 4 items failed: 2 (item 2: boom)"
    assert items.item_counts().model_dump() == {
        "total": 4,
        "pending": 0,
        "running": 0,
        "succeeded": 2,
        "failed": 1,
        "skipped": 1,
        "cancelled": 0,
        "cached": 0,
    }


def test_items_skipped_by_their_condition_leave_null_and_the_map_succeeds() -> None:
    items = MapItems(3, 1)
    assert items.take(5) == [0]  # max_parallel 1
    items.items[0].output = "a"
    items.finish(0, NodeState.SUCCEEDED)
    assert items.take(5) == [1]
    items.skip(1, SkipCause.CONDITION, "when was false for this item")
    items.take(5)
    items.items[2].output = "c"
    items.finish(2, NodeState.SUCCEEDED)
    assert items.outcome() is NodeState.SUCCEEDED
    assert items.output() == ["a", None, "c"]
    items.release_outputs()
    page = item_page(items.items, ["a", None, "c"], 1, 5)
    assert [p.output for p in page] == [None, "c"]
    assert page[0].skipped_by is SkipCause.CONDITION


def test_downstream_references_index_into_a_map_output() -> None:
    outputs = {"review": [{"score": 1}, None, {"score": 3}]}
    assert resolve("${nodes.review.output.2.score}", outputs, {}, "inputs.x") == 3
    with pytest.raises(InvalidInputError, match="has no 'score'"):
        resolve("${nodes.review.output.1.score}", outputs, {}, "inputs.x")


def test_a_map_list_must_be_a_list_within_the_limit() -> None:
    outputs = {"list": {"files": ["a.py", "b.py"], "count": 2, "many": [0] * (MAX_MAP_ITEMS + 1)}}
    field = "nodes.review.for_each"
    assert resolve_items("${nodes.list.output.files}", outputs, {}, field) == ["a.py", "b.py"]
    assert resolve_items([1, 2], outputs, {}, field) == [1, 2]
    with pytest.raises(InvalidInputError, match="stands for int, not a list"):
        resolve_items("${nodes.list.output.count}", outputs, {}, field)
    with pytest.raises(InvalidInputError, match="over the limit of 10,000"):
        resolve_items("${nodes.list.output.many}", outputs, {}, field)


def test_item_references_resolve_for_each_item() -> None:
    from pit.dag.refs import ItemScope

    inputs = {"path": "${item.path}", "n": "${index}", "label": "file ${index}: ${item.path}"}
    got = resolve(inputs, {}, {}, "inputs", ItemScope({"path": "a.py"}, 3))
    assert got == {"path": "a.py", "n": 3, "label": "file 3: a.py"}
    with pytest.raises(InvalidInputError, match="only in a map node"):
        resolve(inputs, {}, {}, "inputs")
