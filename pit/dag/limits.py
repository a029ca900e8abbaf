"""The DAG Tracker's limits: how big a DAG, a node's inputs and a run's input may be, and what
names and run ids look like. All are checked before anything starts (docs/dag.md#limits); a
DAG file's own size, encoding and nesting are the reader's (`pit.common.files`)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic_core import to_json

from pit.common.errors import InvalidInputError

MAX_NODES = 20_000
"""Nodes per DAG, its child graphs' nodes included. Measured on a 2-core machine
(bench/dag_load_bench.py): a run's first workflow task (load the graph, start the first nodes)
takes 0.3 to 0.4 s at this size, against Temporal's 2 s deadlock check, and 1.3 s or more at
100,000 (starting 500 nodes, it failed the check); the state a run carries across
continue-as-new is about 1.3 MB here (Temporal's payload cap is 2 MB) and 6.6 MB at 100,000;
and a run this size finishes on the dev server in 2 to 4 minutes (tests/dag/test_big_runs.py).
Bigger work: split it into several runs."""

MAX_CHILD_DEPTH = 5
"""Child graphs (`dag:` nodes) nested at most this deep below the top graph: each level is one
more workflow in flight, and one more level of nesting in the spec to parse and check."""

MAX_NODE_INPUTS_BYTES = 64 * 1024
"""A node's literal inputs (and a fallback's), as JSON, before references are resolved. Every
input travels in the run's workflow input and in history; big data belongs in an artifact."""

MAX_RUN_INPUT_BYTES = 1536 * 1024
"""A run's workflow input as sent (the compressed DAG, `--input` values, what `resume`
reuses): under Temporal's 2 MB payload cap, with room for the state that continue-as-new
carries beside it."""

MAX_CONDITION_CHARS = 1_000
"""A `when:` expression's length. With the nesting and function limits below, this bounds
what one evaluation can cost: CEL has no loops, and the list macros (`all`, `map`, ...) are
refused, so an evaluation is linear in the expression and the values it compares."""
MAX_CONDITION_REFERENCES = 32
"""`${...}` references in one `when:`."""
MAX_CONDITION_NESTING = 12
"""Brackets nested in one `when:` (CEL's own parser stops at 32 levels of expression)."""

MAX_MAP_ITEMS = 10_000
"""Items of one map node (`for_each`), checked when its list is known: a literal list before
the run starts, a referenced list when the node starts (then the node fails, saying so). Each
item is one activity in the run's history, which continues-as-new as it grows."""

MAX_PROMPT_CHARS = 4_000
"""An approval's `prompt`, as written (references are resolved when the node starts)."""

MAX_CACHE_TTL_DAYS = 3_650
"""The longest `cache.ttl` (ten years): cached outputs are artifacts, and the Stale Manager's
policies may retire them sooner."""

MAX_NAME_CHARS = 100
MAX_RUN_ID_CHARS = 128

_NAME_CHARS = "A-Za-z0-9_.:@-"
NAME = re.compile(rf"[{_NAME_CHARS}]{{1,{MAX_NAME_CHARS}}}")
NAME_RULE = f"1 to {MAX_NAME_CHARS} characters from A-Z a-z 0-9 _ . : @ -"
"""A DAG's name: it starts the default run id and is the default arbiter tenant."""
RUN_ID = re.compile(rf"[{_NAME_CHARS}]{{1,{MAX_RUN_ID_CHARS}}}")
RUN_ID_RULE = f"1 to {MAX_RUN_ID_CHARS} characters from A-Z a-z 0-9 _ . : @ -"
_NOT_RUN_ID = re.compile(rf"[^{_NAME_CHARS}]+")


def check_run_id(value: str, field: str = "--id") -> str:
    """A run id (a workflow id) a user gives: printable, shell-safe, well under Temporal's
    1,000-byte cap even with child graphs' suffixes."""
    if RUN_ID.fullmatch(value) is None:
        raise InvalidInputError.for_field(field, value, RUN_ID_RULE)
    return value


def child_run_id(parent_id: str, node_id: str) -> str:
    """`<parent run id>.<node id>`, the run id of a child graph; when that is too long for a
    run id, its head and a digest of the whole, so every level stays a valid run id (the
    arbiter takes it as the owner of the child's grants) however deep the nesting."""
    wanted = f"{parent_id}.{node_id}"
    if len(wanted) <= MAX_RUN_ID_CHARS:
        return wanted
    digest = hashlib.sha256(wanted.encode()).hexdigest()[:16]
    return f"{wanted[: MAX_RUN_ID_CHARS - len(digest) - 1]}@{digest}"


def default_run_id(name: str, suffix: str) -> str:
    """`<name>-<suffix>`, always a valid run id (a name that breaks the rules is mended)."""
    stem = _NOT_RUN_ID.sub("-", name)[:MAX_NAME_CHARS] or "dag"
    return f"{stem}-{suffix}"


def inputs_problem(inputs: Any) -> str | None:
    """Why `inputs` (a node's or a fallback's) is too big, or None."""
    size = len(to_json(inputs))
    if size <= MAX_NODE_INPUTS_BYTES:
        return None
    return (
        f"{size_text(size)} of JSON, over the limit of {size_text(MAX_NODE_INPUTS_BYTES)} per "
        "node: store big data as an artifact (pit artifact put) and pass its reference"
    )


def shape_problems(data: Any) -> list[str]:
    """Too many nodes, or child graphs nested too deep, in raw DAG data: found before the data
    is validated, so a huge or deeply nested file costs no more than counting."""
    total = 0
    deepest: tuple[int, str] | None = None
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        graph, where, depth = stack.pop()
        nodes = graph.get("nodes") if isinstance(graph, dict) else None
        if not isinstance(nodes, list):
            continue
        total += len(nodes)
        for position, node in enumerate(nodes):
            child = node.get("dag") if isinstance(node, dict) else None
            if not isinstance(child, dict):
                continue
            field = f"{where}nodes[{position}].dag"
            if depth + 1 > MAX_CHILD_DEPTH:
                deepest = deepest or (depth + 1, field)
            else:
                stack.append((child, f"{field}.", depth + 1))
    problems = [] if deepest is None else [depth_problem(*deepest)]
    if total > MAX_NODES:
        problems.insert(0, count_problem(total))
    return problems


def count_problem(total: int) -> str:
    return (
        f"nodes: {total} nodes: over the limit of {MAX_NODES:,} per DAG (child graphs' "
        "nodes count too): split the work into several runs"
    )


def depth_problem(depth: int, field: str) -> str:
    return (
        f"{field}: a child graph {depth} levels deep: over the limit of {MAX_CHILD_DEPTH} "
        "levels of child graphs"
    )


def run_input_problem(size: int) -> str | None:
    if size <= MAX_RUN_INPUT_BYTES:
        return None
    return (
        f"the run's workflow input is {size_text(size)} (compressed), over the limit of "
        f"{size_text(MAX_RUN_INPUT_BYTES)} (Temporal caps a payload at 2 MB): fewer nodes, "
        "or keep big inputs in artifacts"
    )


def size_text(size: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"
