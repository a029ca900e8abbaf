"""`verify --repair`: rebuild corrupt or missing blobs from content that still exists intact.

Sources, in order:
1. a second copy the blob store holds itself (`BlobStore.repair_blob`: a local tier copy
   left by an interrupted move);
2. for a whole blob, the chunks of another version with the same content (stored chunked,
   say, under another chunking threshold);
3. for a chunk, the same byte range of its version's content read from another intact
   representation: the content's whole blob, or another version's chunks.

Every rebuilt blob is hashed on the way in and read back before it counts as repaired:
repair never writes bytes that do not match the digest. Content with no intact copy
anywhere cannot come back, and neither can a manifest (there is one copy of each).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

from pit.artifacts.blob_port import BlobStore
from pit.artifacts.ingest import concatenated
from pit.artifacts.manifest import Manifest
from pit.common.errors import IntegrityError, NotFoundError
from pit.common.logging import get_logger

log = get_logger("pit.artifacts")
Source = Callable[[], AsyncIterator[bytes]]
"""A fresh stream of the bytes a blob should hold."""


async def repair_blobs(
    blobs: BlobStore, broken: set[str], manifests: list[Manifest], intact: set[str]
) -> list[str]:
    """The digests in `broken` that were rebuilt, sorted; `intact` are the blobs known good.

    A repaired blob may make another repairable (a chunk that completes a version), so the
    pass repeats until it makes no more progress.
    """
    usable = set(intact)
    pending = sorted(broken - intact)
    repaired: list[str] = []
    progress = True
    while pending and progress:
        progress = False
        for digest in list(pending):
            if await _repair_one(blobs, digest, manifests, usable):
                usable.add(digest)
                repaired.append(digest)
                pending.remove(digest)
                progress = True
    return sorted(repaired)


async def _repair_one(
    blobs: BlobStore, digest: str, manifests: list[Manifest], usable: set[str]
) -> bool:
    if await blobs.repair_blob(digest) and await _intact(blobs, digest):
        return True
    for source in _sources(blobs, digest, manifests, usable):
        if await _rewrite(blobs, digest, source):
            log.warning("blob %s rebuilt from other versions' content", digest)
            return True
    return False


def _sources(
    blobs: BlobStore, digest: str, manifests: list[Manifest], usable: set[str]
) -> Iterator[Source]:
    def chunks_of(manifest: Manifest) -> Source:
        return lambda: concatenated([blobs.open_blob(d) for d in manifest.blob_digests])

    def whole(content_digest: str) -> Iterator[Source]:
        """Every intact representation of the content `content_digest`."""
        if content_digest in usable:
            yield lambda: blobs.open_blob(content_digest)
        for other in manifests:
            if (
                other.digest == content_digest
                and other.chunks is not None
                and digest not in other.blob_digests
                and usable.issuperset(other.blob_digests)
            ):
                yield chunks_of(other)

    yield from whole(digest)
    for manifest in manifests:
        if manifest.chunks is None or digest not in manifest.blob_digests:
            continue
        offset = 0
        for chunk in manifest.chunks:
            if chunk.digest == digest:
                for content in whole(manifest.digest):
                    yield _slice(content, offset, chunk.size)
                break
            offset += chunk.size


def _slice(content: Source, start: int, length: int) -> Source:
    async def sliced() -> AsyncIterator[bytes]:
        position = 0
        stream = content()
        try:
            async for piece in stream:
                end = position + len(piece)
                if end > start and position < start + length:
                    yield piece[max(0, start - position) : start + length - position]
                position = end
                if position >= start + length:
                    return
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()  # type: ignore[attr-defined]  # release its file now

    return sliced


async def _rewrite(blobs: BlobStore, digest: str, source: Source) -> bool:
    """Write the blob from `source` and read it back; a store that kept a copy it wrongly
    trusted (an S3 object with a forged seal) has it removed and written again."""
    for attempt in range(2):
        if attempt:
            await blobs.delete_blob(digest)
        try:
            await blobs.put_blob(digest, source())
        except (IntegrityError, NotFoundError):
            return False  # the source was not intact after all
        if await _intact(blobs, digest):
            return True
    return False


async def _intact(blobs: BlobStore, digest: str) -> bool:
    try:
        async for _ in blobs.open_blob(digest):
            pass
    except (IntegrityError, NotFoundError):
        return False
    return True
