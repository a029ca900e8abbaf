"""The docs/dag.md examples (YAML blocks starting `# example: NAME`) pass pre-validation, and
run as documented through the pure layer wired the way the workflow will wire it, with
`pit.echo` (returns its inputs) as every activity. The graph shown in the docs is what
`render` prints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pit.dag.compiled import CompiledDag, NodeKind, compile_graph
from pit.dag.dispatch import Dispatcher
from pit.dag.expressions import condition_values, evaluate
from pit.dag.graph import parse_dag
from pit.dag.mapping import resolve_items
from pit.dag.refs import ItemScope, resolve
from pit.dag.render import render
from pit.dag.scheduler import Scheduler
from pit.dag.status import ItemCounts, NodeState, NodeStatus, SkipCause

DOCS = Path(__file__).parents[2] / "docs" / "dag.md"


def examples() -> dict[str, dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(# example: ([\w-]+)\n.*?)```", DOCS.read_text(), re.S)
    return {name: yaml.safe_load(text) for text, name in blocks}


def echo_run(dag: CompiledDag, run_inputs: dict[str, Any]) -> dict[str, NodeStatus]:
    """Every node and item runs `pit.echo` at once; conditions, maps and triggers as the
    workflow will apply them (approvals: approved)."""
    nodes = {n: NodeStatus() for n in dag.ids}
    outputs = {n: s.output for n, s in nodes.items() if s.state.finished}
    kinds = {dag.ids[i]: kind for i, kind in dag.kinds.items()}
    dispatch = Dispatcher(Scheduler(dag.topology, nodes, dag.trigger_of), kinds, 100)
    lists: dict[str, list[Any]] = {}
    while works := dispatch.take():
        for work in works:
            spec = dag.node(work.node_id)
            condition = dag.condition(work.node_id)
            item = (
                None
                if work.index is None
                else ItemScope(lists[work.node_id][work.index], work.index)
            )
            if condition is not None and (work.index is not None) == condition.per_item:
                values = condition_values(condition, outputs, run_inputs, "when", item)
                if not evaluate(condition, values, "when"):
                    if work.index is None:
                        dispatch.scheduler.skip(work.node_id, SkipCause.CONDITION, "when false")
                    else:
                        dispatch.maps[work.node_id].skip(work.index, SkipCause.CONDITION, "no")
                        done = dispatch.maps[work.node_id]
                        if done.finished:
                            _end_map(dispatch, nodes, outputs, work.node_id)
                    continue
            if kinds.get(work.node_id) is NodeKind.MAP and work.index is None:
                lists[work.node_id] = resolve_items(spec.for_each, outputs, run_inputs, "for_each")
                dispatch.expand(work.node_id, len(lists[work.node_id]), spec.max_parallel)
                if dispatch.maps[work.node_id].finished:
                    _end_map(dispatch, nodes, outputs, work.node_id)
                continue
            output = (
                {"approved": True}
                if spec.approval is not None
                else resolve(spec.inputs, outputs, run_inputs, "inputs", item)
            )
            if work.index is None:
                nodes[work.node_id].output = outputs[work.node_id] = output
                dispatch.finish(work.node_id, NodeState.SUCCEEDED)
            else:
                dispatch.maps[work.node_id].items[work.index].output = output
                if dispatch.finish_item(work.node_id, work.index, NodeState.SUCCEEDED):
                    _end_map(dispatch, nodes, outputs, work.node_id)
    assert dispatch.finished
    return nodes


def _end_map(dispatch: Dispatcher, nodes: dict, outputs: dict, node_id: str) -> None:
    items = dispatch.maps[node_id]
    nodes[node_id].output = outputs[node_id] = items.output()
    nodes[node_id].items = items.item_counts()
    dispatch.finish(node_id, items.outcome())


def states(nodes: dict[str, NodeStatus]) -> dict[str, str]:
    return {n: s.state.value for n, s in nodes.items()}


def test_every_marked_example_passes_pre_validation() -> None:
    found = examples()
    assert set(found) == {"map-review", "when", "triggers", "cache", "approval"}
    for name, data in found.items():
        assert parse_dag(data).spec.name == name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("map-review", {"list": "succeeded", "review": "succeeded", "first": "succeeded"}),
        ("when", {"check": "succeeded", "expensive": "succeeded", "cheap": "skipped"}),
        (
            "triggers",
            {"probe": "succeeded", "deploy": "skipped", "notify": "skipped", "report": "succeeded"},
        ),
        ("approval", {"build": "succeeded", "ship": "succeeded", "release": "succeeded"}),
        ("cache", {"review": "succeeded"}),
    ],
)
def test_the_examples_end_as_documented(name: str, expected: dict[str, str]) -> None:
    dag = compile_graph(parse_dag(examples()[name]))
    nodes = echo_run(dag, {"request": "r-1"})
    assert states(nodes) == expected


def test_the_map_example_lists_item_outputs_in_order_and_indexes_into_them() -> None:
    nodes = echo_run(compile_graph(parse_dag(examples()["map-review"])), {})
    assert nodes["review"].output == [
        {"file": "a.py", "position": 0},
        {"file": "b.md", "position": 1},
        {"file": "c.py", "position": 2},
    ]
    assert nodes["review"].items == ItemCounts(total=3, succeeded=3)
    assert nodes["first"].output == {"score": "a.py"}


def test_a_per_item_condition_leaves_null_for_the_items_it_skips() -> None:
    data = examples()["map-review"]
    data["nodes"][1]["when"] = "${item}.endsWith('.py')"
    nodes = echo_run(compile_graph(parse_dag(data)), {})
    assert [o and o["file"] for o in nodes["review"].output] == ["a.py", None, "c.py"]
    assert nodes["review"].items == ItemCounts(total=3, succeeded=2, skipped=1)


def test_the_graph_in_the_docs_is_what_render_prints() -> None:
    shown = re.search(r"```mermaid\n(.*?)```", DOCS.read_text(), re.S)
    assert shown is not None
    graph = parse_dag(
        {
            "name": "docs",
            "nodes": [
                {"id": "list", "activity": "pit.shell"},
                {"id": "review", "activity": "pit.echo", "for_each": "${nodes.list.output}"},
                {"id": "ship", "approval": {"prompt": "Ship?"}, "depends_on": ["review"]},
            ],
        }
    )
    statuses = {
        "list": NodeStatus(state=NodeState.SUCCEEDED),
        "review": NodeStatus(
            state=NodeState.RUNNING,
            items=ItemCounts(total=12, succeeded=9, running=2, failed=1),
        ),
        "ship": NodeStatus(),
    }
    assert render(graph, statuses, "mermaid") == shown.group(1)
