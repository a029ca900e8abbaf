"""Putting content into a blob store: hashed once, chunked when it is large, written in parallel.

Large content flows through a pipeline of threads, so that on two cores the work that holds
no lock overlaps: one thread hashes the whole content, one cuts it and hashes each chunk (into
`HashedBytes`, which the blob store takes without hashing them again), and up to
`CHUNK_WRITES` chunks are written and fsynced at once. The event loop only hands blocks on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from pit.artifacts.blob_port import BlobStore
from pit.artifacts.chunking import CHUNKING_THRESHOLD, DEFAULT_PARAMS, Chunker, ChunkParams
from pit.artifacts.hashing import ByteStream, HashedBytes, StreamHasher, file_stream
from pit.artifacts.manifest import ChunkRef
from pit.artifacts.text import MAX_INDEXED_BYTES
from pit.common.errors import InvalidInputError

Content = bytes | Path | ByteStream
"""What `put` accepts: bytes, a file to stream, or an async stream of byte pieces."""
Block = bytes | memoryview

BLOCK_SIZE = 8 * 1024 * 1024
"""Bytes read from a file, and handed to the hashing and chunking threads, at a time."""
CHUNK_WRITES = 16
"""Chunks written at once: their fsyncs overlap (a journal commits many together), and memory
stays bounded (16 chunks of at most 2 MiB)."""
_HASH_IN_LOOP = 64 * 1024
"""Content up to this size is hashed on the event loop: a thread costs more than the hash."""


@dataclass(frozen=True)
class Ingested:
    digest: str
    size: int
    chunks: tuple[ChunkRef, ...] | None
    new_blobs: int
    head: bytes
    """The first bytes (up to MAX_INDEXED_BYTES), for text extraction."""


def as_stream(content: Content, field: str = "content") -> AsyncIterable[Block]:
    """`content` as an async stream of pieces."""
    if isinstance(content, bytes | bytearray | memoryview):
        return _slices(bytes(content), BLOCK_SIZE)
    if isinstance(content, Path):
        if not content.is_file():
            raise InvalidInputError.for_field(field, str(content), "must be an existing file")
        return file_stream(content, BLOCK_SIZE, field=field)
    if hasattr(content, "__aiter__"):
        return content
    raise InvalidInputError.for_field(field, type(content).__name__, "bytes, a Path or a stream")


async def ingest(
    blobs: BlobStore,
    content: Content,
    *,
    storage_class: str | None = None,
    threshold: int = CHUNKING_THRESHOLD,
    params: ChunkParams = DEFAULT_PARAMS,
) -> Ingested:
    """Store `content`: as one blob below `threshold` bytes, else as content-defined chunks.

    Memory stays bounded whatever the size of the content: `threshold` plus a few blocks and
    `CHUNK_WRITES` chunks.
    """
    if isinstance(content, bytes | bytearray | memoryview) and len(content) < threshold:
        return await _store_whole(blobs, bytes(content), storage_class)
    blocks = _blocks(as_stream(content), BLOCK_SIZE)
    first: list[Block] = []
    size = 0
    async for block in blocks:
        first.append(block)
        size += len(block)
        if size >= threshold:
            break
    if size < threshold:
        return await _store_whole(blobs, b"".join(first), storage_class)
    return await _store_chunked(blobs, _chain(first, blocks), params, storage_class)


async def _store_whole(blobs: BlobStore, data: bytes, storage_class: str | None) -> Ingested:
    if len(data) <= _HASH_IN_LOOP:
        blob = HashedBytes(data)
    else:
        blob = await asyncio.to_thread(HashedBytes, data)
    written = await blobs.put_blob(blob.digest, blob, storage_class=storage_class)
    return Ingested(blob.digest, len(blob), None, int(written), blob[:MAX_INDEXED_BYTES])


async def _store_chunked(
    blobs: BlobStore,
    blocks: AsyncIterator[Block],
    params: ChunkParams,
    storage_class: str | None,
) -> Ingested:
    whole = StreamHasher()
    chunker = Chunker(params, HashedBytes)
    head = bytearray()
    refs: list[ChunkRef] = []
    writes = _ChunkWrites(blobs, storage_class, CHUNK_WRITES)
    hashing: asyncio.Future[None] | None = None
    try:
        async for block in blocks:
            if len(head) < MAX_INDEXED_BYTES:
                head += block[: MAX_INDEXED_BYTES - len(head)]
            if hashing is not None:
                await hashing  # the whole-content hash takes the blocks in order
            hashing = asyncio.ensure_future(asyncio.to_thread(whole.update, block))
            for chunk in await asyncio.to_thread(chunker.feed, block):
                refs.append(ChunkRef(digest=chunk.digest, size=len(chunk)))
                await writes.start(chunk)
        for chunk in await asyncio.to_thread(chunker.finish):
            refs.append(ChunkRef(digest=chunk.digest, size=len(chunk)))
            await writes.start(chunk)
        if hashing is not None:
            await hashing
        written = await writes.finish()
    except BaseException:
        if hashing is not None:
            hashing.cancel()
        await writes.cancel()
        raise
    return Ingested(whole.digest, whole.size, tuple(refs), written, bytes(head))


class _ChunkWrites:
    """Chunks being written, at most `limit` at once; the first failure is the put's error
    (the chunks after it are not started)."""

    def __init__(self, blobs: BlobStore, storage_class: str | None, limit: int) -> None:
        self._blobs = blobs
        self._storage_class = storage_class
        self._room = asyncio.Semaphore(limit)
        self._running: set[asyncio.Task[None]] = set()
        self._error: Exception | None = None
        self.written = 0

    async def start(self, chunk: HashedBytes) -> None:
        await self._room.acquire()
        if self._error is not None:
            self._room.release()
            raise self._error
        task = asyncio.create_task(self._write(chunk))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _write(self, chunk: HashedBytes) -> None:
        try:
            if await self._blobs.put_blob(chunk.digest, chunk, storage_class=self._storage_class):
                self.written += 1
        except Exception as error:  # kept for the put to raise
            self._error = self._error or error
        finally:
            self._room.release()

    async def finish(self) -> int:
        """How many chunks were new, once all are written."""
        await asyncio.gather(*self._running)
        if self._error is not None:
            raise self._error
        return self.written

    async def cancel(self) -> None:
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)


async def _slices(data: bytes, size: int) -> AsyncIterator[Block]:
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield view[start : start + size]


async def _blocks(stream: AsyncIterable[Block], size: int) -> AsyncIterator[Block]:
    """The stream's bytes in blocks of about `size` (a stream of small pieces is gathered, so
    the threads are handed work worth a thread hop)."""
    gathered = bytearray()
    async for piece in stream:
        if not gathered and len(piece) >= size:
            yield piece
            continue
        gathered += piece
        if len(gathered) >= size:
            yield bytes(gathered)
            gathered.clear()
    if gathered:
        yield bytes(gathered)


async def _chain(first: list[Block], rest: AsyncIterator[Block]) -> AsyncIterator[Block]:
    for block in first:
        yield block
    async for block in rest:
        yield block


async def concatenated(streams: list[AsyncIterator[bytes]]) -> AsyncIterator[bytes]:
    for stream in streams:
        async for piece in stream:
            yield piece
