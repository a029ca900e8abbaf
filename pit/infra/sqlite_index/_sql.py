"""Translate a parsed query into SQL over the FTS5 table and the metadata tables."""

from __future__ import annotations

from dataclasses import dataclass

from pit.artifacts.index_query import (
    SNIPPET_TOKENS,
    FieldFilter,
    MetaFilter,
    ParsedQuery,
    TextTerm,
)

SqlParam = str | int | float | bool

_COMPARE = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_COLUMNS = {
    "name": "d.name",
    "media_type": "d.media_type",
    "size": "d.size",
    "version": "d.version",
    "created_at": "d.created_us",
}
_HIT_COLUMNS = "d.id, d.name, d.version, d.digest, d.media_type, d.size"


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    params: tuple[SqlParam, ...]


def fts_expression(terms: tuple[TextTerm, ...]) -> str:
    """An FTS5 MATCH expression: every term a quoted phrase, all of them required.

    Words come from `index_query.parse_text` and hold only word characters, so quoting
    them leaves nothing for FTS5 to read as syntax.
    """
    return " AND ".join('"' + " ".join(term.words) + '"' for term in terms)


def search_statement(query: ParsedQuery) -> Statement:
    """Rows (id, name, version, digest, media_type, size, score), best first."""
    where: list[str] = []
    params: list[SqlParam] = []
    if query.terms:
        source = "documents_fts JOIN documents d ON d.id = documents_fts.rowid"
        score = "-bm25(documents_fts)"
        where.append("documents_fts MATCH ?")
        params.append(fts_expression(query.terms))
    else:
        source = "documents d"
        score = "0.0"
    for item in query.filters:
        clause, clause_params = filter_clause(item)
        where.append(clause)
        params.extend(clause_params)
    condition = " AND ".join(where) or "1"
    matched = f"SELECT {_HIT_COLUMNS}, {score} AS score FROM {source} WHERE {condition}"
    if query.latest_only:
        # newest matching version of each name, ranked by the best score its name reached
        sql = (
            f"WITH matched AS ({matched}), grouped AS ("
            " SELECT *, MAX(score) OVER (PARTITION BY name) AS best,"
            " ROW_NUMBER() OVER (PARTITION BY name ORDER BY version DESC) AS newest"
            " FROM matched)"
            " SELECT id, name, version, digest, media_type, size, best FROM grouped"
            " WHERE newest = 1 ORDER BY best DESC, name ASC, version DESC LIMIT ?"
        )
    else:
        sql = f"{matched} ORDER BY score DESC, d.name ASC, d.version DESC LIMIT ?"
    params.append(query.limit)
    return Statement(sql, tuple(params))


def snippet_statement(terms: tuple[TextTerm, ...], ids: list[int]) -> Statement:
    """Snippets of the body column for the rows `ids`, matched terms in [brackets]."""
    marks = ",".join("?" * len(ids))
    sql = (
        f"SELECT rowid, snippet(documents_fts, 1, '[', ']', '…', {SNIPPET_TOKENS})"
        f" FROM documents_fts WHERE documents_fts MATCH ? AND rowid IN ({marks})"
    )
    return Statement(sql, (fts_expression(terms), *ids))


def filter_clause(item: FieldFilter | MetaFilter) -> tuple[str, list[SqlParam]]:
    """One WHERE clause (and its parameters) for a typed filter."""
    if isinstance(item, MetaFilter):
        return _meta_clause(item)
    if item.field == "tag":
        exists = "EXISTS (SELECT 1 FROM doc_tags t WHERE t.doc_id = d.id AND t.tag = ?)"
        return (exists if item.op == "eq" else f"NOT {exists}"), [item.value]
    column = _COLUMNS[item.field]
    if item.op == "prefix":
        return _prefix(column, str(item.value))
    return f"{column} {_COMPARE[item.op]} ?", [item.value]


def _meta_clause(item: MetaFilter) -> tuple[str, list[SqlParam]]:
    column = f"m.{item.column}"
    if item.op == "prefix":
        test, params = _prefix(column, str(item.value))
    else:
        op = "=" if item.op == "ne" else _COMPARE[item.op]
        test, params = f"{column} {op} ?", [item.value]
    exists = f"EXISTS (SELECT 1 FROM doc_meta m WHERE m.doc_id = d.id AND m.key = ? AND {test})"
    return (f"NOT {exists}" if item.op == "ne" else exists), [item.key, *params]


def _prefix(column: str, prefix: str) -> tuple[str, list[SqlParam]]:
    # the range lets SQLite use an index; substr makes the test exact
    return f"({column} >= ? AND substr({column}, 1, ?) = ?)", [prefix, len(prefix), prefix]
