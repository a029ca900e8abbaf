"""The local-directory blob store: the embedded default.

    <root>/blobs/sha256/<2 hex>/<2 hex>/<64 hex>      content (hot), temp + fsync + rename
    <root>/tiers/warm/sha256/<2>/<2>/<64 hex>         content in the warm tier
    <root>/tiers/cold/sha256/<2>/<2>/<64 hex>.zst     content in the cold tier, zstd-compressed
    <root>/manifests/<name>/@v/<version:010d>.json    manifests, created with O_EXCL semantics
    <root>/tombstones/<name>/@v/<version:010d>.json   soft deletes, created with O_EXCL semantics
    <root>/tmp/                                       writes in progress (never read); purge
                                                      removes what is left there a day later

A blob lives in one tier; a move writes the new copy completely before removing the old one,
and a read probes hot, warm, cold and probes again if the blob moved under it. Nothing below
the root is reached through a symbolic link (`pit.infra.store_tree`).

A put of bytes that are stored already compares them with the stored copy (cheaper than
hashing it again, and as safe: the new bytes were hashed on the way in); a copy that differs
is rewritten from the new bytes. Bytes are hashed once on the way in: here, or, given
`HashedBytes`, when they were made (the ingest hashes each chunk as it cuts it).

Manifests and tombstones: `pit.infra.local_records`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import zstandard

from pit.artifacts.blob_port import BLOB_TIERS, BlobInfo, BlobSource, BlobTier
from pit.artifacts.hashing import HashedBytes, StreamHasher, hex_of, verified
from pit.artifacts.manifest import MAX_MANIFEST_BYTES, Manifest, manifest_bytes, parse_manifest
from pit.artifacts.names import check_digest, check_storage_class
from pit.artifacts.tombstone import MAX_TOMBSTONE_BYTES, Tombstone, parse_tombstone
from pit.common.errors import ConflictError, NotFoundError
from pit.common.logging import get_logger
from pit.infra.blob_files import (
    COLD_SUFFIX,
    file_blocks,
    hashes_to,
    plain_blocks,
    same_content,
    touch,
)
from pit.infra.local_records import LocalRecords
from pit.infra.os_errors import os_errors
from pit.infra.store_tree import TMP, StoreTree

log = get_logger("pit.artifacts")
ZSTD_LEVEL = 10
"""Cold blobs are written rarely and read seldom: spend CPU for bytes."""
_HEX = frozenset("0123456789abcdef")
_WRITERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="pit-blob-write")
"""Blob writes wait on fsync, not on the CPU: the ingest keeps many in flight so that their
fsyncs overlap, more than asyncio's default pool of cores + 4 threads would run."""
FRESH_SECONDS = 60.0
"""A blob written this recently may still be a name its writer has not fsynced into its
directory: a put that deduplicates against it fsyncs the directory before its manifest can
name the blob (older names are durable: the kernel commits metadata within seconds)."""

Place = tuple[tuple[str, ...], str]
"""A file in the store: its directory's components and its name."""


