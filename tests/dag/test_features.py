"""Pre-validation of maps, conditions, triggers, caches and approvals: each problem is one line
naming the node's position and the field, found before anything runs; what passes is carried
compiled, so a run reads it without checking it again."""

from __future__ import annotations

from typing import Any

import pytest

from pit.dag.compiled import NodeKind, compile_graph
from pit.dag.graph import DagInvalidError, parse_dag
from pit.dag.options import Trigger


def dag(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "t", "nodes": list(nodes)}


def node(node_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "activity": "pit.echo", **fields}


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(DagInvalidError) as caught:
        parse_dag(data)
    return caught.value.problems


@pytest.mark.parametrize(
    ("for_each", "expected"),
    [
        (5, "nodes[1].for_each: 5: for_each is a list, or exactly one ${...} reference to a list"),
        ("files", "nodes[1].for_each: 'files': for_each is a list, or exactly one ${...}"),
        ({"a": 1}, "nodes[1].for_each: {...}: for_each is a list"),
        ("${nodes.ghost.output}", "nodes[1].for_each: '${nodes.ghost.output}': no node 'ghost'"),
        ("${item}", "nodes[1].for_each: '${item}': a map's list cannot come from its own items"),
        ("${nodes.list.outputs}", "nodes[1].for_each: '${nodes.list.outputs}': a reference is"),
        (list(range(10_001)), "nodes[1].for_each: [...]: 10001 items, over the limit of 10,000"),
    ],
)
def test_a_for_each_that_is_not_a_list_or_a_list_reference_is_refused(
    for_each: Any, expected: str
) -> None:
    found = problems(dag(node("list"), node("review", for_each=for_each)))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_map_node_depends_on_the_node_its_list_comes_from() -> None:
    graph = parse_dag(
        dag(
            node("review", for_each="${nodes.list.output.files}", inputs={"f": "${item}"}),
            node("list"),
        )
    )
    assert graph.parents["review"] == ("list",)
    assert graph.order == ("list", "review")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"inputs": {"f": "${item.path}"}}, "nodes[0].inputs.f: '${item.path}': ${item} and"),
        ({"inputs": {"n": "at ${index}"}}, "nodes[0].inputs.n: '${index}': ${item} and ${index}"),
        ({"when": "${index} > 2"}, "nodes[0].when: '${index}': ${item} and ${index} are defined"),
        (
            {"on_failure": {"fallback": {"activity": "pit.echo", "inputs": {"x": "${item}"}}}},
            "nodes[0].on_failure.fallback.inputs.x: '${item}'",
        ),
        ({"max_parallel": 3}, "nodes[0].max_parallel: 3: caps a map node's items in flight"),
    ],
)
def test_item_references_and_max_parallel_need_a_map_node(
    fields: dict[str, Any], expected: str
) -> None:
    found = problems(dag(node("a", **fields)))
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("${nodes.check.output.kind} == 'python' &&& true", "column 42: syntax error"),
        ("${nodes.check.output.kind} ==", "column 30: syntax error: mismatched input '<EOF>'"),
        ("nodes.check.output.kind == 'x'", "unknown name 'nodes.check.output.kind': write it as"),
        ("${nodes.ghost.output} == 1", "'${nodes.ghost.output}': no node 'ghost'"),
        ("${nodes.check.output}.all(x, x > 1)", "column 23: no function 'all' here (allowed:"),
        ("'${nodes.check.output}' == 'x'", "column 2: a reference stands for its value"),
        ("size(${nodes.check.output}) + 1", "a condition is true or false, this gives int"),
        ("1 + 'a' == 2", "column 3: found no matching overload for '_+_'"),
        ("(" * 13 + "true" + ")" * 13, "column 13: nested over 12 levels deep"),
        ("true ||" + " true ||" * 200 + " true", "String should have at most 1000 characters"),
        ("true &&\n  ${nodes.check.output} =", "line 2, column 25: syntax error"),
    ],
)
def test_a_bad_when_is_one_line_naming_the_node_and_the_position(when: str, expected: str) -> None:
    found = problems(dag(node("check"), node("gate", when=when)))
    assert len(found) == 1, found
    assert found[0].startswith("nodes[1].when: ") and expected in found[0], found


def test_a_when_is_checked_once_and_carried_compiled_with_its_dependency() -> None:
    when = "${nodes.check.output.kind} == 'python' && ${nodes.check.output.lines} > 100"
    graph = parse_dag(dag(node("check"), node("review", when=when)))
    assert graph.parents["review"] == ("check",)
    compiled = compile_graph(graph)
    condition = compiled.condition("review")
    assert condition is not None and condition.text == when
    assert condition.references == ("nodes.check.output.kind", "nodes.check.output.lines")
    assert compiled.condition("check") is None
    assert compiled.node("review").when == when


