"""Translate parsed queries and documents into OpenSearch request bodies, and hits back."""

from __future__ import annotations

import hashlib
from typing import Any

from pit.artifacts.index_port import IndexDocument, SearchHit
from pit.artifacts.index_query import (
    SNIPPET_TOKENS,
    FieldFilter,
    MetaFilter,
    ParsedQuery,
    meta_slots,
    to_micros,
)

Json = dict[str, Any]
HIT_FIELDS = ["name", "version", "digest", "media_type", "size"]
TEXT_FIELDS = ["name.text", "text"]
_RANGE = {"gt", "gte", "lt", "lte"}
_COLUMNS = {"created_at": "created_us", "tag": "tags"}
_HIGHLIGHT: Json = {
    "pre_tags": ["["],
    "post_tags": ["]"],
    "fields": {"text": {"fragment_size": SNIPPET_TOKENS * 8, "number_of_fragments": 1}},
}


def document_id(name: str, version: int) -> str:
    """A stable id that needs no escaping in a URL path (names hold `/`)."""
    return hashlib.sha256(f"{name}\0{version}".encode()).hexdigest()[:40]


def access_key(name: str, version: int) -> str:
    """One keyword for (name, version): the version first, so no name can collide."""
    return f"{version}:{name}"


def document_source(document: IndexDocument) -> Json:
    """The `_source` stored for one artifact version."""
    meta = []
    for key, value in sorted(document.metadata.items()):
        string, number, boolean, moment = meta_slots(value)
        meta.append({"key": key, "s": string, "n": number, "b": boolean, "t": moment})
    return {
        "name": document.name,
        "version": document.version,
        "digest": document.digest,
        "size": document.size,
        "media_type": document.media_type,
        "created_at": document.created_at.isoformat(),
        "created_us": to_micros(document.created_at),
        "tags": list(document.tags),
        "text": document.text,
        "metadata": dict(document.metadata),
        "meta": meta,
    }


def search_body(query: ParsedQuery) -> Json:
    """A bool query: every text term as a phrase, every filter as a filter clause."""
    must = [
        {"multi_match": {"query": " ".join(term.words), "type": "phrase", "fields": TEXT_FIELDS}}
        for term in query.terms
    ]
    filters: list[Json] = []
    must_not: list[Json] = []
    for item in query.filters:
        clause = filter_clause(item)
        (must_not if item.op == "ne" else filters).append(clause)
    boolean: Json = {}
    if must:
        boolean["must"] = must
    if filters:
        boolean["filter"] = filters
    if must_not:
        boolean["must_not"] = must_not
    body: Json = {
        "size": query.limit,
        "query": {"bool": boolean} if boolean else {"match_all": {}},
        "sort": [
            {"_score": {"order": "desc"}},
            {"name": {"order": "asc"}},
            {"version": {"order": "desc"}},
        ],
        "track_scores": True,
        "_source": {"includes": HIT_FIELDS},
    }
    if query.terms:
        body["highlight"] = _HIGHLIGHT
    if query.latest_only:
        newest: Json = {
            "name": "newest",
            "size": 1,
            "sort": [{"version": {"order": "desc"}}],
            "_source": {"includes": HIT_FIELDS},
        }
        if query.terms:
            newest["highlight"] = _HIGHLIGHT
        body["collapse"] = {"field": "name", "inner_hits": newest}
    return body


def filter_clause(item: FieldFilter | MetaFilter) -> Json:
    """The positive clause of one filter (`ne` filters go under must_not as their `eq`)."""
    if isinstance(item, MetaFilter):
        inner = _compare(f"meta.{item.column}", item.op, item.value)
        test = {"bool": {"filter": [{"term": {"meta.key": item.key}}, inner]}}
        return {"nested": {"path": "meta", "query": test}}
    return _compare(_COLUMNS.get(item.field, item.field), item.op, item.value)


def _compare(field: str, op: str, value: str | int | float | bool) -> Json:
    if op in _RANGE:
        return {"range": {field: {op: value}}}
    if op == "prefix":
        return {"prefix": {field: {"value": value}}}
    return {"term": {field: {"value": value}}}


def hit_from(raw: Json, *, latest_only: bool, scored: bool) -> SearchHit:
    """One search hit; with latest_only, the newest version its collapsed group holds.

    Without text terms nothing is ranked, and the score is 0.0 as on SQLite.
    """
    score = float(raw.get("_score") or 0.0) if scored else 0.0
    if latest_only:
        raw = raw["inner_hits"]["newest"]["hits"]["hits"][0]
    source = raw["_source"]
    fragments = raw.get("highlight", {}).get("text", [])
    return SearchHit(
        name=source["name"],
        version=int(source["version"]),
        digest=source["digest"],
        media_type=source["media_type"],
        size=int(source["size"]),
        score=score,
        snippet=_join_marks(fragments[0]) if fragments else "",
    )


def _join_marks(fragment: str) -> str:
    # OpenSearch marks each word of a phrase; SQLite marks the phrase: "[a] [b]" -> "[a b]"
    return fragment.replace("] [", " ")


def access_stats_body(keys: list[str], since_us: int | None) -> Json:
    """Counts and last access per key in one aggregation; no hits returned."""
    per_key: Json = {"last": {"max": {"field": "at_us"}}}
    if since_us is not None:
        per_key["recent"] = {"filter": {"range": {"at_us": {"gte": since_us}}}}
    return {
        "size": 0,
        "query": {"terms": {"key": keys}},
        "aggs": {"by_key": {"terms": {"field": "key", "size": len(keys)}, "aggs": per_key}},
    }
