"""Conditions and trigger rules in the pure scheduler: on any graph, in any completion order,
every node ends in exactly one final state, the one docs/dag.md#triggers gives (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pit.dag.graph import Graph, parse_dag
from pit.dag.options import Trigger
from pit.dag.scheduler import Scheduler
from pit.dag.status import NodeState, NodeStatus, SkipCause

# what a node that runs does: succeed, fail, have a false `when`, or fail with on_failure skip
FATES = ("succeed", "fail", "condition", "skip_after_failure")


@st.composite
def graphs_with_triggers(draw: st.DrawFn, max_nodes: int = 25) -> Graph:
    count = draw(st.integers(min_value=1, max_value=max_nodes))
    nodes = []
    for i in range(count):
        parents = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        node = {"id": f"n{i}", "activity": "pit.echo", "depends_on": [f"n{p}" for p in parents]}
        trigger = draw(st.sampled_from([*Trigger, Trigger.ALL_SUCCEEDED]))
        if trigger is not Trigger.ALL_SUCCEEDED:
            node["trigger"] = trigger.value
        nodes.append(node)
    return parse_dag({"name": "t", "nodes": list(draw(st.permutations(nodes)))})


def _finish(scheduler: Scheduler, node: str, fate: str) -> None:
    if fate == "condition":
        scheduler.skip(node, SkipCause.CONDITION, "when was false")
    elif fate == "skip_after_failure":
        scheduler.nodes[node].skipped_by = SkipCause.FAILURE
        scheduler.finish(node, NodeState.SKIPPED)
    else:
        scheduler.finish(node, NodeState.SUCCEEDED if fate == "succeed" else NodeState.FAILED)


def expected_states(graph: Graph, fates: dict[str, str]) -> dict[str, NodeState]:
    """The documented rules, written straight from parents' final states."""
    ran = {
        "succeed": NodeState.SUCCEEDED,
        "fail": NodeState.FAILED,
        "condition": NodeState.SKIPPED,
        "skip_after_failure": NodeState.SKIPPED,
    }
    states: dict[str, NodeState] = {}
    outcome: dict[str, str] = {}
    for node in graph.order:
        parents = [outcome[p] for p in graph.parents[node]]
        trigger = graph.spec.nodes[[n.id for n in graph.spec.nodes].index(node)].trigger
        if not parents or trigger is Trigger.ALL_DONE:
            decision = "run"
        elif trigger is Trigger.ALL_SUCCEEDED:
            decision = (
                "upstream_failed"
                if "failed" in parents
                else "skipped"
                if "skipped" in parents
                else "run"
            )
        else:
            decision = (
                "run"
                if "passed" in parents
                else "upstream_failed"
                if "failed" in parents
                else "skipped"
            )
        if decision == "run":
            states[node] = ran[fates[node]]
            outcome[node] = {
                "succeed": "passed",
                "skip_after_failure": "passed",
                "fail": "failed",
                "condition": "skipped",
            }[fates[node]]
        else:
            states[node] = NodeState(decision)
            outcome[node] = "failed" if decision == "upstream_failed" else "skipped"
    return states


@settings(max_examples=300, deadline=None)
@given(graphs_with_triggers(), st.data())
def test_every_node_ends_once_in_the_state_its_trigger_gives(
    graph: Graph, data: st.DataObject
) -> None:
    fates = {n: data.draw(st.sampled_from(FATES), label=n) for n in graph.order}
    nodes = {n: NodeStatus() for n in graph.order}
    scheduler = Scheduler(graph, nodes, {n.id: n.trigger for n in graph.spec.nodes})
    running: list[str] = []
    started: set[str] = set()
    while not scheduler.finished:
        for node in scheduler.take_ready(data.draw(st.integers(1, 4))):
            assert node not in started, "a node started twice"
            assert all(nodes[p].state.finished for p in graph.parents[node]), "ran before a parent"
            started.add(node)
            running.append(node)
        assert running, "nothing runs but the run is not finished"
        done = running.pop(data.draw(st.integers(0, len(running) - 1)))
        _finish(scheduler, done, fates[done])
    assert {n: s.state for n, s in nodes.items()} == expected_states(graph, fates)
    assert sum(scheduler.counts.values()) == graph.size
    assert scheduler.counts[NodeState.PENDING] == scheduler.counts[NodeState.RUNNING] == 0
    for node, status in nodes.items():
        if status.state is NodeState.SKIPPED and node not in started:
            assert status.skipped_by is SkipCause.UPSTREAM and status.reason