def test_a_per_item_condition_is_allowed_in_a_map_node() -> None:
    graph = parse_dag(
        dag(node("review", for_each=["a.py", "b.md"], when="${item}.endsWith('.py')"))
    )
    condition = graph.conditions["review"]
    assert condition.per_item


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"activity": "pit.echo"}, "nodes[0].activity: 'pit.echo': an approval node runs nothing"),
        ({"model": "chat"}, "nodes[0].model: 'chat': an approval node runs nothing"),
        ({"for_each": [1, 2]}, "nodes[0].for_each: [...]: an approval node runs nothing"),
        ({"cache": {"ttl": "1d"}}, "nodes[0].cache: {...}: an approval is never cached"),
        ({"approval": {"prompt": ""}}, "nodes[0].approval.prompt: '': String should have at"),
        ({"approval": {"prompt": "ok", "timeout": "0s"}}, "nodes[0].approval.timeout: '0s'"),
        ({"approval": {"prompt": "${nodes.x.output}"}}, "nodes[0].approval.prompt: "),
    ],
)
def test_an_approval_node_runs_nothing(fields: dict[str, Any], expected: str) -> None:
    found = problems(dag({"id": "gate", "approval": {"prompt": "Ship it?"}, **fields}))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_an_approval_prompt_may_refer_to_upstream_outputs() -> None:
    graph = parse_dag(
        dag(
            node("review"),
            {"id": "gate", "approval": {"prompt": "Merge? ${nodes.review.output.summary}"}},
        )
    )
    assert graph.parents["gate"] == ("review",)
    compiled = compile_graph(graph)
    assert compiled.kind("gate") is NodeKind.APPROVAL
    assert compiled.node("gate").approval.timeout.days == 7


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"cache": {"ttl": "0s"}}, "nodes[0].cache.ttl: '0s': must be more than 0s"),
        ({"cache": {"ttl": "3651d"}}, "nodes[0].cache.ttl: '3651d': must be more than 0s"),
        ({"cache": {"ttl": "1d", "ttl2": 1}}, "nodes[0].cache.ttl2: 1: unknown key"),
        (
            {"inputs": {"a": 1, "b": 2}, "cache": {"ttl": "1d", "key": ["a", "c"]}},
            "nodes[0].cache.key[1]: 'c': not an input of this node (inputs: a, b)",
        ),
        (
            {"inputs": "${inputs.all}", "cache": {"ttl": "1d", "key": ["a"]}},
            "nodes[0].cache.key: ['a']: this node's inputs are one reference",
        ),
    ],
)
def test_bad_cache_sections_are_refused(fields: dict[str, Any], expected: str) -> None:
    found = problems(dag(node("a", **fields)))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_cache_goes_on_activity_nodes_not_child_graphs() -> None:
    child = {"name": "inner", "nodes": [node("x")]}
    found = problems(dag({"id": "sub", "dag": child, "cache": {"ttl": "1d"}}))
    assert found == [
        "nodes[0].cache: {...}: goes on an activity node (give the child graph's nodes their "
        "own cache)"
    ]


def test_a_bad_trigger_names_the_choices() -> None:
    found = problems(dag(node("a", trigger="sometimes")))
    assert found == [
        "nodes[0].trigger: 'sometimes': Input should be 'all_succeeded', 'any_succeeded' or "
        "'all_done'"
    ]


def test_the_compiled_form_carries_triggers_and_kinds_and_nothing_new_for_old_files() -> None:
    plain = compile_graph(parse_dag(dag(node("a"), node("b", depends_on=["a"]))))
    dumped = plain.model_dump(exclude_defaults=True)
    assert not {"conditions", "triggers", "kinds"} & set(dumped)
    assert "trigger" not in plain.nodes[1]  # a default stays out of the node's text
    featured = compile_graph(
        parse_dag(
            dag(
                node("a", for_each=[1, 2], max_parallel=2),
                node("b", depends_on=["a"], trigger="all_done", cache={"ttl": "7d"}),
            )
        )
    )
    assert featured.trigger_of == {"b": Trigger.ALL_DONE}
    assert featured.kind("a") is NodeKind.MAP and featured.kind("b") is None
    assert featured.node("b").cache.ttl.days == 7
    assert featured.node("a").max_parallel == 2


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"when": "${nodes.a.output} == 1"}, "nodes[0].when: '${nodes.a.output}': a node cannot"),
        ({"for_each": "${nodes.a.output}"}, "nodes[0].for_each: '${nodes.a.output}': a node"),
    ],
)
def test_a_node_cannot_refer_to_itself_in_when_or_for_each(
    fields: dict[str, Any], expected: str
) -> None:
    found = problems(dag(node("a", **fields)))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_map_over_a_child_graph_is_refused() -> None:
    child = {"name": "inner", "nodes": [node("x")]}
    found = problems(dag({"id": "sub", "dag": child, "for_each": [1, 2]}))
    assert found == [
        "nodes[0].for_each: [...]: a map runs an activity per item; a child graph per item is "
        "not supported"
    ]
