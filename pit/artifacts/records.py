"""The record port: small JSON records the whole deployment shares, beside blobs and manifests.

What every machine must see alike lives here, in the store, not in a state dir: the change log
(`log/`), batches of access statistics (`accesses/`), cleanup plans and journals (`stale/`).
Keys are relative paths of `[A-Za-z0-9._-]` segments; listing is in key order and starts after
a given key, so a reader that remembers how far it got reads only what is new.

Adapters: `pit.infra.records_local` (files under `<store>/records/`) and
`pit.infra.records_s3` (objects under `<prefix>records/`); `MemoryRecords` for one process.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Protocol

from pit.common.errors import InvalidInputError

MAX_RECORD_BYTES = 16 * 1024 * 1024
"""A stored record larger than this was not written by the Pit."""
KEY_RULE = (
    "a record key is 1 to 8 segments of 1 to 128 characters from A-Z a-z 0-9 . _ -, "
    "joined by /, each starting with a letter or digit"
)
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_STAMP = re.compile(r"/(\d{16})(?:-|$)")


def check_record_key(key: str, field: str = "key") -> str:
    """`key` if it is a valid record key (a prefix may end with `/`); else InvalidInputError."""
    segments = key.removesuffix("/").split("/")
    if len(segments) > 8 or not all(_SEGMENT.fullmatch(segment) for segment in segments):
        raise InvalidInputError.for_field(field, key, KEY_RULE)
    return key


class RecordStore(Protocol):
    """Small records shared by every machine that uses the store."""

    url: str

    async def create_record(self, key: str, data: bytes, *, durable: bool = True) -> bool:
        """Write `data` at `key` only if nothing is there; False if something is. A record
        that exists is always complete. Not `durable`: a local store skips the fsyncs (the
        record survives a killed process, maybe not a power cut); S3 is durable anyway."""
        ...

    async def replace_record(self, key: str, data: bytes) -> None:
        """Write `data` at `key`, replacing what is there all at once."""
        ...

    async def read_record(self, key: str) -> bytes | None:
        """The record's bytes; None if there is none. IntegrityError if it holds more than
        `MAX_RECORD_BYTES`."""
        ...

    def list_records(self, prefix: str, *, after: str = "") -> AsyncIterator[str]:
        """The keys under `prefix` (which ends with `/`) in key order, only those greater
        than `after` when given."""
        ...

    async def delete_records(self, keys: Sequence[str]) -> None:
        """Remove records; absent ones are skipped."""
        ...

    async def close(self) -> None: ...


class MemoryRecords:
    """Records in a dict: shared by the objects of one process only (tests, and stores built
    without a record store)."""

    url = "memory://records"

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}

    async def create_record(self, key: str, data: bytes, *, durable: bool = True) -> bool:
        check_record_key(key)
        await asyncio.sleep(0)
        if key in self.records:
            return False
        self.records[key] = bytes(data)
        return True

    async def replace_record(self, key: str, data: bytes) -> None:
        self.records[check_record_key(key)] = bytes(data)

    async def read_record(self, key: str) -> bytes | None:
        return self.records.get(check_record_key(key))

    async def list_records(self, prefix: str, *, after: str = "") -> AsyncIterator[str]:
        check_record_key(prefix, "prefix")
        for key in sorted(self.records):
            if key.startswith(prefix) and key > after:
                yield key

    async def delete_records(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.records.pop(key, None)

    async def close(self) -> None:
        return None


class StampedKeys:
    """Keys that sort by the time they were made: `<prefix><hour>/<µs>-<writer>-<seq>.json`.

    The hour segment keeps local directories small and lets a reader skip whole hours; the
    writer id (random per process) and a sequence number keep keys made in the same
    microsecond by two writers apart.
    """

    def __init__(self, prefix: str, writer: str | None = None) -> None:
        self.prefix = check_record_key(prefix, "prefix")
        self.writer = writer or secrets.token_hex(6)
        self._sequence = 0

    def next_key(self) -> str:
        """A new key stamped with the wall-clock time now."""
        self._sequence += 1
        return self.key_at(time.time_ns() // 1000, f"{self.writer}-{self._sequence:06d}")

    def key_at(self, micros: int, suffix: str = "") -> str:
        """The key of the moment `micros` (µs since the epoch): with no suffix, a bound that
        sorts before every key made at or after that moment."""
        moment = datetime.fromtimestamp(max(micros, 0) / 1e6, UTC)
        tail = f"-{suffix}.json" if suffix else ""
        return f"{self.prefix}{moment:%Y%m%d%H}/{max(micros, 0):016d}{tail}"


def stamp_of(key: str) -> int | None:
    """The µs-since-epoch a stamped key was made at; None for a key that is not stamped."""
    found = _STAMP.search(key)
    return int(found.group(1)) if found else None