@settings(max_examples=150, deadline=None)
@given(graphs_with_triggers(), st.data())
def test_a_restart_from_carried_state_ends_the_same_way(graph: Graph, data: st.DataObject) -> None:
    fates = {n: data.draw(st.sampled_from(FATES), label=n) for n in graph.order}
    triggers = {n.id: n.trigger for n in graph.spec.nodes}
    nodes = {n: NodeStatus() for n in graph.order}
    first = Scheduler(graph, nodes, triggers)
    for _ in range(data.draw(st.integers(0, graph.size))):
        taken = first.take_ready(1)
        if not taken:
            break
        _finish(first, taken[0], fates[taken[0]])
    first.take_ready(2)  # in flight when the run continued-as-new: they run again
    carried = {n: s.model_copy() for n, s in nodes.items()}
    second = Scheduler(graph, carried, triggers)
    finished_before = {n for n, s in carried.items() if s.state.finished}
    while not second.finished:
        for node in second.take_ready(1000):
            assert node not in finished_before
            _finish(second, node, fates[node])
    assert {n: s.state for n, s in carried.items()} == expected_states(graph, fates)


def _chain(*nodes: dict) -> Graph:
    return parse_dag({"name": "c", "nodes": list(nodes)})


def test_a_false_condition_skips_descendants_but_all_done_still_runs() -> None:
    graph = _chain(
        {"id": "check", "activity": "x"},
        {"id": "review", "activity": "x", "depends_on": ["check"]},
        {"id": "publish", "activity": "x", "depends_on": ["review"]},
        {"id": "report", "activity": "x", "depends_on": ["review"], "trigger": "all_done"},
    )
    nodes = {n: NodeStatus() for n in graph.order}
    scheduler = Scheduler(graph, nodes, {"report": Trigger.ALL_DONE})
    scheduler.finish(scheduler.take_ready(5)[0], NodeState.SUCCEEDED)
    assert scheduler.take_ready(5) == ["review"]
    scheduler.skip("review", SkipCause.CONDITION, "when was false")
    assert nodes["publish"].state is NodeState.SKIPPED
    assert nodes["publish"].reason == "upstream review was skipped"
    assert scheduler.take_ready(5) == ["report"]


def test_any_succeeded_waits_for_every_parent_and_runs_if_one_passed() -> None:
    graph = _chain(
        {"id": "a", "activity": "x"},
        {"id": "b", "activity": "x"},
        {"id": "pick", "activity": "x", "depends_on": ["a", "b"], "trigger": "any_succeeded"},
    )
    nodes = {n: NodeStatus() for n in graph.order}
    scheduler = Scheduler(graph, nodes, {"pick": Trigger.ANY_SUCCEEDED})
    assert scheduler.take_ready(5) == ["a", "b"]
    scheduler.finish("a", NodeState.FAILED)
    assert not scheduler.has_ready and nodes["pick"].state is NodeState.PENDING
    scheduler.finish("b", NodeState.SUCCEEDED)
    assert scheduler.take_ready(5) == ["pick"]


def test_on_failure_skip_still_lets_children_run_as_before() -> None:
    graph = _chain({"id": "a", "activity": "x"}, {"id": "b", "activity": "x", "depends_on": ["a"]})
    nodes = {n: NodeStatus() for n in graph.order}
    scheduler = Scheduler(graph, nodes)
    scheduler.take_ready(5)
    scheduler.finish("a", NodeState.SKIPPED)  # skipped_by None: a run from before conditions
    assert scheduler.take_ready(5) == ["b"]
