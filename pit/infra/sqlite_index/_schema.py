"""The SQLite index schema: documents, tags, typed metadata, an FTS5 table, accesses (and the
batches they came in), and how far each stream of store records was followed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = 2
"""1: documents and accesses; 2: access batches and followed streams (every statement is
`IF NOT EXISTS`, so a version 1 file gains the new tables and keeps its rows)."""

_DDL = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    body TEXT,
    metadata TEXT NOT NULL,
    tags TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE INDEX IF NOT EXISTS documents_media_type ON documents (media_type);
CREATE INDEX IF NOT EXISTS documents_created ON documents (created_us);
CREATE INDEX IF NOT EXISTS documents_size ON documents (size);
CREATE TABLE IF NOT EXISTS doc_tags (
    doc_id INTEGER NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (doc_id, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_tags_tag ON doc_tags (tag, doc_id);
CREATE TABLE IF NOT EXISTS doc_meta (
    doc_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    s TEXT,
    n REAL,
    b INTEGER,
    t INTEGER,
    PRIMARY KEY (doc_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_meta_s ON doc_meta (key, s);
CREATE INDEX IF NOT EXISTS doc_meta_n ON doc_meta (key, n);
CREATE INDEX IF NOT EXISTS doc_meta_t ON doc_meta (key, t);
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5 (
    name, body,
    content = 'documents', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS documents_fts_insert AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts (rowid, name, body) VALUES (new.id, new.name, new.body);
END;
CREATE TRIGGER IF NOT EXISTS documents_fts_delete AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, name, body)
    VALUES ('delete', old.id, old.name, old.body);
    DELETE FROM doc_tags WHERE doc_id = old.id;
    DELETE FROM doc_meta WHERE doc_id = old.id;
END;
CREATE TABLE IF NOT EXISTS accesses (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    at_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS accesses_key ON accesses (name, version, at_us);
CREATE TABLE IF NOT EXISTS access_batches (
    key TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS followed (
    stream TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (stream, key)
) WITHOUT ROWID;
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (and create if needed) the index at `path`: WAL, safe for several processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        (current,) = conn.execute("PRAGMA user_version").fetchone()
        if current < SCHEMA_VERSION:
            for statement in _statements():
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        conn.close()
        raise
    return conn


def _statements() -> list[str]:
    """The DDL split into statements (triggers keep their inner semicolons)."""
    statements: list[str] = []
    pending = ""
    for line in _DDL.strip().splitlines():
        pending += line + "\n"
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return statements
