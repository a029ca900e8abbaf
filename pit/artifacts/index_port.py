"""The search-index port: text, metadata and access statistics of artifact versions.

The index is derived data: everything in it comes from the store (manifests, and the access
batches and change log among its records) and is rebuilt from it (`pit artifact reindex`), or
caught up by following the store's records (`pit.artifacts.follow`). Adapters: SQLite FTS5
(embedded default, `pit.infra.sqlite_index`) and OpenSearch (production,
`pit.infra.opensearch_index`). Both answer the same behavioural test suite, so they answer
the same questions the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

MetaValue = str | int | float | bool


class IndexDocument(BaseModel):
    """One artifact version as the index sees it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int = Field(ge=1)
    digest: str
    size: int = Field(ge=0)
    media_type: str
    created_at: datetime
    metadata: dict[str, MetaValue] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()
    text: str | None = None
    """Extracted text for full-text search; None for binary content."""


class Filter(BaseModel):
    """One metadata condition; all filters of a query must hold.

    field: `name` (op `prefix` or `eq`), `media_type`, `tag` (op `eq`: has the tag),
    `created_at`, `size`, `version`, or `meta.<key>` for a metadata key.
    op: eq, ne, gt, gte, lt, lte, prefix. Ranges work on numbers and on ISO-8601 times.
    `ne` also matches documents that lack the field or metadata key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte", "prefix"] = "eq"
    value: MetaValue | datetime


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = ""
    """Full-text query (words, all must match; "quoted phrases"); empty: filters only."""
    filters: tuple[Filter, ...] = ()
    limit: int = Field(default=20, ge=1, le=1000)
    latest_only: bool = False
    """Only the newest *matching* version of each artifact, ranked by the best score among
    that artifact's matching versions."""


class SearchHit(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    digest: str
    media_type: str
    size: int
    score: float
    """Higher is better; comparable only within one result list; 0.0 for filter-only
    queries (which also have an empty snippet)."""
    snippet: str = ""
    """A short excerpt around the match, with matched terms in [brackets]."""


class AccessStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    count: int = 0
    """Accesses at or after `since` (all accesses when `since` is None)."""
    last_access: datetime | None = None
    """The last access ever, even when `since` brings `count` to 0."""


@dataclass(frozen=True, slots=True)
class Access:
    """One read of one version."""

    name: str
    version: int
    at: datetime


class SearchIndex(Protocol):
    """What the artifact store and the stale manager need from an index."""

    async def index(self, document: IndexDocument) -> None:
        """Add or replace the document for (name, version)."""
        ...

    async def remove(self, name: str, version: int) -> None:
        """Forget (name, version); a missing one is not an error."""
        ...

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        """Ranked hits, best first; ties broken by name then version (descending)."""
        ...

    async def add_accesses(self, batch: str, accesses: Sequence[Access]) -> None:
        """Count the reads of one batch, named by its record key. A batch counted already is
        not counted again, so a batch read twice (two processes catching up at once) counts
        once."""
        ...

    async def access_stats(
        self, keys: list[tuple[str, int]], *, since: datetime | None = None
    ) -> dict[tuple[str, int], AccessStats]:
        """Stats for each (name, version) asked for; unknown keys get zero counts."""
        ...

    async def clear(self) -> None:
        """Drop every document before a reindex. Access records stay (the store holds them
        too, but reading every batch again is what following avoids)."""
        ...

    async def followed(self, stream: str) -> frozenset[str]:
        """The keys of `stream` (a sequence of store records) this index has read and not
        forgotten; the greatest is never forgotten. Empty: never read."""
        ...

    async def mark_followed(self, stream: str, keys: Sequence[str], *, forget_before: str) -> None:
        """Remember `keys` of `stream` as read; keys before `forget_before` may be forgotten,
        except the greatest key ever marked."""
        ...

    async def close(self) -> None: ...
