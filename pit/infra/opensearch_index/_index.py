"""`OpenSearchIndex`: the production search index over opensearch-py's async client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Iterable
from datetime import datetime
from typing import Any, Literal, TypeVar

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import (
    ConnectionError as OpenSearchConnectionError,
)
from opensearchpy.exceptions import (
    NotFoundError as OpenSearchNotFoundError,
)
from opensearchpy.exceptions import (
    RequestError,
    TransportError,
)

from pit.artifacts.index_port import AccessStats, IndexDocument, SearchHit, SearchQuery
from pit.artifacts.index_query import from_micros, parse_query, to_micros
from pit.common.errors import BackendUnavailableError, PitError
from pit.infra.opensearch_index._dsl import (
    access_key,
    access_stats_body,
    document_id,
    document_source,
    hit_from,
    search_body,
)
from pit.infra.opensearch_index._mapping import ACCESSES_BODY, DOCUMENTS_BODY

T = TypeVar("T")
Refresh = Literal["true", "false", "wait_for"]
_UNAVAILABLE_STATUS = frozenset({429, 502, 503, 504})
_KEYS_PER_REQUEST = 1000
_CLIENT_LOGGERS = ("opensearch", "opensearchpy.trace")
"""opensearch-py logs a warning with a traceback for every failed try of every request."""


def _quiet_client_loggers() -> None:
    """This adapter reports a failure itself, as one error: the client's own loggers speak
    only when the Pit logs at debug level."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in _CLIENT_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)


