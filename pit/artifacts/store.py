"""The `ArtifactStore` facade: put, get, open, versions, diff, search, stats, verify, reindex."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field

from pit.artifacts import maintenance
from pit.artifacts import verify as verification
from pit.artifacts.blob_port import BlobStore
from pit.artifacts.chunking import CHUNKING_THRESHOLD, DEFAULT_PARAMS, ChunkParams
from pit.artifacts.hashing import verified
from pit.artifacts.index_port import (
    Filter,
    IndexDocument,
    MetaValue,
    SearchHit,
    SearchIndex,
    SearchQuery,
)
from pit.artifacts.ingest import Content, Ingested, concatenated, ingest
from pit.artifacts.manifest import DEFAULT_MEDIA_TYPE, Manifest
from pit.artifacts.names import (
    check_artifact_name,
    check_media_type,
    check_meta_key,
    check_storage_class,
    check_tag,
    check_version,
)
from pit.artifacts.query import INT_MAX, INT_MIN, INT_RULE
from pit.artifacts.results import PutResult, ReindexReport, StoreStats, VerifyReport
from pit.artifacts.text import MAX_INDEXED_BYTES, Extractor, extract_text, unified_diff
from pit.common.clock import Clock, SystemClock
from pit.common.errors import (
    ConflictError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    PitError,
)
from pit.common.logging import get_logger
from pit.common.metrics import ARTIFACT_BYTES, ARTIFACT_OPERATIONS
from pit.common.spans import observed

log = get_logger("pit.artifacts")

MAX_RACE_RETRIES = 1000
"""How many versions a writer may lose in a row to other writers before it gives up."""
_FETCH_PARALLEL = 16
_PUT, _GET = {"operation": "put"}, {"operation": "get"}


@dataclass
class ArtifactReader:
    """One version being read: its manifest, and its bytes as a verified stream."""

    manifest: Manifest
    stream: AsyncIterator[bytes] = field(repr=False)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.stream


@dataclass(frozen=True)
class ArtifactData:
    manifest: Manifest
    data: bytes = field(repr=False)


class ArtifactStore:
    """Named, versioned, content-addressed artifacts over a `BlobStore` and a `SearchIndex`.

    The blob store holds the truth (bytes and manifests); the index is derived and rebuilt
    by `reindex`. A failing index never fails a put or a read: it is logged, and `reindex`
    catches it up.
    """

    def __init__(
        self,
        blobs: BlobStore,
        index: SearchIndex,
        *,
        clock: Clock | None = None,
        extractors: Mapping[str, Extractor] | None = None,
        chunking_threshold: int = CHUNKING_THRESHOLD,
        chunk_params: ChunkParams = DEFAULT_PARAMS,
    ) -> None:
        self.blobs = blobs
        self.index = index
        self._clock = clock or SystemClock()
        self._extractors = dict(extractors or {})
        self._threshold = chunking_threshold
        self._chunk_params = chunk_params

    async def close(self) -> None:
        await self.blobs.close()
        await self.index.close()

    async def __aenter__(self) -> ArtifactStore:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # writing

    @observed("pit.artifacts.put", ARTIFACT_OPERATIONS, {"operation": "put"})
    async def put(
        self,
        name: str,
        content: Content,
        *,
        media_type: str = DEFAULT_MEDIA_TYPE,
        metadata: Mapping[str, MetaValue] | None = None,
        tags: Iterable[str] = (),
        storage_class: str | None = None,
    ) -> PutResult:
        """Store `content` as the next version of `name`. Everything is checked before a
        byte is written; if another writer takes the version first, this one takes the
        next."""
        check_artifact_name(name)
        check_media_type(media_type)
        meta = _checked_metadata(metadata or {})
        tag_list = tuple(dict.fromkeys(check_tag(tag) for tag in tags))
        if storage_class is not None:
            check_storage_class(storage_class)
        # the next version number is a guess (a lost race takes the next one): looked up
        # while the content is written
        existing = asyncio.ensure_future(self.blobs.list_versions(name))
        try:
            ingested = await ingest(
                self.blobs,
                content,
                storage_class=storage_class,
                threshold=self._threshold,
                params=self._chunk_params,
            )
        except BaseException:
            existing.cancel()
            await asyncio.gather(existing, return_exceptions=True)
            raise
        manifest = await self._commit(
            name, ingested, await existing, media_type, meta, tag_list, storage_class
        )
        await self._index(manifest, ingested.head)
        ARTIFACT_BYTES.add(manifest.size, _PUT)
        return PutResult(
            name=name,
            version=manifest.version,
            digest=manifest.digest,
            size=manifest.size,
            deduplicated=ingested.new_blobs == 0,
            media_type=media_type,
        )

    async def _commit(
        self,
        name: str,
        ingested: Ingested,
        existing: list[int],
        media_type: str,
        metadata: dict[str, MetaValue],
        tags: tuple[str, ...],
        storage_class: str | None,
    ) -> Manifest:
        version = existing[-1] + 1 if existing else 1
        for _ in range(MAX_RACE_RETRIES):
            manifest = Manifest(
                name=name,
                version=version,
                digest=ingested.digest,
                size=ingested.size,
                media_type=media_type,
                created_at=self._clock.now(),
                metadata=metadata,
                tags=tags,
                previous_version=version - 1 if version > 1 else None,
                storage_class=storage_class,
                chunks=ingested.chunks,
            )
            try:
                await self.blobs.create_manifest(manifest)
            except ConflictError:
                version += 1  # another writer took it: it exists, so ours is the next one
                continue
            return manifest
        raise ConflictError(f"{name}: lost {MAX_RACE_RETRIES} version races in a row; try again")

    async def _index(self, manifest: Manifest, head: bytes) -> None:
        try:
            await self.index.index(self.document(manifest, head))
        except PitError as error:  # derived data: reindex catches up
            log.warning("index not updated for %s v%d: %s", manifest.name, manifest.version, error)

    def document(self, manifest: Manifest, head: bytes) -> IndexDocument:
        """The index document of a version whose content starts with `head`."""
        return IndexDocument(
            name=manifest.name,
            version=manifest.version,
            digest=manifest.digest,
            size=manifest.size,
            media_type=manifest.media_type,
            created_at=manifest.created_at,
            metadata=manifest.metadata,
            tags=manifest.tags,
            text=extract_text(manifest.media_type, head, self._extractors),
        )

    # reading

    async def manifest(self, name: str, version: int | None = None) -> Manifest:
        """The manifest of `name` at `version` (the latest when None); NotFoundError if none."""
        check_artifact_name(name)
        latest = version is None
        if version is None:
            versions = await self.live_versions(name)
            if not versions:
                raise NotFoundError(f"artifact {name!r} does not exist", name=name)
            version = versions[-1]
        check_version(version)
        try:
            # the latest live version was just seen without a tombstone: no second look
            if not latest and version in await self.blobs.deleted_versions(name):
                raise NotFoundError(f"{name} v{version} is deleted")
            return await self.blobs.get_manifest(name, version)
        except NotFoundError:
            versions = await self.live_versions(name)
            known = f"latest is v{versions[-1]}" if versions else "the artifact does not exist"
            raise NotFoundError(
                f"{name} v{version} does not exist ({known})", name=name, version=version
            ) from None

    async def live_versions(self, name: str) -> list[int]:
        """The versions of `name` that are not deleted (softly, by a tombstone), ascending."""
        numbers = await self.blobs.list_versions(name)
        if not numbers:
            return numbers
        deleted = await self.blobs.deleted_versions(name)
        return [number for number in numbers if number not in deleted]

    @observed("pit.artifacts.get", ARTIFACT_OPERATIONS, {"operation": "get"})
    async def open(self, name: str, version: int | None = None) -> ArtifactReader:
        """A version's bytes as a stream, checked against its digest (IntegrityError at the
        end of a corrupt stream). Records one access in the index."""
        manifest = await self.manifest(name, version)
        await self._record_access(manifest)
        ARTIFACT_BYTES.add(manifest.size, _GET)
        return ArtifactReader(manifest, self.content_stream(manifest))

    def content_stream(self, manifest: Manifest) -> AsyncIterator[bytes]:
        """The verified bytes of `manifest`, without recording an access: each blob checked
        against its digest, the whole against the manifest's size and digest."""
        what = f"{manifest.name} v{manifest.version}"
        if manifest.chunks is None:  # the blob is hashed against this very digest already
            return verified(self.blobs.open_blob(manifest.digest), None, what, size=manifest.size)
        parts = [self.blobs.open_blob(chunk.digest) for chunk in manifest.chunks]
        return verified(concatenated(parts), manifest.digest, what, size=manifest.size)

    async def get(self, name: str, version: int | None = None) -> ArtifactData:
        """A version's manifest and bytes, in memory; see `open` for large content."""
        reader = await self.open(name, version)
        data = bytearray()
        async for piece in reader:
            data += piece
        return ArtifactData(reader.manifest, bytes(data))

    async def _record_access(self, manifest: Manifest) -> None:
        try:
            await self.index.record_access(manifest.name, manifest.version, self._clock.now())
        except PitError as error:  # derived data: reindex catches up
            log.warning("access to %s v%d not recorded: %s", manifest.name, manifest.version, error)

    async def versions(self, name: str) -> list[Manifest]:
        """Every version of `name`, newest first; NotFoundError if it has none."""
        check_artifact_name(name)
        numbers = await self.live_versions(name)
        if not numbers:
            raise NotFoundError(f"artifact {name!r} does not exist", name=name)
        limit = asyncio.Semaphore(_FETCH_PARALLEL)

        async def fetch(number: int) -> Manifest:
            async with limit:
                return await self.blobs.get_manifest(name, number)

        return list(await asyncio.gather(*(fetch(n) for n in reversed(numbers))))

    async def diff(self, name: str, old: int, new: int) -> str:
        """A unified diff of two versions' text; InvalidInputError for binary content."""
        sides = []
        for version in (old, new):
            found = await self.get(name, check_version(version))
            sides.append((version, found.data, found.manifest.media_type))
        return unified_diff(name, sides[0], sides[1])

    async def search(
        self,
        text: str = "",
        *,
        filters: Iterable[Filter] = (),
        limit: int = 20,
        latest_only: bool = False,
    ) -> list[SearchHit]:
        """Ranked hits from the index for words in `text` and metadata `filters`."""
        if not 1 <= limit <= 1000:
            raise InvalidInputError.for_field("limit", limit, "must be between 1 and 1000")
        query = SearchQuery(text=text, filters=tuple(filters), limit=limit, latest_only=latest_only)
        return await self.index.search(query)

    # maintenance

    async def stats(self) -> StoreStats:
        await self._require_store()
        return await maintenance.stats(self.blobs)

    async def verify(self, *, repair: bool = False) -> VerifyReport:
        """Re-hash every blob and check every manifest against its blobs; with `repair`,
        first rebuild what an intact copy can rebuild (see `pit.artifacts.repair`)."""
        await self._require_store()
        return await verification.verify(self.blobs, repair=repair)

    async def reindex(self) -> ReindexReport:
        await self._require_store()
        """Drop the index and rebuild it from the manifests (and the text of text artifacts)."""
        await self.index.clear()
        indexed = 0
        names: set[str] = set()
        async for manifest in maintenance.all_manifests(self.blobs):
            await self.index.index(self.document(manifest, await self.read_head(manifest)))
            indexed += 1
            names.add(manifest.name)
        return ReindexReport(indexed=indexed, artifacts=len(names))

    async def read_head(self, manifest: Manifest) -> bytes:
        """The first bytes of a version, enough for text extraction; empty when they cannot
        be read (`verify` reports it; the version stays findable by its metadata)."""
        head = bytearray()
        stream = self.content_stream(manifest)
        try:
            async for piece in stream:
                head += piece
                if len(head) >= MAX_INDEXED_BYTES:
                    break
        except (IntegrityError, NotFoundError):
            return b""
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()  # type: ignore[attr-defined]
        return bytes(head[:MAX_INDEXED_BYTES])

    async def _require_store(self) -> None:
        """A store that was never created is an error to inspect, not an empty store."""
        if not await self.blobs.exists():
            raise NotFoundError(
                f"no artifact store at {self.blobs.url} (nothing was ever stored there)",
                url=self.blobs.url,
            )


def _checked_metadata(metadata: Mapping[str, MetaValue]) -> dict[str, MetaValue]:
    checked: dict[str, MetaValue] = {}
    for key, value in metadata.items():
        check_meta_key(key, "metadata")
        if not isinstance(value, str | int | float | bool):
            rule = "a metadata value is a string, a number or a boolean"
            raise InvalidInputError.for_field(f"metadata.{key}", value, rule)
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInputError.for_field(f"metadata.{key}", value, "must be finite")
        if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
            # shown by size: repr() of an integer over 4,300 digits raises
            shown = f"<an integer of {value.bit_length()} bits>"
            raise InvalidInputError.for_field(f"metadata.{key}", shown, INT_RULE)
        checked[key] = value
    return checked
