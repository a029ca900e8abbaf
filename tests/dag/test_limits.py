"""Every DAG limit is enforced before anything starts, with one line that names it."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pit.client.runs import prepare_run
from pit.common.errors import InvalidInputError
from pit.dag.compiled import compile_graph
from pit.dag.graph import DagInvalidError, check_graph, parse_dag
from pit.dag.limits import (
    MAX_CHILD_DEPTH,
    MAX_NODE_INPUTS_BYTES,
    MAX_NODES,
    RUN_ID,
    check_run_id,
    child_run_id,
    default_run_id,
)
from pit.dag.spec import DagSpec


def flat(count: int, name: str = "flat") -> dict[str, Any]:
    return {"name": name, "nodes": [{"id": f"n{i}", "activity": "pit.echo"} for i in range(count)]}


def nested(levels: int) -> dict[str, Any]:
    """A graph whose one node holds a child graph, `levels` deep."""
    graph: dict[str, Any] = {"name": "leaf", "nodes": [{"id": "x", "activity": "pit.echo"}]}
    for level in range(levels):
        graph = {"name": f"level{level}", "nodes": [{"id": "sub", "dag": graph}]}
    return graph


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(DagInvalidError) as caught:
        parse_dag(data)
    return caught.value.problems


def test_a_dag_over_the_node_limit_is_refused_naming_the_limit() -> None:
    assert problems(flat(100_000)) == [
        "nodes: 100000 nodes: over the limit of 20,000 per DAG (child graphs' nodes count "
        "too): split the work into several runs"
    ]
    assert parse_dag(flat(MAX_NODES)).size == MAX_NODES


def test_child_graph_nodes_count_toward_the_limit() -> None:
    half = MAX_NODES // 2
    data = flat(half)
    data["nodes"].append({"id": "sub", "dag": flat(MAX_NODES - half, "child")})
    found = problems(data)
    assert len(found) == 1 and f"{MAX_NODES + 1} nodes" in found[0]
    data["nodes"][-1]["dag"]["nodes"].pop()
    assert parse_dag(data).size == half + 1


def test_the_same_limits_hold_for_a_spec_built_in_python() -> None:
    spec = DagSpec.model_validate(flat(MAX_NODES + 1))  # bypasses the check on raw data
    with pytest.raises(DagInvalidError, match="over the limit of 20,000"):
        check_graph(spec)
    deep = DagSpec.model_validate(nested(MAX_CHILD_DEPTH + 1))
    with pytest.raises(DagInvalidError, match="6 levels deep: over the limit of 5"):
        check_graph(deep)


def test_child_graphs_nested_too_deep_are_refused_with_the_path() -> None:
    assert parse_dag(nested(MAX_CHILD_DEPTH)).subgraphs["sub"] is not None
    path = ".".join(["nodes[0].dag"] * (MAX_CHILD_DEPTH + 1))
    assert problems(nested(MAX_CHILD_DEPTH + 1)) == [
        f"{path}: a child graph 6 levels deep: over the limit of 5 levels of child graphs"
    ]
    # a pathological depth costs counting, not recursion
    assert "over the limit of 5" in problems(nested(5000))[0]


def test_node_inputs_over_the_limit_are_refused_and_point_to_artifacts() -> None:
    big = "x" * MAX_NODE_INPUTS_BYTES
    data = flat(2)
    data["nodes"][1]["inputs"] = {"text": big}
    data["nodes"][0]["on_failure"] = {"fallback": {"activity": "pit.echo", "inputs": {"t": big}}}
    found = problems(data)
    assert [line.split(":")[0] for line in found] == [
        "nodes[0].on_failure.fallback.inputs",
        "nodes[1].inputs",
    ]
    assert all("64.0 KiB of JSON, over the limit of 64 KiB per node" in line for line in found)
    assert all("artifact" in line for line in found)
    data["nodes"][1]["inputs"] = {"text": big[:60_000]}
    del data["nodes"][0]["on_failure"]
    parse_dag(data)


@pytest.mark.parametrize(
    "name",
    ["a\x00b", "two\nlines", "tab\there", "has space", "x" * 101, "", "ünïcode", "\u202eevil"],
)
def test_dag_names_are_printable_identifiers(name: str) -> None:
    found = problems({"name": name, "nodes": [{"id": "a", "activity": "pit.echo"}]})
    assert len(found) == 1
    assert found[0].startswith("name: ") and "1 to 100 characters from" in found[0]
    assert found[0].isprintable()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_a_run_id_is_accepted_only_by_the_rule_and_refused_in_one_printable_line(
    value: str,
) -> None:
    try:
        assert check_run_id(value, "--id") == value
    except InvalidInputError as error:
        assert RUN_ID.fullmatch(value) is None
        assert error.message.startswith("--id: ") and "1 to 128 characters" in error.message
        assert error.message.isprintable()
    else:
        assert RUN_ID.fullmatch(value) is not None and len(value.encode()) <= 128


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_a_default_run_id_is_always_a_valid_run_id(name: str) -> None:
    check_run_id(default_run_id(name, "1a2b3c4d"))


@settings(max_examples=300, deadline=None)
@given(st.from_regex(RUN_ID, fullmatch=True), st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True))
def test_a_child_run_id_is_a_valid_run_id_at_any_depth(parent: str, node: str) -> None:
    child = child_run_id(parent, node)
    assert check_run_id(child) == child_run_id(parent, node)  # valid, and the same every time
    if len(parent) + 1 + len(node) <= 128:
        assert child == f"{parent}.{node}"
    else:
        assert child != child_run_id(parent, node + "x")
    deep = parent
    for _ in range(MAX_CHILD_DEPTH):
        deep = check_run_id(child_run_id(deep, node))


def test_a_2000_character_run_id_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"^--id: 'xxx.*\(2002 characters\): 1 to 128"):
        check_run_id("x" * 2000)


def test_tenants_and_resource_names_follow_the_arbiters_rules_before_the_run() -> None:
    data = {
        "name": "gpu",
        "arbiter": {"domain": "gpus"},
        "nodes": [
            {"id": "a", "activity": "x", "resources": {"gpu mem": "1GiB"}},
            {"id": "b", "activity": "x", "resources": {"gpu": 0}},
            {"id": "c", "activity": "x", "resources": {"gpu": 1}, "tenant": "team\nred"},
        ],
    }
    found = problems(data)
    assert [line.split(":")[0] for line in found] == [
        "nodes[0].resources",
        "nodes[1].resources",
        "nodes[2].tenant",
    ]
    assert all(line.isprintable() for line in found)


def test_a_run_input_too_big_to_send_is_refused_naming_the_limit() -> None:
    dag = compile_graph(parse_dag(flat(3)))
    noise = os.urandom(1_200_000).hex()  # incompressible, as --input values may be
    with pytest.raises(InvalidInputError) as caught:
        prepare_run(dag, run_inputs={"blob": noise})
    message = caught.value.message
    assert message.startswith("dag: 'flat': the run's workflow input is ")
    assert "over the limit of 1.5 MiB (Temporal caps a payload at 2 MB)" in message
    prepare_run(dag, run_inputs={"blob": noise[:100_000]})
