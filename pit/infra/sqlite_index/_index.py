"""`SqliteIndex`: the embedded search index, one SQLite file with FTS5, WAL mode."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pit.artifacts.index_port import AccessStats, IndexDocument, SearchHit, SearchQuery
from pit.artifacts.index_query import from_micros, meta_slots, parse_query, to_micros
from pit.common.errors import BackendUnavailableError, CapacityError, ConfigError, PitError
from pit.infra.sqlite_index._schema import connect
from pit.infra.sqlite_index._sql import search_statement, snippet_statement

T = TypeVar("T")

_INSERT_DOC = (
    "INSERT INTO documents (name, version, digest, size, media_type, created_us, body,"
    " metadata, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class SqliteIndex:
    """The `SearchIndex` port on a SQLite file: FTS5 bm25 ranking, typed metadata filters.

    One connection per instance, used by one worker thread at a time (each call runs in
    `asyncio.to_thread`, so the event loop never waits on disk). Several processes may open
    the same file: WAL mode lets readers run beside the one writer, and writers wait for
    each other (busy timeout) instead of failing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._conn = connect(path)
        except sqlite3.Error as exc:
            raise _index_error(exc, path, "cannot be opened: ") from exc
        self._lock = threading.Lock()

    async def index(self, document: IndexDocument) -> None:
        """Add or replace the document for (name, version)."""
        await self.index_many([document])

    async def index_many(self, documents: Iterable[IndexDocument]) -> None:
        """Add or replace many documents in one transaction (what a reindex uses)."""
        batch = list(documents)
        await self._call(lambda conn: self._write(conn, lambda: _insert_all(conn, batch)))

    async def remove(self, name: str, version: int) -> None:
        """Forget (name, version); a missing one is not an error."""
        sql = "DELETE FROM documents WHERE name = ? AND version = ?"
        await self._call(lambda conn: self._write(conn, lambda: conn.execute(sql, (name, version))))

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        """Ranked hits, best first; ties broken by name then version (descending)."""
        parsed = parse_query(query)

        def run(conn: sqlite3.Connection) -> list[SearchHit]:
            statement = search_statement(parsed)
            rows = conn.execute(statement.sql, statement.params).fetchall()
            snippets: dict[int, str] = {}
            if parsed.terms and rows:
                snip = snippet_statement(parsed.terms, [row[0] for row in rows])
                snippets = dict(conn.execute(snip.sql, snip.params).fetchall())
            return [
                SearchHit(
                    name=name,
                    version=version,
                    digest=digest,
                    media_type=media_type,
                    size=size,
                    score=float(score),
                    snippet=snippets.get(doc_id) or "",
                )
                for doc_id, name, version, digest, media_type, size, score in rows
            ]

        return await self._call(run)

    async def record_access(self, name: str, version: int, at: datetime) -> None:
        """Count one read of (name, version) at time `at`."""
        sql = "INSERT INTO accesses (name, version, at_us) VALUES (?, ?, ?)"
        row = (name, version, to_micros(at))
        await self._call(lambda conn: self._write(conn, lambda: conn.execute(sql, row)))

    async def access_stats(
        self, keys: list[tuple[str, int]], *, since: datetime | None = None
    ) -> dict[tuple[str, int], AccessStats]:
        """Stats for each (name, version) asked for; unknown keys get zero counts."""
        since_us = None if since is None else to_micros(since)
        sql = (
            "SELECT COUNT(*) FILTER (WHERE ? IS NULL OR at_us >= ?), MAX(at_us)"
            " FROM accesses WHERE name = ? AND version = ?"
        )

        def run(conn: sqlite3.Connection) -> dict[tuple[str, int], AccessStats]:
            result: dict[tuple[str, int], AccessStats] = {}
            for name, version in dict.fromkeys(keys):
                count, last = conn.execute(sql, (since_us, since_us, name, version)).fetchone()
                last_access = None if last is None else from_micros(last)
                result[(name, version)] = AccessStats(count=count, last_access=last_access)
            return result

        return await self._call(run)

    async def clear(self) -> None:
        """Drop every document before a reindex. Access records stay: no blob holds them."""
        await self._call(
            lambda conn: self._write(conn, lambda: conn.execute("DELETE FROM documents"))
        )

    async def close(self) -> None:
        await self._call(lambda conn: conn.close())

    async def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                try:
                    return work(self._conn)
                except sqlite3.OperationalError as exc:
                    raise _index_error(exc, self.path) from exc

        return await asyncio.to_thread(locked)

    @staticmethod
    def _write(conn: sqlite3.Connection, change: Callable[[], object]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            change()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _insert_all(conn: sqlite3.Connection, documents: list[IndexDocument]) -> None:
    for document in documents:
        conn.execute(
            "DELETE FROM documents WHERE name = ? AND version = ?",
            (document.name, document.version),
        )
        cursor = conn.execute(
            _INSERT_DOC,
            (
                document.name,
                document.version,
                document.digest,
                document.size,
                document.media_type,
                to_micros(document.created_at),
                document.text,
                json.dumps(document.metadata, sort_keys=True),
                json.dumps(list(document.tags)),
            ),
        )
        doc_id = cursor.lastrowid
        conn.executemany(
            "INSERT OR IGNORE INTO doc_tags (doc_id, tag) VALUES (?, ?)",
            [(doc_id, tag) for tag in document.tags],
        )
        conn.executemany(
            "INSERT INTO doc_meta (doc_id, key, s, n, b, t) VALUES (?, ?, ?, ?, ?, ?)",
            [(doc_id, key, *meta_slots(value)) for key, value in document.metadata.items()],
        )


_RAN_OUT = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_NOMEM}
_REFUSED = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN}


def _index_error(exc: sqlite3.Error, path: Path, what: str = "") -> PitError:
    """A full disk is the work failing (exit 1), a file we may not open or write a wrong
    path (exit 2); only a busy or locked database is a backend that may answer later (3)."""
    message = f"search index {str(path)!r}: {what}{exc}"
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in _RAN_OUT:
        return CapacityError(message, path=str(path))
    if primary in _REFUSED:
        return ConfigError(message, path=str(path))
    return BackendUnavailableError(message, path=str(path))
