"""Graph rendering: golden Mermaid and DOT text for a file and for a run's states, with ids
that are keywords or edge markers in either language; Graphviz parses what we print."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pit.dag.compiled import compile_graph
from pit.dag.graph import Graph, parse_dag
from pit.dag.render import render
from pit.dag.status import ItemCounts, NodeState, NodeStatus

GOLDEN = Path(__file__).parent / "golden"
AWKWARD_IDS = ["end", "graph", "o", "x", "-", "_", "1", "A-B", "subgraph", "node", "edge",
               "class", "style", "click", "default", "strict", "digraph"]  # fmt: skip


def awkward_graph() -> Graph:
    nodes = [
        {"id": "list", "activity": "pit.shell", "inputs": {"command": "git diff --name-only"}},
        {
            "id": "review",
            "activity": "pit.echo",
            "for_each": "${nodes.list.output.files}",
            "inputs": {"file": "${item}"},
            "when": '${item} != "a<b>&#`"',
            "max_parallel": 4,
        },
        {"id": "gate", "approval": {"prompt": "Merge?"}, "depends_on": ["review"]},
        {
            "id": "sub",
            "dag": {"name": "inner", "nodes": [{"id": "x", "activity": "pit.echo"}]},
            "depends_on": ["gate"],
            "trigger": "all_done",
        },
        *({"id": i, "activity": "my:act-x", "depends_on": ["sub"]} for i in AWKWARD_IDS),
    ]
    return parse_dag({"name": "we.ird:name@1", "nodes": nodes})


def run_states(graph: Graph) -> dict[str, NodeStatus]:
    states = {n: NodeStatus(state=NodeState.SUCCEEDED) for n in graph.order}
    states["review"] = NodeStatus(
        state=NodeState.RUNNING,
        items=ItemCounts(total=12, succeeded=9, running=2, failed=1, cached=3),
    )
    states["end"] = NodeStatus(state=NodeState.SUCCEEDED, cached_from="review-1")
    states["o"] = NodeStatus(state=NodeState.SKIPPED)
    states["x"] = NodeStatus(state=NodeState.UPSTREAM_FAILED)
    return states


@pytest.mark.parametrize(
    ("fmt", "with_states", "golden"),
    [
        ("mermaid", False, "file.mmd"),
        ("mermaid", True, "run.mmd"),
        ("dot", False, "file.dot"),
        ("dot", True, "run.dot"),
    ],
)
def test_rendering_matches_the_golden_text(fmt: str, with_states: bool, golden: str) -> None:
    graph = awkward_graph()
    states = run_states(graph) if with_states else None
    text = render(graph, states, fmt)  # type: ignore[arg-type]
    assert text == (GOLDEN / golden).read_text()
    assert render(compile_graph(graph), states, fmt) == text  # type: ignore[arg-type]


def test_mermaid_node_ids_are_generated_and_real_ids_only_appear_quoted() -> None:
    text = render(awkward_graph(), format="mermaid")
    lines = text.splitlines()[1:]
    for line in lines:
        assert re.fullmatch(r"  n\d+(\[|\{\{|\[/|\[\[| -->| -\.->).*", line), line
    assert '["end<br/>' in text and "#quot;a#lt;b#gt;#amp;#35;#96;#quot;" in text


def test_dot_quotes_every_id_and_escapes_quotes_and_backslashes() -> None:
    graph = parse_dag({"name": "q", "nodes": [{"id": "a", "activity": "pit.echo",
                                                "when": '${inputs.x} == "\\\\ \\""'}]})  # fmt: skip
    text = render(graph, format="dot")
    assert '"a" [label="a\\npit.echo\\nwhen ${inputs.x} == \\"\\\\\\\\ \\\\\\"\\""];' in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize("with_states", [False, True])
def test_graphviz_parses_the_dot_output(with_states: bool, tmp_path: Path) -> None:
    graph = awkward_graph()
    text = render(graph, run_states(graph) if with_states else None, "dot")
    done = subprocess.run(
        ["dot", "-Tplain"], input=text, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    drawn = {
        line.split()[1].strip('"') for line in done.stdout.splitlines() if line.startswith("node ")
    }
    assert drawn == set(graph.order)
