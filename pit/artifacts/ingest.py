"""Putting content into a blob store: hashed once, chunked when it is large, written in parallel.

Large content flows through threads, so that on two cores the work that holds no lock
overlaps: a file is read straight into the chunker's buffer, then one thread hashes the new
bytes into the whole-content digest while another cuts chunks and hashes each (into
`HashedBytes`, which the blob store takes without hashing them again), and up to
`CHUNK_WRITES` chunks are written and fsynced at once. The event loop only hands work on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path

from pit.artifacts.blob_port import BlobStore
from pit.artifacts.chunking import CHUNKING_THRESHOLD, DEFAULT_PARAMS, Chunker, ChunkParams
from pit.artifacts.hashing import ByteStream, HashedBytes, StreamHasher
from pit.artifacts.manifest import MAX_MANIFEST_BYTES, ChunkRef
from pit.artifacts.text import MAX_INDEXED_BYTES
from pit.common.errors import InvalidInputError

Content = bytes | Path | ByteStream
"""What `put` accepts: bytes, a file to stream, or an async stream of byte pieces."""
Block = bytes | memoryview

BLOCK_SIZE = 8 * 1024 * 1024
"""Bytes read from a file, or taken from a stream, at a time."""
CHUNK_WRITES = 16
"""Chunks written at once: their fsyncs overlap (files of 0.6 MiB, each fsynced and renamed,
went to disk here at 80 MiB/s one at a time, 630 MiB/s sixteen at a time), and memory stays
bounded (16 chunks of at most 2 MiB)."""
MAX_CHUNKS = (MAX_MANIFEST_BYTES - 2 * 1024 * 1024) // 128
"""Chunks one version may have: its manifest lists each in about 126 bytes and must stay under
MAX_MANIFEST_BYTES, with room for metadata. About 508,000: some 300 GiB of content at the
mean chunk size, 62 GiB if every chunk were the smallest."""
_HASH_IN_LOOP = 64 * 1024
"""Content up to this size is hashed on the event loop: a thread costs more than the hash."""

More = Callable[[Chunker[HashedBytes]], Awaitable[memoryview]]
"""Adds the content's next bytes to a chunker; returns them (empty at the end)."""


@dataclass(frozen=True)
class Ingested:
    digest: str
    size: int
    chunks: tuple[ChunkRef, ...] | None
    new_blobs: int
    head: bytes
    """The first bytes (up to MAX_INDEXED_BYTES), for text extraction."""


async def ingest(
    blobs: BlobStore,
    content: Content,
    *,
    storage_class: str | None = None,
    threshold: int = CHUNKING_THRESHOLD,
    params: ChunkParams = DEFAULT_PARAMS,
    field: str = "content",
) -> Ingested:
    """Store `content`: as one blob below `threshold` bytes, else as content-defined chunks.

    Memory stays bounded whatever the size of the content: `threshold`, the chunker's buffer
    (`max_size` + `BLOCK_SIZE`), the chunks cut from one block and `CHUNK_WRITES` chunks being
    written (under 60 MiB by default, about 30 MiB on average). A file or stream that cannot
    be read is an InvalidInputError naming `field`.
    """
    if isinstance(content, bytes | bytearray | memoryview):
        if len(content) < threshold:
            return await _store_whole(blobs, bytes(content), storage_class)
        return await _store_stream(blobs, _slices(bytes(content)), threshold, params, storage_class)
    if isinstance(content, Path):
        if not content.is_file():
            raise InvalidInputError.for_field(field, str(content), "must be an existing file")
        return await _store_file(blobs, content, field, threshold, params, storage_class)
    if hasattr(content, "__aiter__"):
        return await _store_stream(blobs, content, threshold, params, storage_class)
    raise InvalidInputError.for_field(field, type(content).__name__, "bytes, a Path or a stream")


async def _store_whole(blobs: BlobStore, data: bytes, storage_class: str | None) -> Ingested:
    if len(data) <= _HASH_IN_LOOP:
        blob = HashedBytes(data)
    else:
        blob = await asyncio.to_thread(HashedBytes, data)
    written = await blobs.put_blob(blob.digest, blob, storage_class=storage_class)
    head = blob if len(blob) <= MAX_INDEXED_BYTES else blob[:MAX_INDEXED_BYTES]  # no copy
    return Ingested(blob.digest, len(blob), None, int(written), head)