class LocalBlobStore:
    """Blobs and manifests in a directory tree; safe for many processes on one host."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri() if root.is_absolute() else str(root)
        self._tree = StoreTree(root)
        self._manifests = LocalRecords(self._tree, "manifests")
        self._tombstones = LocalRecords(self._tree, "tombstones")

    def _io(self, what: str) -> contextlib.AbstractContextManager[None]:
        return os_errors(self.url, what)

    async def exists(self) -> bool:
        return await asyncio.to_thread(self.root.is_dir)

    # blobs

    @staticmethod
    def _tier_dir(tier: BlobTier) -> tuple[str, ...]:
        return ("blobs", "sha256") if tier == "hot" else ("tiers", tier, "sha256")

    def _blob_place(self, digest: str, tier: BlobTier) -> Place:
        hex_digits = hex_of(check_digest(digest))
        leaf = hex_digits + (COLD_SUFFIX if tier == "cold" else "")
        return (*self._tier_dir(tier), hex_digits[:2], hex_digits[2:4]), leaf

    def _open_copy(self, digest: str, *, rounds: int = 2) -> tuple[BlobTier, BinaryIO] | None:
        """The blob's file, open, and its tier; probed `rounds` times, so a blob moving warmer
        (new copy written, old removed between two probes) is still found."""
        for _ in range(rounds):
            for tier in BLOB_TIERS:
                try:
                    return tier, self._tree.open_read(*self._blob_place(digest, tier))
                except FileNotFoundError:
                    continue
        return None

    async def put_blob(
        self, digest: str, content: BlobSource, *, storage_class: str | None = None
    ) -> bool:
        check_digest(digest)
        if storage_class is not None:
            check_storage_class(storage_class)  # one local tier: accepted and recorded only
        with self._io(f"store blob {digest}"):
            if isinstance(content, bytes):
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(_WRITERS, self._put_bytes, digest, content)
            return await self._put_stream(digest, content)

    def _put_bytes(self, digest: str, data: bytes) -> bool:
        hashed = isinstance(data, HashedBytes)
        if isinstance(data, HashedBytes):
            data.require(digest, "blob not stored")
        # one round: a blob missed while it moves warmer is written again, which is harmless
        found = self._open_copy(digest, rounds=1)
        if found is None:
            self._write_copy(digest, [data], "hot", hashed=hashed)
            return True
        tier, handle = found
        with handle:
            same = same_content(handle, tier, digest, [data])
            fresh = time.time() - os.fstat(handle.fileno()).st_mtime < FRESH_SECONDS
            if same and touch(handle):
                if fresh:  # its writer may not have made the name durable yet: we need it
                    self._tree.sync(self._blob_place(digest, tier)[0])
                return False
        # removed between the probe and the touch: write it again; different: rewrite it
        self._write_copy(digest, [data], "hot" if same else tier, hashed=hashed)
        if not same:
            log.warning("blob %s did not match its digest; rewritten from new bytes", digest)
        return True

    async def _put_stream(self, digest: str, content: AsyncIterable[bytes]) -> bool:
        handle, temp = await asyncio.to_thread(self._tree.new_temp, "blob.")
        hasher = StreamHasher()
        try:
            with handle:
                async for piece in content:
                    hasher.update(piece)
                    await asyncio.to_thread(handle.write, piece)
                hasher.require(digest, "blob not stored")
                await asyncio.to_thread(handle.flush)
                return await asyncio.to_thread(self._settle, digest, handle, temp)
        finally:
            await asyncio.to_thread(self._tree.discard_temp, temp)

    def _settle(self, digest: str, written: BinaryIO, temp: str) -> bool:
        """A streamed blob, verified in `tmp/`: dropped if an identical copy is stored, else
        put in place (in the tier of a copy that turned out to differ)."""
        found = self._open_copy(digest)
        tier: BlobTier = "hot"
        if found is not None:
            tier, stored = found
            with stored, self._tree.open_read(TMP, temp) as fresh:
                same = same_content(stored, tier, digest, file_blocks(fresh))
                if same and touch(stored):
                    return False
            if same:
                tier = "hot"  # removed between the probe and the touch: write it again
            else:
                log.warning("blob %s did not match its digest; rewritten from new bytes", digest)
        if tier == "hot":
            os.fsync(written.fileno())
            self._tree.publish(temp, *self._blob_place(digest, "hot"))
            return True
        with self._tree.open_read(TMP, temp) as fresh:
            self._write_copy(digest, file_blocks(fresh), tier)
        return True

    def _write_copy(
        self, digest: str, blocks: Iterable[bytes], tier: BlobTier, *, hashed: bool = False
    ) -> None:
        """Write `blocks` as the blob's copy in `tier` (compressed in cold): hashed as they
        go (unless `hashed`: `HashedBytes` checked already), IntegrityError and nothing
        stored if they do not hash to `digest`."""
        out, temp = self._tree.new_temp("blob.")
        hasher = StreamHasher()
        published = False
        try:
            with out:
                if tier == "cold":
                    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
                    with compressor.stream_writer(out, closefd=False) as writer:
                        for block in blocks:
                            hasher.update(block)
                            writer.write(block)
                elif hashed:
                    for block in blocks:
                        out.write(block)
                else:
                    for block in blocks:
                        hasher.update(block)
                        out.write(block)
                if not hashed:
                    hasher.require(digest, "blob not stored")
                out.flush()
                os.fsync(out.fileno())
            published = self._tree.publish(temp, *self._blob_place(digest, tier))
        finally:
            if not published:
                self._tree.discard_temp(temp)

    async def open_blob(self, digest: str) -> AsyncIterator[bytes]:
        check_digest(digest)
        async for piece in verified(self._read(digest), digest, f"blob {digest}"):
            yield piece

    async def _read(self, digest: str) -> AsyncIterator[bytes]:
        with self._io(f"read blob {digest}"):
            found = await asyncio.to_thread(self._open_copy, digest)
            if found is None:
                raise NotFoundError(f"blob {digest} is missing from {self.url}")
            tier, handle = found
            try:
                blocks = plain_blocks(handle, tier, digest)
                while (block := await asyncio.to_thread(next, blocks, b"")) != b"":
                    yield block
            finally:
                handle.close()

    async def has_blob(self, digest: str) -> bool:
        with self._io(f"look up blob {digest}"):
            found = await asyncio.to_thread(self._open_copy, digest)
        if found is None:
            return False
        found[1].close()
        return True

    async def delete_blob(self, digest: str) -> None:
        with self._io(f"delete blob {digest}"):
            await asyncio.to_thread(self._remove_everywhere, digest)

    def _remove_everywhere(self, digest: str) -> None:
        for tier in BLOB_TIERS:
            self._tree.unlink(*self._blob_place(digest, tier))

    async def delete_blobs(self, digests: Sequence[str]) -> None:
        for digest in digests:
            await self.delete_blob(digest)

    async def move_blob(self, digest: str, tier: BlobTier) -> BlobInfo:
        with self._io(f"move blob {digest}"):
            return await asyncio.to_thread(self._move, digest, tier)

    def _move(self, digest: str, tier: BlobTier) -> BlobInfo:
        found = self._open_copy(digest)
        if found is None:
            raise NotFoundError(f"blob {digest} is missing from {self.url}")
        source_tier, handle = found
        with handle:
            if source_tier != tier:
                self._write_copy(digest, plain_blocks(handle, source_tier, digest), tier)
        if source_tier != tier:
            # the new copy is complete and durable: only now does the old one go
            self._tree.unlink(*self._blob_place(digest, source_tier))
        return self._info(digest, tier)

    def _info(self, digest: str, tier: BlobTier) -> BlobInfo:
        status = self._tree.lstat(*self._blob_place(digest, tier))
        if status is None:
            raise NotFoundError(f"blob {digest} is missing from {self.url}")
        return BlobInfo(digest, status.st_size, tier, datetime.fromtimestamp(status.st_mtime, UTC))

    async def repair_blob(self, digest: str) -> bool:
        with self._io(f"repair blob {digest}"):
            return await asyncio.to_thread(self._repair_from_copy, digest)

    def _repair_from_copy(self, digest: str) -> bool:
        """Rewrite every copy of the blob that does not hash to its digest from one that does
        (two copies exist when a tier move was interrupted); False if there is no such pair."""
        healthy: list[BlobTier] = []
        broken: list[BlobTier] = []
        for tier in BLOB_TIERS:
            try:
                handle = self._tree.open_read(*self._blob_place(digest, tier))
            except FileNotFoundError:
                continue
            with handle:
                (healthy if hashes_to(handle, tier, digest) else broken).append(tier)
        if not healthy or not broken:
            return False
        for tier in broken:
            with self._tree.open_read(*self._blob_place(digest, healthy[0])) as source:
                self._write_copy(digest, plain_blocks(source, healthy[0], digest), tier)
        log.warning("blob %s: %s copy rewritten from the %s copy", digest, broken, healthy[0])
        return True

    async def list_blobs(self) -> AsyncIterator[BlobInfo]:
        with self._io("list blobs"):
            found = await asyncio.to_thread(self._scan_blobs)
        for info in found:
            yield info

    def _scan_blobs(self) -> list[BlobInfo]:
        found: dict[str, BlobInfo] = {}
        for tier in BLOB_TIERS:
            base = self._tier_dir(tier)
            suffix = COLD_SUFFIX if tier == "cold" else ""
            for first in self._tree.subdirectories(base):
                for second in self._tree.subdirectories((*base, first)):
                    for name, status in self._tree.files((*base, first, second)):
                        hex_digits = name.removesuffix(suffix) if name.endswith(suffix) else ""
                        if len(hex_digits) != 64 or not _HEX.issuperset(hex_digits):
                            continue  # not a blob this store wrote: never read, never listed
                        modified = datetime.fromtimestamp(status.st_mtime, UTC)
                        digest = "sha256:" + hex_digits
                        found.setdefault(digest, BlobInfo(digest, status.st_size, tier, modified))
        return [found[digest] for digest in sorted(found)]

    async def remove_leftovers(self, before: datetime) -> int:
        with self._io("clean tmp/"):
            return await asyncio.to_thread(self._tree.remove_older, TMP, before.timestamp())

    # manifests and tombstones

    async def create_manifest(self, manifest: Manifest) -> None:
        name, version = manifest.name, manifest.version
        data = manifest_bytes(manifest)
        with self._io(f"create manifest of {name} v{version}"):
            created = await asyncio.to_thread(self._manifests.create, name, version, data)
        if not created:
            raise ConflictError(f"{name} v{version} already exists", name=name, version=version)

    async def get_manifest(self, name: str, version: int) -> Manifest:
        with self._io(f"read manifest of {name} v{version}"):
            data = await asyncio.to_thread(self._manifests.read, name, version, MAX_MANIFEST_BYTES)
        if data is None:
            raise NotFoundError(f"{name} v{version} does not exist", name=name)
        return parse_manifest(data, f"{name} v{version}", name=name, version=version)

    async def list_versions(self, name: str) -> list[int]:
        with self._io(f"list versions of {name}"):
            return await asyncio.to_thread(self._manifests.versions, name)

    async def list_names(self) -> AsyncIterator[str]:
        with self._io("list artifacts"):
            found = await asyncio.to_thread(self._manifests.names)
        for name in found:
            yield name

    async def delete_manifests(self, keys: Sequence[tuple[str, int]]) -> None:
        with self._io("delete manifests"):
            await asyncio.to_thread(self._manifests.delete, keys)

    async def create_tombstone(self, tombstone: Tombstone) -> None:
        name, version = tombstone.name, tombstone.version
        data = tombstone.model_dump_json(indent=2).encode() + b"\n"
        with self._io(f"create tombstone of {name} v{version}"):
            created = await asyncio.to_thread(self._tombstones.create, name, version, data)
        if not created:
            raise ConflictError(f"{name} v{version} is deleted already", name=name, version=version)

    async def deleted_versions(self, name: str) -> set[int]:
        with self._io(f"list tombstones of {name}"):
            return set(await asyncio.to_thread(self._tombstones.versions, name))

    async def list_tombstones(self) -> AsyncIterator[Tombstone]:
        with self._io("list tombstones"):
            names = await asyncio.to_thread(self._tombstones.names)
        for name in names:
            for version in sorted(await self.deleted_versions(name)):
                with self._io(f"read tombstone of {name} v{version}"):
                    data = await asyncio.to_thread(
                        self._tombstones.read, name, version, MAX_TOMBSTONE_BYTES
                    )
                if data is not None:  # else restored or purged while listed
                    yield parse_tombstone(data, f"{name} v{version}")

    async def delete_tombstones(self, keys: Sequence[tuple[str, int]]) -> None:
        with self._io("delete tombstones"):
            await asyncio.to_thread(self._tombstones.delete, keys)

    async def close(self) -> None:
        return None
