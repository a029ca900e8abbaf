"""Counting reads straight into an index (tests seed access statistics this way)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pit.artifacts.index_port import Access, SearchIndex


async def count_read(index: SearchIndex, name: str, version: int, at: datetime) -> None:
    """One read of (name, version) at `at`, as a batch of its own."""
    await index.add_accesses(f"test/{uuid.uuid4().hex}", [Access(name, version, at)])
