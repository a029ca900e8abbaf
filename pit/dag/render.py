"""A DAG as a Mermaid flowchart or a Graphviz digraph: for a file, or for a run with each
node's state (and a map's item counts). Pure and deterministic: nodes in file order, edges in
each node's parent order, so the same graph and states always print the same text.

Mermaid: every node gets a generated id (`n0`, `n1`, ...) and its real id in a quoted label,
so ids such as `end`, `graph` or `o` (words or edge markers to Mermaid) cannot break the
chart; label text is written with Mermaid's entity codes (`#quot;`, `#35;`, ...). DOT: every
id and label is a quoted string with `"` and `\\` escaped, so keywords (`node`, `edge`,
`graph`, ...) are plain ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pit.dag.compiled import CompiledDag, NodeKind
from pit.dag.graph import Graph
from pit.dag.options import Trigger
from pit.dag.status import NodeState, NodeStatus

Format = Literal["mermaid", "dot"]
FORMATS: tuple[Format, ...] = ("mermaid", "dot")
_WHEN_SHOWN = 40

_COLOURS: dict[str, tuple[str, str]] = {
    "pending": ("#ffffff", "#868e96"),
    "running": ("#d0ebff", "#1c7ed6"),
    "succeeded": ("#d3f9d8", "#2b8a3e"),
    "cached": ("#e6fcf5", "#0ca678"),
    "failed": ("#ffe3e3", "#c92a2a"),
    "upstream_failed": ("#fff0f0", "#e03131"),
    "skipped": ("#f1f3f5", "#868e96"),
    "cancelled": ("#e9ecef", "#495057"),
}
"""Fill and stroke per shown state (`cached`: succeeded from the cache)."""


@dataclass(frozen=True)
class _Node:
    id: str
    step: str
    kind: str  # "activity", "dag", "map" or "approval"
    when: str | None
    trigger: Trigger
    parents: tuple[str, ...]


def render(
    dag: CompiledDag | Graph,
    statuses: Mapping[str, NodeStatus] | None = None,
    format: Format = "mermaid",
) -> str:
    """The graph as text in `format`; with `statuses` (a run's nodes), each node's state."""
    nodes = _nodes(dag)
    if format == "mermaid":
        return _mermaid(nodes, statuses)
    if format == "dot":
        return _dot(dag.spec.name if isinstance(dag, Graph) else dag.name, nodes, statuses)
    raise ValueError(f"format {format!r}: one of {', '.join(FORMATS)}")


def _nodes(dag: CompiledDag | Graph) -> list[_Node]:
    if isinstance(dag, Graph):
        return [
            _Node(
                node.id,
                node.step,
                "approval"
                if node.approval is not None
                else "map"
                if node.for_each is not None
                else "dag"
                if node.dag is not None
                else "activity",
                node.when,
                node.trigger,
                tuple(dag.parents[node.id]),
            )
            for node in dag.spec.nodes
        ]
    parents = dag.topology.parents
    return [
        _Node(
            node_id,
            dag.steps[i].split("@sha256:")[0],
            _compiled_kind(dag, i),
            condition.text if (condition := dag.conditions.get(i)) is not None else None,
            dag.triggers.get(i, Trigger.ALL_SUCCEEDED),
            tuple(parents[node_id]),
        )
        for i, node_id in enumerate(dag.ids)
    ]


def _compiled_kind(dag: CompiledDag, index: int) -> str:
    kind = dag.kinds.get(index)
    if kind is NodeKind.MAP:
        return "map"
    if kind is NodeKind.APPROVAL:
        return "approval"
    return "dag" if index in dag.children else "activity"


def _lines(node: _Node, status: NodeStatus | None) -> list[str]:
    """A node's label, line by line: id, what it runs, its condition and trigger, its state."""
    step = {"map": f"for each: {node.step}", "approval": "approval", "dag": node.step}
    lines = [node.id, step.get(node.kind, node.step)]
    if node.when is not None:
        when = " ".join(node.when.split())
        lines.append(
            "when " + (when if len(when) <= _WHEN_SHOWN else when[: _WHEN_SHOWN - 1] + "…")
        )
    if node.trigger is not Trigger.ALL_SUCCEEDED:
        lines.append(f"trigger: {node.trigger.value}")
    if status is not None:
        lines.append(_state_text(status))
    return lines


def _shown_state(status: NodeStatus) -> str:
    if status.state is NodeState.SUCCEEDED and status.cached_from is not None:
        return "cached"
    return status.state.value


def _state_text(status: NodeStatus) -> str:
    text = _shown_state(status)
    items = status.items
    if items is None:
        return text
    parts = [f"{items.succeeded}/{items.total} items succeeded"]
    parts += [
        f"{count} {name}"
        for name, count in (
            ("running", items.running),
            ("failed", items.failed),
            ("skipped", items.skipped),
            ("cached", items.cached),
            ("cancelled", items.cancelled),
        )
        if count
    ]
    return f"{text}: {', '.join(parts)}"


_MERMAID_SHAPES = {
    "activity": ('["', '"]'),
    "map": ('[/"', '"/]'),
    "approval": ('{{"', '"}}'),
    "dag": ('[["', '"]]'),
}


def _mermaid_text(text: str) -> str:
    """Label text with Mermaid's entity codes for what would end or change the label."""
    text = text.replace("#", "#35;")  # first: the codes below start with '#'
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text.replace("`", "#96;")


def _mermaid(nodes: list[_Node], statuses: Mapping[str, NodeStatus] | None) -> str:
    key = {node.id: f"n{i}" for i, node in enumerate(nodes)}
    out = ["flowchart TD"]
    for node in nodes:
        status = statuses.get(node.id) if statuses is not None else None
        label = "<br/>".join(_mermaid_text(line) for line in _lines(node, status))
        opening, closing = _MERMAID_SHAPES[node.kind]
        out.append(f"  {key[node.id]}{opening}{label}{closing}")
    for node in nodes:
        arrow = "-->" if node.trigger is Trigger.ALL_SUCCEEDED else "-.->"
        out += [f"  {key[parent]} {arrow} {key[node.id]}" for parent in node.parents]
    if statuses is not None:
        classes: dict[str, list[str]] = {}
        for node in nodes:
            status = statuses.get(node.id)
            if status is not None:
                classes.setdefault(_shown_state(status), []).append(key[node.id])
        for state, members in sorted(classes.items()):
            fill, stroke = _COLOURS[state]
            out.append(f"  classDef {state} fill:{fill},stroke:{stroke}")
            out.append(f"  class {','.join(members)} {state}")
    return "\n".join(out) + "\n"


_DOT_SHAPES = {"activity": "box", "map": "box3d", "approval": "hexagon", "dag": "component"}


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot(name: str, nodes: list[_Node], statuses: Mapping[str, NodeStatus] | None) -> str:
    out = [
        f"digraph {_dot_text(name)} {{",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
    ]
    for node in nodes:
        status = statuses.get(node.id) if statuses is not None else None
        label = "\\n".join(_dot_text(line)[1:-1] for line in _lines(node, status))
        attributes = [f'label="{label}"']
        if node.kind != "activity":
            attributes.append(f"shape={_DOT_SHAPES[node.kind]}")
        if status is not None:
            fill, stroke = _COLOURS[_shown_state(status)]
            attributes.append(f'fillcolor="{fill}", color="{stroke}"')
        out.append(f"  {_dot_text(node.id)} [{', '.join(attributes)}];")
    for node in nodes:
        style = "" if node.trigger is Trigger.ALL_SUCCEEDED else " [style=dashed]"
        out += [f"  {_dot_text(p)} -> {_dot_text(node.id)}{style};" for p in node.parents]
    out.append("}")
    return "\n".join(out) + "\n"
