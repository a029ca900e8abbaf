"""The compiled DAG a run carries: it loads back to the same graph and the same node specs,
travels compressed when big, and carries across continue-as-new without growing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pit.dag.compiled import CompiledDag, compile_graph
from pit.dag.graph import parse_dag
from pit.dag.run import (
    PACK_OVER,
    STATUS_PAGE_BYTES,
    CarriedState,
    DagRunInput,
    ReusedNode,
    StatusPage,
    status_page,
)
from pit.dag.status import NodeState, NodeStatus

_NODE_EXTRAS: list[dict[str, Any]] = [
    {},
    {"timeout": "90s", "heartbeat": "5s"},
    {"retry": {"max_attempts": 7, "initial_interval": "250ms"}},
    {"on_failure": "skip"},
    {"on_failure": {"fallback": {"activity": "pit.echo", "inputs": {"why": "fallback"}}}},
    {"priority": 3, "model": "chat"},
]


@st.composite
def dag_data(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(min_value=1, max_value=25))
    nodes: list[dict[str, Any]] = []
    for i in range(count):
        parents = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        node: dict[str, Any] = {
            "id": f"n{i}",
            "activity": "pit.echo",
            **draw(st.sampled_from(_NODE_EXTRAS)),
        }
        if parents and draw(st.booleans()):
            node["inputs"] = {"got": f"${{nodes.n{parents[0]}.output}}", "i": i}
            parents = parents[1:]
        node["depends_on"] = [f"n{p}" for p in parents]
        if draw(st.integers(0, 9)) == 0:
            del node["activity"]
            node.pop("model", None)
            node["dag"] = {"name": f"child{i}", "nodes": [{"id": "x", "activity": "pit.echo"}]}
        nodes.append(node)
    order = draw(st.permutations(nodes))
    return {"name": "random", "max_parallel": 4, "nodes": list(order)}


@settings(max_examples=100, deadline=None)
@given(dag_data())
def test_a_compiled_dag_loads_back_to_the_same_graph_and_nodes(data: dict[str, Any]) -> None:
    graph = parse_dag(data)
    sent = compile_graph(graph)
    loaded = CompiledDag.model_validate_json(sent.model_dump_json())
    topology = loaded.topology
    assert topology.order == graph.order
    assert dict(topology.parents) == dict(graph.parents)
    assert dict(topology.children) == dict(graph.children)
    assert loaded.settings.parallel_limit == graph.spec.parallel_limit
    for node in graph.spec.nodes:
        again = loaded.node(node.id)
        assert again.model_dump(exclude={"depends_on", "dag"}) == node.model_dump(
            exclude={"depends_on", "dag"}
        )
        assert again.step == node.step
        child = loaded.child(node.id)
        assert (child is None) == (node.dag is None)
        if node.dag is not None and child is not None:
            assert child.ids == tuple(n.id for n in node.dag.nodes)


def test_a_child_graph_step_changes_with_anything_in_the_child() -> None:
    def child_step(value: str) -> str:
        inner = {
            "name": "c",
            "nodes": [{"id": "x", "activity": "pit.echo", "inputs": {"v": value}}],
        }
        return compile_graph(
            parse_dag({"name": "p", "nodes": [{"id": "sub", "dag": inner}]})
        ).steps[0]

    assert child_step("a") == child_step("a")
    assert child_step("a") != child_step("b")
    assert child_step("a").startswith("dag:c@sha256:")


def test_a_big_plan_travels_compressed_and_a_small_one_as_it_is() -> None:
    data = {
        "name": "big",
        "nodes": [{"id": f"n{i}", "activity": "pit.echo", "inputs": {"i": i}} for i in range(5000)],
    }
    dag = compile_graph(parse_dag(data))
    big = DagRunInput.for_plan(dag)
    assert big.dag is None and big.packed_plan is not None
    assert len(big.model_dump_json()) < 100_000  # 5,000 nodes, about 20 bytes each
    assert DagRunInput.model_validate_json(big.model_dump_json()).plan().dag == dag

    small = DagRunInput.for_plan(
        compile_graph(parse_dag({"name": "s", "nodes": data["nodes"][:3]}))
    )
    assert small.dag is not None and small.packed_plan is None
    assert len(small.model_dump_json()) < PACK_OVER


def test_where_a_claim_check_carries_big_payloads_a_big_plan_travels_as_json() -> None:
    nodes = [{"id": f"n{i}", "activity": "pit.echo", "inputs": {"i": i}} for i in range(5000)]
    dag = compile_graph(parse_dag({"name": "big", "nodes": nodes}))
    reuse = {"n1": ReusedNode(fingerprint=_print(1), output=1, run_id="r-1")}
    plain = DagRunInput.for_plan(dag, reuse, payload_limit=None)
    assert plain.packed_plan is None and plain.dag == dag and plain.reuse == reuse
    assert len(plain.model_dump_json()) > 5 * PACK_OVER  # readable, not base64
    # the run-input limit measures the compressed form either way
    packed = DagRunInput.for_plan(dag, reuse).model_copy(update={"payload_limit": None})
    assert packed.packed_plan is not None
    assert plain.packed_size() == len(packed.model_dump_json()) < PACK_OVER
    carried = CarriedState.pack(datetime(2026, 1, 1, tzinfo=UTC), {}, 0)
    after = plain.carrying(plain.plan(), carried, {"n2"})  # continue-as-new keeps the form
    assert after.packed_plan is None and after.reuse == {} and after.payload_limit is None


def _print(i: int) -> str:
    return "sha256:" + hashlib.sha256(str(i).encode()).hexdigest()


def test_continue_as_new_offers_reuse_only_to_nodes_still_pending() -> None:
    nodes = [{"id": f"n{i}", "activity": "pit.echo"} for i in range(3000)]
    dag = compile_graph(parse_dag({"name": "r", "nodes": nodes}))
    reuse = {
        f"n{i}": ReusedNode(fingerprint=_print(i), output=i, run_id="r-1") for i in range(3000)
    }
    first = DagRunInput.for_plan(dag, reuse, resumed_from="r-1", continue_after_events=99)
    assert first.packed_plan is not None  # 3,000 fingerprints do not travel uncompressed
    carried = CarriedState.pack(datetime(2026, 1, 1, tzinfo=UTC), {}, 0)
    pending = {f"n{i}" for i in range(2000, 3000)}
    second = DagRunInput.model_validate_json(
        first.carrying(first.plan(), carried, pending).model_dump_json()
    )
    assert second.plan().dag == dag
    assert set(second.plan().reuse) == pending
    assert (second.resumed_from, second.continue_after_events) == ("r-1", 99)
    assert second.carried == carried
    unchanged = first.carrying(first.plan(), carried, set(reuse))
    assert unchanged.packed_plan == first.packed_plan  # nothing to drop: not packed again


def test_carried_state_round_trips() -> None:
    nodes = {
        f"n{i}": NodeStatus(
            state=NodeState.SUCCEEDED, output={"i": i}, attempts=1, fingerprint=_print(i)
        )
        for i in range(5000)
    }
    carried = CarriedState.model_validate_json(
        CarriedState.pack(datetime(2026, 1, 1, tzinfo=UTC), nodes, 3).model_dump_json()
    )
    assert carried.nodes() == nodes
    assert carried.progress_marks == 3


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 700_000), min_size=1, max_size=40), st.integers(1, 50))
def test_status_pages_cover_every_node_once_within_the_byte_limit(
    output_sizes: list[int], limit: int
) -> None:
    nodes = {f"n{i}": NodeStatus(output="x" * size) for i, size in enumerate(output_sizes)}
    seen: list[str] = []
    while len(seen) < len(nodes):
        page = status_page(nodes, StatusPage(offset=len(seen), limit=limit))
        assert 1 <= len(page) <= limit
        if len(page) > 1:
            assert sum(len(s.model_dump_json()) for s in page.values()) <= STATUS_PAGE_BYTES
        seen += page
    assert seen == list(nodes)
