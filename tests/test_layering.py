"""The layering of `pit/`, one way, and no import circles: read from the code's own imports
(ast), so it stays true as the code changes.

    common  <  dag, artifacts, pool, arbitration, stale (the domain)  <  infra  <  client
            <  activities  <  workflows  <  workers  <  cli

A module may import its own layer and the layers below it, never one above. The domain and
`common` import no Temporal, network or CLI library; workflows never talk to Temporal through
the client. Every import counts, also those inside functions or under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "pit"

DOMAIN = ("dag", "artifacts", "pool", "arbitration", "stale")
RANKS = {
    "common": 0,
    **dict.fromkeys(DOMAIN, 1),
    "infra": 2,
    "client": 3,
    "activities": 4,
    "workflows": 5,
    "workers": 6,
    "cli": 7,
}
TOP = 8
"""`pit/__init__.py` and `pit/__main__.py`: the package's face may reach anything."""
NOT_IN_THE_DOMAIN = ("temporalio", "aiobotocore", "botocore", "boto3", "opensearchpy", "click")
"""Third-party packages that the domain and `common` must never import."""


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> tuple[str, int]:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in RANKS:
        return parts[-1], TOP
    return parts[1], RANKS[parts[1]]


def imports_of(path: Path, module: str) -> Iterator[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, [alias.name for alias in node.names]


def import_graph(root: Path) -> tuple[dict[str, set[str]], dict[str, set[str]], set[str]]:
    """(module -> pit modules it imports, module -> third-party top packages, packages).
    A name taken from a package's `__init__` counts as an import of the submodule that
    defines it when the `__init__` re-exports it, so no circle hides behind a package."""
    files = {module_name(path, root): path for path in root.rglob("*.py")}
    packages = {name for name, path in files.items() if path.name == "__init__.py"}
    raw = {name: list(imports_of(path, name)) for name, path in files.items()}
    reexported: dict[str, dict[str, str]] = {name: {} for name in packages}
    for package in packages:
        for target, names in raw[package]:
            if target in files and target != package:
                for name in names:
                    reexported[package][name] = target
    edges: dict[str, set[str]] = {name: set() for name in files}
    third: dict[str, set[str]] = {name: set() for name in files}
    for module, found in raw.items():
        for target, names in found:
            if target.split(".")[0] != "pit":
                third[module].add(target.split(".")[0])
                continue
            for name in names or [""]:
                child = f"{target}.{name}"
                if child in files:
                    edges[module].add(child)
                elif target in packages and name in reexported[target]:
                    edges[module].add(reexported[target][name])
                elif target in files:
                    edges[module].add(target)
    for module in edges:
        edges[module].discard(module)
    return edges, third, packages


def circles(edges: dict[str, set[str]], skip: set[str]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan), `skip` left out."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node] - skip):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(set(edges) - skip):
        if node not in index:
            visit(node)
    return found


def layering_problems(root: Path) -> list[str]:
    edges, third, packages = import_graph(root)
    problems: list[str] = []
    for module in sorted(edges):
        src_layer, src_rank = layer(module)
        for target in sorted(edges[module]):
            dst_layer, dst_rank = layer(target)
            if dst_rank > src_rank:
                problems.append(f"wrong way: {module} ({src_layer}) imports {target} ({dst_layer})")
            elif src_layer == "workflows" and dst_layer == "client":
                problems.append(f"a workflow talks to Temporal: {module} imports {target}")
        if src_rank <= RANKS["stale"]:
            for package in sorted(third[module] & set(NOT_IN_THE_DOMAIN)):
                problems.append(f"{module} ({src_layer}) imports {package}")
    for group in circles(edges, packages):
        problems.append("circle: " + " -> ".join(group))
    return problems


def test_pit_is_layered_one_way_without_circles() -> None:
    assert layering_problems(ROOT) == []


def unguarded_imports(path: Path) -> list[str]:
    """The Pit modules a workflow module imports outside `imports_passed_through()`: the
    sandbox would load a second copy of each (two classes of one exception, say)."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in tree.body:  # module level only: a `with` block's imports are guarded
        module = node.module or "" if isinstance(node, ast.ImportFrom) else ""
        if module.startswith("pit.") and not module.startswith("pit.workflows"):
            found.append(f"{path.name}: from {module} import ...")
    return found


def test_workflow_modules_take_the_pits_modules_through_the_sandbox() -> None:
    problems = [
        line
        for path in sorted((ROOT / "workflows").glob("*.py"))
        if path.name != "__init__.py"
        for line in unguarded_imports(path)
    ]
    assert problems == []


def test_a_wrong_way_import_a_domain_dependency_and_a_circle_are_each_caught(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "pit"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "activities" / "sneaky.py").write_text("from pit.workflows.dag import DagWorkflow\n")
    (copy / "dag" / "sneaky.py").write_text("import temporalio.client\n")
    (copy / "pool" / "ping.py").write_text("from pit.pool.pong import PONG\nPING = 1\n")
    (copy / "pool" / "pong.py").write_text("from pit.pool.ping import PING\nPONG = 2\n")
    problems = layering_problems(copy)
    assert (
        "wrong way: pit.activities.sneaky (activities) imports pit.workflows.dag (workflows)"
        in problems
    )
    assert "pit.dag.sneaky (dag) imports temporalio" in problems
    assert "circle: pit.pool.ping -> pit.pool.pong" in problems
    assert len(problems) == 3, problems


def test_a_circle_through_a_packages_reexport_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "pit"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    # `from pit.pool import ModelPool` reaches pit.pool.pool through the package's face
    (copy / "pool" / "stats.py").write_text(
        (copy / "pool" / "stats.py").read_text() + "\nfrom pit.pool import ModelPool\n"
    )
    assert any(p.startswith("circle: ") and "pit.pool.stats" in p for p in layering_problems(copy))
