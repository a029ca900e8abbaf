"""The record port on a local store: one file per record under `<store>/records/<key>`.

Reached through `StoreTree`, so no link inside the store is ever followed; a new record is
written in `tmp/`, fsynced and linked into place (create) or renamed over the old one
(replace), so a reader sees a whole record or none.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

from pit.artifacts.records import MAX_RECORD_BYTES, check_record_key
from pit.infra.os_errors import os_errors
from pit.infra.store_tree import StoreTree

RECORDS_DIR = "records"


class LocalRecords:
    """`RecordStore` in the directory of a local store (safe for many processes)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = (root / RECORDS_DIR).as_uri() if root.is_absolute() else str(root / RECORDS_DIR)
        self._tree = StoreTree(root)

    def _place(self, key: str) -> tuple[tuple[str, ...], str]:
        *parts, leaf = check_record_key(key).split("/")
        return (RECORDS_DIR, *parts), leaf

    def _io(self, key: str, what: str) -> contextlib.AbstractContextManager[None]:
        return os_errors(str(self.root / RECORDS_DIR / key), what)

    async def create_record(self, key: str, data: bytes, *, durable: bool = True) -> bool:
        parts, leaf = self._place(key)
        with self._io(key, "write record"):
            return await asyncio.to_thread(
                lambda: self._tree.write_new(parts, leaf, data, durable=durable)
            )

    async def replace_record(self, key: str, data: bytes) -> None:
        parts, leaf = self._place(key)
        with self._io(key, "write record"):
            await asyncio.to_thread(self._replace, parts, leaf, data)

    def _replace(self, parts: tuple[str, ...], leaf: str, data: bytes) -> None:
        handle, temp = self._tree.new_temp("record.")
        published = False
        try:
            with handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            published = self._tree.publish(temp, parts, leaf)
        finally:
            if not published:
                self._tree.discard_temp(temp)

    async def read_record(self, key: str) -> bytes | None:
        parts, leaf = self._place(key)
        with self._io(key, "read record"):
            return await asyncio.to_thread(self._read, parts, leaf)

    def _read(self, parts: tuple[str, ...], leaf: str) -> bytes | None:
        try:
            return self._tree.read_small(parts, leaf, MAX_RECORD_BYTES)
        except FileNotFoundError:
            return None

    async def list_records(self, prefix: str, *, after: str = "") -> AsyncIterator[str]:
        check_record_key(prefix, "prefix")
        with self._io(prefix, "list records"):
            found = await asyncio.to_thread(lambda: list(self._walk(prefix.rstrip("/"), after)))
        for key in found:
            yield key

    def _walk(self, directory: str, after: str) -> Iterator[str]:
        """Keys under `directory` greater than `after`, in order; a subdirectory whose every
        key sorts at or before `after` is never opened (a link among them is refused)."""
        parts = (RECORDS_DIR, *directory.split("/"))
        subdirectories = set(self._tree.subdirectories(parts))
        # in key order, as S3 lists: a directory sorts as its name followed by "/"
        names = sorted(self._tree.names(parts), key=lambda n: n + "/" * (n in subdirectories))
        for name in names:
            key = f"{directory}/{name}"
            if name in subdirectories:
                if key > after or after.startswith(key + "/"):
                    yield from self._walk(key, after)
            elif key > after and not name.startswith("."):
                yield key

    async def delete_records(self, keys: Sequence[str]) -> None:
        places = [self._place(key) for key in keys]
        with self._io(keys[0] if keys else "", "delete records"):
            await asyncio.to_thread(lambda: [self._tree.unlink(*place) for place in places])

    async def close(self) -> None:
        return None
