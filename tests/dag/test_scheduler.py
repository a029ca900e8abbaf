"""The scheduler respects dependencies and propagates failure, on any graph (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pit.dag.graph import Graph, parse_dag
from pit.dag.scheduler import Scheduler
from pit.dag.status import NodeState, NodeStatus


@st.composite
def random_dags(draw: st.DrawFn, max_nodes: int = 30) -> Graph:
    count = draw(st.integers(min_value=1, max_value=max_nodes))
    nodes = []
    for i in range(count):
        parents = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        nodes.append(
            {"id": f"n{i}", "activity": "pit.echo", "depends_on": [f"n{p}" for p in parents]}
        )
    order = draw(st.permutations(nodes))  # file order must not matter
    return parse_dag({"name": "random", "nodes": list(order)})


def _ancestors(graph: Graph, node: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph.parents[node])
    while stack:
        parent = stack.pop()
        if parent not in seen:
            seen.add(parent)
            stack.extend(graph.parents[parent])
    return seen


@settings(max_examples=150, deadline=None)
@given(random_dags(), st.data())
def test_nodes_start_only_after_all_parents_succeeded(graph: Graph, data: st.DataObject) -> None:
    nodes = {n: NodeStatus() for n in graph.order}
    scheduler = Scheduler(graph, nodes)
    running: list[str] = []
    finished: set[str] = set()
    while not scheduler.finished:
        limit = data.draw(st.integers(1, 5))
        for node in scheduler.take_ready(limit):
            assert set(graph.parents[node]) <= finished
            running.append(node)
        assert running, "nothing runs but the run is not finished"
        done = running.pop(data.draw(st.integers(0, len(running) - 1)))
        scheduler.finish(done, NodeState.SUCCEEDED)
        finished.add(done)
    assert finished == set(graph.order)


@settings(max_examples=150, deadline=None)
@given(random_dags(), st.data())
def test_a_failure_fails_exactly_its_descendants(graph: Graph, data: st.DataObject) -> None:
    nodes = {n: NodeStatus() for n in graph.order}
    scheduler = Scheduler(graph, nodes)
    doomed = data.draw(st.sampled_from(graph.order))
    while not scheduler.finished:
        ready = scheduler.take_ready(1000)
        assert ready
        for node in ready:
            scheduler.finish(node, NodeState.FAILED if node == doomed else NodeState.SUCCEEDED)
    for node in graph.order:
        expected = (
            NodeState.FAILED
            if node == doomed
            else NodeState.UPSTREAM_FAILED
            if doomed in _ancestors(graph, node)
            else NodeState.SUCCEEDED
        )
        assert nodes[node].state is expected, node
    assert sum(scheduler.counts.values()) == graph.size


@settings(max_examples=100, deadline=None)
@given(random_dags(), st.data())
def test_restarting_from_carried_state_finishes_the_same_way(
    graph: Graph, data: st.DataObject
) -> None:
    nodes = {n: NodeStatus() for n in graph.order}
    first = Scheduler(graph, nodes)
    steps = data.draw(st.integers(0, graph.size))
    for _ in range(steps):
        taken = first.take_ready(1)
        if not taken:
            break
        first.finish(taken[0], NodeState.SUCCEEDED)
    first.take_ready(2)  # in flight when the run continued-as-new: run again after
    carried = {n: s.model_copy() for n, s in nodes.items()}
    second = Scheduler(graph, carried)
    ran: set[str] = {n for n, s in carried.items() if s.state is NodeState.SUCCEEDED}
    while not second.finished:
        for node in second.take_ready(1000):
            assert node not in ran, "a succeeded node ran twice"
            assert set(graph.parents[node]) <= ran
            second.finish(node, NodeState.SUCCEEDED)
            ran.add(node)
    assert ran == set(graph.order)


def test_skip_lets_children_run() -> None:
    graph = parse_dag(
        {
            "name": "s",
            "nodes": [
                {"id": "a", "activity": "x"},
                {"id": "b", "activity": "x", "depends_on": ["a"]},
            ],
        }
    )
    scheduler = Scheduler(graph, {n: NodeStatus() for n in graph.order})
    assert scheduler.take_ready(5) == ["a"]
    scheduler.finish("a", NodeState.SKIPPED)
    assert scheduler.take_ready(5) == ["b"]


def test_ready_nodes_come_in_file_order_and_respect_the_limit() -> None:
    graph = parse_dag({"name": "w", "nodes": [{"id": f"n{i}", "activity": "x"} for i in range(10)]})
    scheduler = Scheduler(graph, {n: NodeStatus() for n in graph.order})
    assert scheduler.take_ready(3) == ["n0", "n1", "n2"]
    assert scheduler.running == 3
