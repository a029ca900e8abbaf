"""Index bodies (settings and mappings) for the documents, accesses and followed indexes."""

from __future__ import annotations

from typing import Any

TEXT_ANALYZER = "pit_text"
"""Words split on punctuation, lower-cased and folded to ASCII, like SQLite's unicode61."""

_SETTINGS: dict[str, Any] = {
    "analysis": {
        "analyzer": {
            TEXT_ANALYZER: {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding"],
            }
        }
    }
}

DOCUMENTS_BODY: dict[str, Any] = {
    "settings": _SETTINGS,
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "name": {
                "type": "keyword",
                "fields": {"text": {"type": "text", "analyzer": TEXT_ANALYZER}},
            },
            "version": {"type": "long"},
            "digest": {"type": "keyword"},
            "size": {"type": "long"},
            "media_type": {"type": "keyword"},
            "created_at": {"type": "date"},
            "created_us": {"type": "long"},
            "tags": {"type": "keyword"},
            "text": {"type": "text", "analyzer": TEXT_ANALYZER, "index_options": "offsets"},
            "metadata": {"type": "object", "enabled": False},
            # one nested entry per metadata key, each value in the typed slot it fits
            "meta": {
                "type": "nested",
                "properties": {
                    "key": {"type": "keyword"},
                    "s": {"type": "keyword"},
                    "n": {"type": "double"},
                    "b": {"type": "boolean"},
                    "t": {"type": "long"},
                },
            },
        },
    },
}

ACCESSES_BODY: dict[str, Any] = {
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "key": {"type": "keyword"},
            "name": {"type": "keyword"},
            "version": {"type": "long"},
            "at_us": {"type": "long"},
        },
    },
}

FOLLOWED_BODY: dict[str, Any] = {
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "stream": {"type": "keyword"},
            # the keys read in the last few minutes: looked up by the adapter, never searched
            "recent": {"type": "keyword", "index": False},
        },
    },
}
