"""Pre-validation: every problem in a DAG file is found before anything starts."""

from __future__ import annotations

from typing import Any

import pytest

from pit.dag.graph import DagInvalidError, parse_dag


def dag(*nodes: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"name": "t", "nodes": list(nodes), **top}


def node(node_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "activity": "pit.echo", **fields}


def problems(data: dict[str, Any], known: set[str] | None = None) -> list[str]:
    with pytest.raises(DagInvalidError) as caught:
        parse_dag(data, known)
    return caught.value.problems


def test_valid_graph_orders_parents_before_children() -> None:
    graph = parse_dag(dag(node("c", depends_on=["b"]), node("b", depends_on=["a"]), node("a")))
    assert graph.order == ("a", "b", "c")
    assert graph.children["a"] == ("b",)


def test_reference_adds_the_dependency_by_itself() -> None:
    graph = parse_dag(dag(node("a"), node("b", inputs={"x": "${nodes.a.output.y}"})))
    assert graph.parents["b"] == ("a",)


def test_cycle_is_named_in_dependency_order() -> None:
    found = problems(
        dag(node("a", depends_on=["c"]), node("b", depends_on=["a"]), node("c", depends_on=["b"]))
    )
    assert found == ["nodes: cycle a -> b -> c -> a: a DAG must not have cycles"]


def test_reference_to_a_descendant_is_a_cycle() -> None:
    found = problems(dag(node("a", inputs={"x": "${nodes.b.output}"}), node("b", depends_on=["a"])))
    assert len(found) == 1 and "cycle" in found[0]


def test_self_dependency_is_refused() -> None:
    assert problems(dag(node("a", depends_on=["a"])))[0].startswith("nodes[0].depends_on: 'a'")


def test_duplicate_and_malformed_ids_and_unknown_dependencies_are_all_reported() -> None:
    found = problems(
        dag(
            node("a"),
            node("a"),
            node("b", depends_on=["ghost"]),
            node("c", inputs={"x": "${nodes.nope.output}"}),
        )
    )
    assert "nodes[1].id: 'a': duplicate of nodes[0].id" in found
    assert "nodes[2].depends_on: 'ghost': no such node" in found
    assert any(p.startswith("nodes[3].inputs.x") and "'nope'" in p for p in found)
    malformed = problems(dag(node("has space"), node("x" * 65)))
    assert [p.split(":")[0] for p in malformed] == ["nodes[0].id", "nodes[1].id"]


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("timeout", "soon", "nodes[0].timeout"),
        ("timeout", "-5s", "nodes[0].timeout"),
        ("retry", {"max_attempts": 0}, "nodes[0].retry.max_attempts"),
        ("retry", {"backoff_coefficient": 0.5}, "nodes[0].retry.backoff_coefficient"),
        ("retry", {"initial_interval": "10s", "maximum_interval": "1s"}, "nodes[0].retry"),
        ("retry", {"max_attemps": 3}, "nodes[0].retry.max_attemps"),
        ("on_failure", "explode", "nodes[0].on_failure"),
        ("on_failure", {"fallback": {}}, "nodes[0].on_failure"),
        ("colour", "red", "nodes[0].colour"),
    ],
)
def test_bad_values_name_the_field(field: str, value: Any, where: str) -> None:
    found = problems(dag(node("a", **{field: value})))
    assert found[0].startswith(where), found


def test_malformed_reference_is_refused() -> None:
    found = problems(dag(node("a"), node("b", inputs={"x": "${nodes.a.outputs}"})))
    assert found[0].startswith("nodes[1].inputs.x")


def test_unknown_activity_is_refused_when_the_client_knows_the_activities() -> None:
    data = dag(
        node("a", activity="demo.missing", on_failure={"fallback": {"activity": "demo.gone"}})
    )
    found = problems(data, known={"pit.echo"})
    assert [p.split(":")[0] for p in found] == [
        "nodes[0].activity",
        "nodes[0].on_failure.fallback.activity",
    ]
    parse_dag(data)  # without a known list (a remote cluster), names are not checked


def test_empty_graph_and_missing_name_are_refused() -> None:
    assert problems({"name": "t", "nodes": []})[0].startswith("nodes")
    assert problems({"nodes": [node("a")]})[0].startswith("name")


def test_parallel_limit_defaults_to_100_and_never_exceeds_the_engine_cap() -> None:
    assert parse_dag(dag(node("a"))).spec.parallel_limit == 100
    assert parse_dag(dag(node("a"), max_parallel=10_000)).spec.parallel_limit == 500
    assert parse_dag(dag(node("a"), max_parallel=3)).spec.parallel_limit == 3


def test_child_graph_problems_are_reported_with_their_path() -> None:
    child = {"name": "inner", "nodes": [node("x", depends_on=["y"]), node("y", depends_on=["x"])]}
    found = problems(dag(node("a"), {"id": "sub", "dag": child}))
    assert found == ["nodes[1].dag.nodes: cycle x -> y -> x: a DAG must not have cycles"]
    both = problems(
        dag({"id": "a", "activity": "pit.echo", "dag": {"name": "i", "nodes": [node("z")]}})
    )
    assert "exactly one of activity and dag" in both[0]
