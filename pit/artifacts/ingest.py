"""Putting content into a blob store: hashed as it streams, chunked when it is large."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from pit.artifacts.blob_port import BlobStore
from pit.artifacts.chunking import CHUNKING_THRESHOLD, DEFAULT_PARAMS, Chunker, ChunkParams
from pit.artifacts.hashing import ByteStream, StreamHasher, bytes_stream, digest_of, file_stream
from pit.artifacts.manifest import ChunkRef
from pit.artifacts.text import MAX_INDEXED_BYTES
from pit.common.errors import InvalidInputError

Content = bytes | Path | ByteStream
"""What `put` accepts: bytes, a file to stream, or an async stream of byte pieces."""


@dataclass(frozen=True)
class Ingested:
    digest: str
    size: int
    chunks: tuple[ChunkRef, ...] | None
    new_blobs: int
    head: bytes
    """The first bytes (up to MAX_INDEXED_BYTES), for text extraction."""


def as_stream(content: Content, field: str = "content") -> ByteStream:
    """`content` as an async stream of pieces."""
    if isinstance(content, bytes | bytearray | memoryview):
        return bytes_stream(bytes(content))
    if isinstance(content, Path):
        if not content.is_file():
            raise InvalidInputError.for_field(field, str(content), "must be an existing file")
        return file_stream(content, field=field)
    if hasattr(content, "__aiter__"):
        return content
    raise InvalidInputError.for_field(field, type(content).__name__, "bytes, a Path or a stream")


async def ingest(
    blobs: BlobStore,
    source: ByteStream,
    *,
    storage_class: str | None = None,
    threshold: int = CHUNKING_THRESHOLD,
    params: ChunkParams = DEFAULT_PARAMS,
) -> Ingested:
    """Store `source`: as one blob below `threshold` bytes, else as content-defined chunks.

    Memory stays bounded by `threshold` plus one chunk, whatever the size of the content.
    """
    whole = StreamHasher()
    head = bytearray()
    small = bytearray()
    chunker: Chunker | None = None
    refs: list[ChunkRef] = []
    new_blobs = 0
    async for piece in source:
        whole.update(piece)
        if len(head) < MAX_INDEXED_BYTES:
            head += piece[: MAX_INDEXED_BYTES - len(head)]
        if chunker is None:
            small += piece
            if len(small) < threshold:
                continue
            chunker = Chunker(params)
            piece, small = bytes(small), bytearray()
        new_blobs += await _store_chunks(blobs, chunker.feed(piece), refs, storage_class)
    if chunker is None:
        written = await blobs.put_blob(whole.digest, bytes(small), storage_class=storage_class)
        return Ingested(whole.digest, whole.size, None, int(written), bytes(head))
    new_blobs += await _store_chunks(blobs, chunker.finish(), refs, storage_class)
    return Ingested(whole.digest, whole.size, tuple(refs), new_blobs, bytes(head))


async def _store_chunks(
    blobs: BlobStore, chunks: list[bytes], refs: list[ChunkRef], storage_class: str | None
) -> int:
    digests = [digest_of(chunk) for chunk in chunks]
    written = await asyncio.gather(
        *(
            blobs.put_blob(digest, chunk, storage_class=storage_class)
            for digest, chunk in zip(digests, chunks, strict=True)
        )
    )
    refs.extend(ChunkRef(digest=d, size=len(c)) for d, c in zip(digests, chunks, strict=True))
    return sum(written)


async def concatenated(streams: list[AsyncIterator[bytes]]) -> AsyncIterator[bytes]:
    for stream in streams:
        async for piece in stream:
            yield piece
