"""The embedded search index: SQLite FTS5 for text, tables for metadata and accesses."""

from pit.infra.sqlite_index._index import SqliteIndex

__all__ = ["SqliteIndex"]