async def _store_file(
    blobs: BlobStore,
    path: Path,
    field: str,
    threshold: int,
    params: ChunkParams,
    storage_class: str | None,
) -> Ingested:
    def unreadable(error: OSError) -> InvalidInputError:
        rule = f"cannot be read: {error.strerror or error}"
        return InvalidInputError.for_field(field, str(path), rule)

    try:
        handle = await asyncio.to_thread(_open_binary, path)
    except OSError as error:
        raise unreadable(error) from None

    async def read(size: int) -> bytes:
        try:
            return await asyncio.to_thread(handle.read, size)
        except OSError as error:
            raise unreadable(error) from None

    async def more(chunker: Chunker[HashedBytes]) -> memoryview:
        try:
            return await asyncio.to_thread(chunker.read, handle.readinto)
        except OSError as error:
            raise unreadable(error) from None

    try:
        first = bytearray()
        while len(first) < threshold and (block := await read(BLOCK_SIZE)):
            first += block
        if len(first) < threshold:
            return await _store_whole(blobs, bytes(first), storage_class)
        return await _store_chunked(blobs, bytes(first), more, params, storage_class)
    finally:
        await asyncio.to_thread(handle.close)


def _open_binary(path: Path) -> BufferedReader:
    return path.open("rb")


async def _store_stream(
    blobs: BlobStore,
    stream: AsyncIterable[Block],
    threshold: int,
    params: ChunkParams,
    storage_class: str | None,
) -> Ingested:
    blocks = _blocks(stream)
    first = bytearray()
    while len(first) < threshold and (block := await anext(blocks, None)) is not None:
        first += block
    if len(first) < threshold:
        return await _store_whole(blobs, bytes(first), storage_class)

    async def more(chunker: Chunker[HashedBytes]) -> memoryview:
        block = await anext(blocks, None)
        return memoryview(b"") if block is None else chunker.append(block)

    return await _store_chunked(blobs, bytes(first), more, params, storage_class)


async def _store_chunked(
    blobs: BlobStore,
    first: bytes,
    more: More,
    params: ChunkParams,
    storage_class: str | None,
) -> Ingested:
    """Store `first` and what `more` adds after it as chunks."""
    whole = StreamHasher()
    chunker = Chunker(params, HashedBytes, room=BLOCK_SIZE)
    head = bytearray(first[:MAX_INDEXED_BYTES])
    refs: list[ChunkRef] = []
    writes = _ChunkWrites(blobs, storage_class, CHUNK_WRITES)

    async def hand_on(chunks: list[HashedBytes]) -> None:
        for chunk in chunks:
            if len(refs) == MAX_CHUNKS:
                size = f"more than {sum(ref.size for ref in refs)} bytes"
                rule = f"at most {MAX_CHUNKS} chunks (a version's manifest must stay readable)"
                raise InvalidInputError.for_field("content", size, rule)
            refs.append(ChunkRef(digest=chunk.digest, size=len(chunk)))
            await writes.start(chunk)

    async def hash_and_cut(fresh: Block, cut: Callable[[], list[HashedBytes]]) -> None:
        """The new bytes hashed into the whole while the chunks they complete are cut; the
        hash is done before `fresh` can be overwritten."""
        hashing = asyncio.ensure_future(asyncio.to_thread(whole.update, fresh))
        try:
            chunks = await asyncio.to_thread(cut)
        finally:
            await asyncio.wait([hashing])
        hashing.result()
        await hand_on(chunks)

    try:
        await hash_and_cut(first, lambda: chunker.feed(first))
        first = b""  # in the chunker now
        while fresh := await more(chunker):
            if len(head) < MAX_INDEXED_BYTES:
                head += fresh[: MAX_INDEXED_BYTES - len(head)]
            await hash_and_cut(fresh, chunker.cut)
        await hand_on(await asyncio.to_thread(chunker.finish))
        written = await writes.finish()
    except BaseException:
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


async def _slices(data: bytes) -> AsyncIterator[Block]:
    view = memoryview(data)
    for start in range(0, len(data), BLOCK_SIZE):
        yield view[start : start + BLOCK_SIZE]


async def _blocks(stream: AsyncIterable[Block]) -> AsyncIterator[Block]:
    """The stream's bytes in blocks of `BLOCK_SIZE` (the last may be shorter): small pieces
    are gathered, so each thread hop carries work worth it, and large ones split."""
    gathered = bytearray()
    async for piece in stream:
        view = memoryview(piece)
        while len(gathered) + len(view) >= BLOCK_SIZE:
            if gathered:
                take = BLOCK_SIZE - len(gathered)
                gathered += view[:take]
                yield bytes(gathered)
                gathered.clear()
            else:
                take = BLOCK_SIZE
                yield view[:take]
            view = view[take:]
        gathered += view
    if gathered:
        yield bytes(gathered)


async def concatenated(streams: list[AsyncIterator[bytes]]) -> AsyncIterator[bytes]:
    for stream in streams:
        async for piece in stream:
            yield piece