class OpenSearchIndex:
    """The `SearchIndex` port on OpenSearch: `{prefix}-documents` and `{prefix}-accesses`.

    Both indexes are created with their mappings on first use. Document writes use
    `refresh` (default `wait_for`: a search right after sees the write, as on SQLite);
    access records are not refreshed, so counts catch up within the refresh interval.
    An unreachable server raises `BackendUnavailableError` after `timeout` seconds per try
    and `max_retries` retries, and never later than `deadline` seconds in all.
    """

    def __init__(
        self,
        url: str,
        *,
        index_prefix: str = "pit",
        timeout: float = 5.0,
        max_retries: int = 2,
        deadline: float = 30.0,
        refresh: Refresh = "wait_for",
    ) -> None:
        self.url = url
        self.documents_index = f"{index_prefix}-documents"
        self.accesses_index = f"{index_prefix}-accesses"
        self._deadline = deadline
        self._refresh = refresh
        _quiet_client_loggers()
        self._client = AsyncOpenSearch(
            hosts=[url],
            timeout=timeout,
            max_retries=max_retries,
            retry_on_timeout=True,
        )
        self._ready = False
        self._ready_lock = asyncio.Lock()

    async def index(self, document: IndexDocument) -> None:
        """Add or replace the document for (name, version)."""
        await self._ensure_indexes()
        await self._call(
            self._client.index(
                index=self.documents_index,
                id=document_id(document.name, document.version),
                body=document_source(document),
                params={"refresh": self._refresh},
            )
        )

    async def index_many(self, documents: Iterable[IndexDocument]) -> None:
        """Add or replace many documents with one bulk request (what a reindex uses)."""
        lines: list[dict[str, Any]] = []
        for document in documents:
            doc_id = document_id(document.name, document.version)
            lines.append({"index": {"_index": self.documents_index, "_id": doc_id}})
            lines.append(document_source(document))
        if not lines:
            return
        await self._ensure_indexes()
        response = await self._call(
            self._client.bulk(body=lines, params={"refresh": self._refresh})
        )
        if response.get("errors"):
            failed = [item for item in response["items"] if item["index"].get("error")]
            raise PitError(
                f"OpenSearch refused {len(failed)} of {len(lines) // 2} documents",
                first_error=failed[0]["index"]["error"] if failed else None,
            )

    async def remove(self, name: str, version: int) -> None:
        """Forget (name, version); a missing one is not an error."""
        await self._ensure_indexes()
        try:
            await self._call(
                self._client.delete(
                    index=self.documents_index,
                    id=document_id(name, version),
                    params={"refresh": self._refresh},
                )
            )
        except _Missing:
            return

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        """Ranked hits, best first; ties broken by name then version (descending)."""
        parsed = parse_query(query)
        await self._ensure_indexes()
        response = await self._call(
            self._client.search(index=self.documents_index, body=search_body(parsed))
        )
        scored = bool(parsed.terms)
        return [
            hit_from(raw, latest_only=parsed.latest_only, scored=scored)
            for raw in response["hits"]["hits"]
        ]

    async def record_access(self, name: str, version: int, at: datetime) -> None:
        """Count one read of (name, version) at time `at`."""
        await self._ensure_indexes()
        body = {
            "key": access_key(name, version),
            "name": name,
            "version": version,
            "at_us": to_micros(at),
        }
        await self._call(self._client.index(index=self.accesses_index, body=body))

    async def access_stats(
        self, keys: list[tuple[str, int]], *, since: datetime | None = None
    ) -> dict[tuple[str, int], AccessStats]:
        """Stats for each (name, version) asked for; unknown keys get zero counts."""
        wanted = list(dict.fromkeys(keys))
        result = {key: AccessStats() for key in wanted}
        if not wanted:
            return result
        await self._ensure_indexes()
        since_us = None if since is None else to_micros(since)
        by_key = {access_key(name, version): (name, version) for name, version in wanted}
        names = list(by_key)
        for start in range(0, len(names), _KEYS_PER_REQUEST):
            chunk = names[start : start + _KEYS_PER_REQUEST]
            response = await self._call(
                self._client.search(
                    index=self.accesses_index, body=access_stats_body(chunk, since_us)
                )
            )
            for bucket in response["aggregations"]["by_key"]["buckets"]:
                last = bucket["last"]["value"]
                count = bucket["recent"]["doc_count"] if since_us is not None else None
                result[by_key[bucket["key"]]] = AccessStats(
                    count=bucket["doc_count"] if count is None else count,
                    last_access=None if last is None else from_micros(int(last)),
                )
        return result

    async def clear(self) -> None:
        """Drop every document before a reindex. Access records stay: no blob holds them."""
        async with self._ready_lock:
            with contextlib.suppress(_Missing):
                await self._call(self._client.indices.delete(index=self.documents_index))
            self._ready = False

    async def close(self) -> None:
        await self._client.close()

    async def _ensure_indexes(self) -> None:
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            for name, body in (
                (self.documents_index, DOCUMENTS_BODY),
                (self.accesses_index, ACCESSES_BODY),
            ):
                if not await self._call(self._client.indices.exists(index=name)):
                    await self._create(name, body)
            self._ready = True

    async def _create(self, name: str, body: dict[str, Any]) -> None:
        try:
            await self._call(self._client.indices.create(index=name, body=body))
        except _AlreadyExists:
            return  # another process created it between our check and our create

    async def _call(self, request: Awaitable[T]) -> T:
        """Await one client call; translate transport failures into Pit errors."""
        try:
            async with asyncio.timeout(self._deadline):
                return await request
        except TimeoutError as exc:
            raise self._unavailable(f"no answer within {self._deadline}s") from exc
        except OpenSearchConnectionError as exc:  # includes ConnectionTimeout and SSL errors
            raise self._unavailable(str(exc.error or exc)) from exc
        except OpenSearchNotFoundError as exc:
            raise _Missing(str(exc)) from exc
        except RequestError as exc:
            if exc.error == "resource_already_exists_exception":
                raise _AlreadyExists(str(exc)) from exc
            raise PitError(
                f"OpenSearch refused a request: {exc.error}", info=str(exc.info)
            ) from exc
        except TransportError as exc:
            if exc.status_code in _UNAVAILABLE_STATUS:
                raise self._unavailable(f"HTTP {exc.status_code} {exc.error}") from exc
            raise PitError(
                f"OpenSearch failed: HTTP {exc.status_code} {exc.error}", info=str(exc.info)
            ) from exc

    def _unavailable(self, reason: str) -> BackendUnavailableError:
        return BackendUnavailableError(
            f"search backend {self.url!r} unavailable: {reason}", url=self.url
        )


class _Missing(Exception):
    """The index or document asked for does not exist (HTTP 404)."""


class _AlreadyExists(Exception):
    """The index to create exists already (HTTP 400 resource_already_exists_exception)."""
