"""Copy the parts of the OpenSearch API specification the contract tests use into `spec/`.

Run once when the adapter starts using another endpoint:

    python -m tests.contract.vendor_spec /path/to/opensearch-api-spec

It keeps the chosen operations and everything they reference (parameters, request bodies,
responses, schemas, transitively), in the same file layout, so every `$ref` still resolves.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

HERE = Path(__file__).parent / "spec"

OPERATIONS: dict[str, dict[str, list[str]]] = {
    "namespaces/_core.yaml": {
        "/_bulk": ["post"],
        "/{index}/_doc": ["post"],
        "/{index}/_doc/{id}": ["put", "delete"],
        "/{index}/_search": ["post"],
    },
    "namespaces/indices.yaml": {"/{index}": ["head", "put", "delete"]},
}
"""Every (path, method) the OpenSearch adapter sends, by the spec file that declares it."""

WHOLE_FILES = ["_global_parameters.yaml"]


def vendor(source: Path, target: Path) -> None:
    docs: dict[str, Any] = {}

    def load(name: str) -> Any:
        if name not in docs:
            docs[name] = yaml.safe_load((source / "spec" / name).read_text())
        return docs[name]

    kept: dict[str, set[tuple[str, ...]]] = {}
    pending: list[tuple[str, tuple[str, ...]]] = []
    for name, paths in OPERATIONS.items():
        for path, methods in paths.items():
            for method in methods:
                pending.append((name, ("paths", path, method)))
    while pending:
        name, pointer = pending.pop()
        if pointer in kept.setdefault(name, set()):
            continue
        kept[name].add(pointer)
        node = load(name)
        for part in pointer:
            node = node[part]
        for ref in _refs(node):
            file_part, _, fragment = ref.partition("#")
            ref_name = str(PurePosixPath(name).parent.joinpath(file_part)) if file_part else name
            ref_name = _normalise(ref_name)
            parts = tuple(part for part in fragment.split("/") if part)
            pending.append((ref_name, parts[:3] if parts[0] == "components" else parts))

    if target.exists():
        shutil.rmtree(target)
    for name, pointers in kept.items():
        full = load(name)
        trimmed: dict[str, Any] = {key: full[key] for key in ("openapi", "info") if key in full}
        for pointer in sorted(pointers):
            src, dst = full, trimmed
            for part in pointer[:-1]:
                src = src[part]
                dst = dst.setdefault(part, {})
            dst[pointer[-1]] = src[pointer[-1]]
        out = target / name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(trimmed, sort_keys=False, allow_unicode=True))
    for name in WHOLE_FILES:
        shutil.copy(source / "spec" / name, target / name)
    for name in ("LICENSE.txt", "NOTICE.txt"):
        shutil.copy(source / name, target / name)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for value in node.values():
            found.extend(_refs(value))
        return found
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _normalise(name: str) -> str:
    parts: list[str] = []
    for part in PurePosixPath(name).parts:
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


if __name__ == "__main__":
    vendor(Path(sys.argv[1]), HERE)
