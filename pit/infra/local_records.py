"""Manifests and tombstones of the local store: small JSON records, one per version, under
`<root>/<kind>/<name>/@v/<version:010d>.json`, created once and never rewritten.

`@` cannot appear in an artifact name, so `a/b`'s versions never collide with artifact `a/b/c`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pit.artifacts.names import check_artifact_name
from pit.common.errors import InvalidInputError
from pit.infra.store_tree import StoreTree

VERSIONS_DIR = "@v"


class LocalRecords:
    """One kind of record (`manifests`, `tombstones`) in a store tree. Blocking calls: the
    store runs them in a thread."""

    def __init__(self, tree: StoreTree, kind: str) -> None:
        self._tree = tree
        self._kind = kind

    def _place(self, name: str) -> tuple[str, ...]:
        return (self._kind, *check_artifact_name(name).split("/"), VERSIONS_DIR)

    def create(self, name: str, version: int, data: bytes) -> bool:
        """Write the record only if it does not exist; False if it does."""
        return self._tree.write_new(self._place(name), _leaf(version), data)

    def read(self, name: str, version: int, limit: int) -> bytes | None:
        """The record's bytes, None if there is none."""
        try:
            return self._tree.read_small(self._place(name), _leaf(version), limit)
        except FileNotFoundError:
            return None

    def versions(self, name: str) -> list[int]:
        entries = self._tree.names(self._place(name))
        return sorted(int(entry[:-5]) for entry in entries if _is_record_file(entry))

    def names(self) -> list[str]:
        """Every name with a versions directory, sorted; directories no valid name maps to
        were not written by the store and are not listed."""
        names: list[str] = []
        pending: list[tuple[str, ...]] = [()]
        while pending:
            parts = pending.pop()
            subdirs = self._tree.subdirectories((self._kind, *parts))
            if VERSIONS_DIR in subdirs and _is_artifact_name("/".join(parts)):
                names.append("/".join(parts))
            pending += ((*parts, sub) for sub in subdirs if sub != VERSIONS_DIR)
        return sorted(names)

    def delete(self, keys: Sequence[tuple[str, int]]) -> None:
        for name, version in keys:
            self._tree.unlink(self._place(name), _leaf(version))


def _is_artifact_name(name: str) -> bool:
    try:
        check_artifact_name(name)
    except InvalidInputError:
        return False
    return True


def _leaf(version: int) -> str:
    return f"{version:010d}.json"


def _is_record_file(entry: str) -> bool:
    return entry.endswith(".json") and entry[:-5].isdigit() and not entry.startswith(".")
