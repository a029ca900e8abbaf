"""The local-directory blob store: the embedded default.

    <root>/blobs/sha256/<2 hex>/<2 hex>/<64 hex>      content (hot), temp + fsync + rename
    <root>/tiers/warm/sha256/<2>/<2>/<64 hex>         content in the warm tier
    <root>/tiers/cold/sha256/<2>/<2>/<64 hex>.zst     content in the cold tier, zstd-compressed
    <root>/manifests/<name>/@v/<version:010d>.json    manifests, created with O_EXCL semantics
    <root>/tombstones/<name>/@v/<version:010d>.json   soft deletes, created with O_EXCL semantics
    <root>/tmp/                                       writes in progress (never read)

A blob lives in one tier; a move writes the new copy completely before removing the old one,
and a read probes hot, warm, cold and probes again if the blob moved under it.

`@` cannot appear in an artifact name, so `a/b`'s versions never collide with artifact `a/b/c`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import zstandard

from pit.artifacts.blob_port import BLOB_TIERS, BlobInfo, BlobSource, BlobTier
from pit.artifacts.hashing import READ_SIZE, StreamHasher, hex_of, verified
from pit.artifacts.manifest import Manifest, parse_manifest
from pit.artifacts.names import check_artifact_name, check_digest, check_storage_class
from pit.artifacts.tombstone import Tombstone, parse_tombstone
from pit.common.errors import ConflictError, NotFoundError
from pit.common.fs import create_exclusive, fsync_dir

VERSIONS_DIR = "@v"
COLD_SUFFIX = ".zst"
ZSTD_LEVEL = 10
"""Cold blobs are written rarely and read seldom: spend CPU for bytes."""


class LocalBlobStore:
    """Blobs and manifests in a directory tree; safe for many processes on one host."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri() if root.is_absolute() else str(root)
        self._blobs = root / "blobs" / "sha256"
        self._manifests = root / "manifests"
        self._tombstones = root / "tombstones"
        self._tmp = root / "tmp"
        self._tier_roots: dict[BlobTier, Path] = {
            "hot": self._blobs,
            "warm": root / "tiers" / "warm" / "sha256",
            "cold": root / "tiers" / "cold" / "sha256",
        }

    # blobs

    def _blob_path(self, digest: str, tier: BlobTier = "hot") -> Path:
        hex_digits = hex_of(check_digest(digest))
        leaf = hex_digits + (COLD_SUFFIX if tier == "cold" else "")
        return self._tier_roots[tier] / hex_digits[:2] / hex_digits[2:4] / leaf

    def _find(self, digest: str) -> tuple[BlobTier, Path] | None:
        """Where the blob is now; probed twice, so a blob moving warmer (new copy written,
        old removed between two probes) is still found."""
        for _ in range(2):
            for tier in BLOB_TIERS:
                path = self._blob_path(digest, tier)
                if path.exists():
                    return tier, path
        return None

    def _touch(self, digest: str) -> bool:
        """Mark an existing blob as just written (a deduplicated put): purge never sweeps a
        blob touched after its mark. False if the blob is absent."""
        for _ in range(2):
            found = self._find(digest)
            if found is None:
                return False
            with contextlib.suppress(FileNotFoundError):
                os.utime(found[1])
                return True
        return False

    async def put_blob(
        self, digest: str, content: BlobSource, *, storage_class: str | None = None
    ) -> bool:
        path = self._blob_path(digest)
        if storage_class is not None:
            check_storage_class(storage_class)  # one local tier: accepted and recorded only
        if await asyncio.to_thread(self._touch, digest):
            return False
        if isinstance(content, bytes):
            return await asyncio.to_thread(self._write_blob, path, digest, [content])
        handle, temp = await asyncio.to_thread(self._open_temp)
        hasher = StreamHasher()
        try:
            async for piece in content:
                hasher.update(piece)
                await asyncio.to_thread(handle.write, piece)
            await asyncio.to_thread(self._finish, handle, temp, path, digest, hasher)
        except BaseException:
            handle.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return True

    def _open_temp(self) -> tuple[BinaryIO, str]:
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="blob.")
        return os.fdopen(fd, "wb"), name

    def _write_blob(self, path: Path, digest: str, pieces: list[bytes]) -> bool:
        handle, temp = self._open_temp()
        hasher = StreamHasher()
        try:
            for piece in pieces:
                hasher.update(piece)
                handle.write(piece)
            self._finish(handle, temp, path, digest, hasher)
        except BaseException:
            handle.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return True

    @staticmethod
    def _finish(
        handle: BinaryIO,
        temp: str,
        path: Path,
        digest: str,
        hasher: StreamHasher,
    ) -> None:
        hasher.require(digest, "blob not stored")
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, path)
        fsync_dir(path.parent)

    async def open_blob(self, digest: str) -> AsyncIterator[bytes]:
        async for piece in verified(self._read(digest), digest, f"blob {digest}"):
            yield piece

    def _open(self, digest: str) -> tuple[BlobTier, BinaryIO]:
        for _ in range(2):
            found = self._find(digest)
            if found is None:
                break
            with contextlib.suppress(FileNotFoundError):  # moved between probe and open
                return found[0], found[1].open("rb")
        raise NotFoundError(f"blob {digest} is missing from {self.url}")

    async def _read(self, digest: str) -> AsyncIterator[bytes]:
        tier, handle = await asyncio.to_thread(self._open, digest)
        try:
            if tier == "cold":
                reader = zstandard.ZstdDecompressor().stream_reader(handle, closefd=False)
                with reader:
                    while block := await asyncio.to_thread(reader.read, READ_SIZE):
                        yield block
                return
            while block := await asyncio.to_thread(handle.read, READ_SIZE):
                yield block
        finally:
            handle.close()

    async def has_blob(self, digest: str) -> bool:
        return await asyncio.to_thread(self._find, digest) is not None

    async def delete_blob(self, digest: str) -> None:
        await asyncio.to_thread(self._remove_everywhere, digest)

    def _remove_everywhere(self, digest: str) -> None:
        for tier in BLOB_TIERS:
            with contextlib.suppress(FileNotFoundError):
                self._blob_path(digest, tier).unlink()

    async def delete_blobs(self, digests: Sequence[str]) -> None:
        for digest in digests:
            await self.delete_blob(digest)

    async def move_blob(self, digest: str, tier: BlobTier) -> BlobInfo:
        return await asyncio.to_thread(self._move, digest, tier)

    def _move(self, digest: str, tier: BlobTier) -> BlobInfo:
        source_tier, handle = self._open(digest)
        target = self._blob_path(digest, tier)
        if source_tier != tier:
            with handle:
                self._copy_into_tier(handle, source_tier, digest, target)
            # the new copy is complete and durable: only now does the old one go
            with contextlib.suppress(FileNotFoundError):
                self._blob_path(digest, source_tier).unlink()
        else:
            handle.close()
        return self._info(digest, tier, target)

    def _copy_into_tier(
        self, source: BinaryIO, source_tier: BlobTier, digest: str, target: Path
    ) -> None:
        out, temp = self._open_temp()
        hasher = StreamHasher()
        try:
            if target.name.endswith(COLD_SUFFIX):
                compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
                with compressor.stream_writer(out, closefd=False) as writer:
                    for block in _plain_blocks(source, source_tier):
                        hasher.update(block)
                        writer.write(block)
            else:
                for block in _plain_blocks(source, source_tier):
                    hasher.update(block)
                    out.write(block)
            self._finish(out, temp, target, digest, hasher)
        except BaseException:
            out.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    @staticmethod
    def _info(digest: str, tier: BlobTier, path: Path) -> BlobInfo:
        stat = path.stat()
        return BlobInfo(digest, stat.st_size, tier, datetime.fromtimestamp(stat.st_mtime, UTC))

    async def list_blobs(self) -> AsyncIterator[BlobInfo]:
        for info in await asyncio.to_thread(self._scan_blobs):
            yield info

    def _scan_blobs(self) -> list[BlobInfo]:
        found: dict[str, BlobInfo] = {}
        for tier in BLOB_TIERS:
            base = self._tier_roots[tier]
            if not base.is_dir():
                continue
            for first in sorted(base.iterdir()):
                for second in sorted(first.iterdir()):
                    for entry in sorted(second.iterdir()):
                        digest = "sha256:" + entry.name.removesuffix(COLD_SUFFIX)
                        with contextlib.suppress(FileNotFoundError):  # moved while listed
                            found.setdefault(digest, self._info(digest, tier, entry))
        return [found[digest] for digest in sorted(found)]

    # manifests

    def _versions_dir(self, name: str) -> Path:
        return self._manifests / check_artifact_name(name) / VERSIONS_DIR

    async def create_manifest(self, manifest: Manifest) -> None:
        path = self._versions_dir(manifest.name) / f"{manifest.version:010d}.json"
        data = manifest.model_dump_json(indent=2).encode() + b"\n"
        if not await asyncio.to_thread(create_exclusive, path, data):
            raise ConflictError(
                f"{manifest.name} v{manifest.version} already exists",
                name=manifest.name,
                version=manifest.version,
            )

    async def get_manifest(self, name: str, version: int) -> Manifest:
        path = self._versions_dir(name) / f"{version:010d}.json"
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFoundError(f"{name} v{version} does not exist", name=name) from None
        return parse_manifest(data, f"{name} v{version}")

    async def list_versions(self, name: str) -> list[int]:
        directory = self._versions_dir(name)
        try:
            entries = await asyncio.to_thread(os.listdir, directory)
        except FileNotFoundError:
            return []
        return sorted(int(entry[:-5]) for entry in entries if _is_manifest_file(entry))

    async def list_names(self) -> AsyncIterator[str]:
        for name in await asyncio.to_thread(self._scan_names):
            yield name

    def _scan_names(self) -> list[str]:
        names: list[str] = []
        for directory, subdirs, _ in os.walk(self._manifests):
            if VERSIONS_DIR in subdirs:
                subdirs.remove(VERSIONS_DIR)
                names.append(Path(directory).relative_to(self._manifests).as_posix())
        return sorted(names)

    async def delete_manifests(self, keys: Sequence[tuple[str, int]]) -> None:
        for name, version in keys:
            path = self._versions_dir(name) / f"{version:010d}.json"
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(path.unlink)

    # tombstones

    def _tombstone_path(self, name: str, version: int) -> Path:
        return self._tombstones / check_artifact_name(name) / VERSIONS_DIR / f"{version:010d}.json"

    async def create_tombstone(self, tombstone: Tombstone) -> None:
        path = self._tombstone_path(tombstone.name, tombstone.version)
        data = tombstone.model_dump_json(indent=2).encode() + b"\n"
        if not await asyncio.to_thread(create_exclusive, path, data):
            raise ConflictError(
                f"{tombstone.name} v{tombstone.version} is deleted already",
                name=tombstone.name,
                version=tombstone.version,
            )

    async def deleted_versions(self, name: str) -> set[int]:
        directory = self._tombstones / check_artifact_name(name) / VERSIONS_DIR
        try:
            entries = await asyncio.to_thread(os.listdir, directory)
        except FileNotFoundError:
            return set()
        return {int(entry[:-5]) for entry in entries if _is_manifest_file(entry)}

    async def list_tombstones(self) -> AsyncIterator[Tombstone]:
        for path in await asyncio.to_thread(lambda: list(self._tombstone_files())):
            try:
                data = await asyncio.to_thread(path.read_bytes)
            except FileNotFoundError:
                continue  # restored or purged while listed
            yield parse_tombstone(data, str(path.relative_to(self._tombstones)))

    def _tombstone_files(self) -> Iterator[Path]:
        for directory, subdirs, files in sorted(os.walk(self._tombstones)):
            subdirs.sort()
            if Path(directory).name == VERSIONS_DIR:
                yield from (Path(directory) / f for f in sorted(files) if _is_manifest_file(f))

    async def delete_tombstones(self, keys: Sequence[tuple[str, int]]) -> None:
        for name, version in keys:
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(self._tombstone_path(name, version).unlink)

    async def close(self) -> None:
        return None


def _plain_blocks(handle: BinaryIO, tier: BlobTier) -> Iterator[bytes]:
    """The uncompressed bytes of a blob file of `tier`, block by block."""
    if tier == "cold":
        reader = zstandard.ZstdDecompressor().stream_reader(handle, closefd=False)
        while block := reader.read(READ_SIZE):
            yield block
        return
    while block := handle.read(READ_SIZE):
        yield block


def _is_manifest_file(entry: str) -> bool:
    return entry.endswith(".json") and entry[:-5].isdigit() and not entry.startswith(".")
