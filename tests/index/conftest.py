"""The behavioural suite of the `SearchIndex` port, run on every adapter that can run here.

OpenSearch cannot run on these machines: its wire format is pinned by `tests/contract`.
Add an adapter to `ADAPTERS` and every test in this directory runs on it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from pit.artifacts.index_port import IndexDocument, MetaValue, SearchIndex
from pit.infra.sqlite_index import SqliteIndex

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

ADAPTERS: dict[str, Callable[[Path], SearchIndex]] = {
    "sqlite": lambda tmp: SqliteIndex(tmp / "index.sqlite"),
}


@pytest_asyncio.fixture(params=sorted(ADAPTERS))
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchIndex]:
    adapter = ADAPTERS[request.param](tmp_path)
    try:
        yield adapter
    finally:
        await adapter.close()


def doc(
    name: str,
    version: int = 1,
    text: str | None = None,
    *,
    media_type: str = "text/plain",
    size: int = 10,
    day: int = 0,
    metadata: dict[str, MetaValue] | None = None,
    tags: tuple[str, ...] = (),
) -> IndexDocument:
    """A document with sensible defaults; `day` is days after 2025-01-01."""
    return IndexDocument(
        name=name,
        version=version,
        digest=f"sha256:{name}:{version}",
        size=size,
        media_type=media_type,
        created_at=EPOCH + timedelta(days=day),
        metadata=metadata or {},
        tags=tags,
        text=text,
    )
