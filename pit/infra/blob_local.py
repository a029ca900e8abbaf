"""The local-directory blob store: the embedded default.

    <root>/blobs/sha256/<2 hex>/<2 hex>/<64 hex>      content, written temp + fsync + rename
    <root>/manifests/<name>/@v/<version:010d>.json    manifests, created with O_EXCL semantics
    <root>/tmp/                                       writes in progress (never read)

`@` cannot appear in an artifact name, so `a/b`'s versions never collide with artifact `a/b/c`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from pit.artifacts.blob_port import BlobInfo, BlobSource
from pit.artifacts.hashing import READ_SIZE, StreamHasher, hex_of, verified
from pit.artifacts.manifest import Manifest, parse_manifest
from pit.artifacts.names import check_artifact_name, check_digest, check_storage_class
from pit.common.errors import ConflictError, NotFoundError
from pit.common.fs import create_exclusive, fsync_dir

VERSIONS_DIR = "@v"


class LocalBlobStore:
    """Blobs and manifests in a directory tree; safe for many processes on one host."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri() if root.is_absolute() else str(root)
        self._blobs = root / "blobs" / "sha256"
        self._manifests = root / "manifests"
        self._tmp = root / "tmp"

    # blobs

    def _blob_path(self, digest: str) -> Path:
        hex_digits = hex_of(check_digest(digest))
        return self._blobs / hex_digits[:2] / hex_digits[2:4] / hex_digits

    async def put_blob(
        self, digest: str, content: BlobSource, *, storage_class: str | None = None
    ) -> bool:
        path = self._blob_path(digest)
        if storage_class is not None:
            check_storage_class(storage_class)  # one local tier: accepted and recorded only
        if await asyncio.to_thread(path.exists):
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
        path = self._blob_path(digest)
        async for piece in verified(self._read(path, digest), digest, f"blob {digest}"):
            yield piece

    async def _read(self, path: Path, digest: str) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise NotFoundError(f"blob {digest} is missing from {self.url}") from None
        try:
            while block := await asyncio.to_thread(handle.read, READ_SIZE):
                yield block
        finally:
            handle.close()

    async def has_blob(self, digest: str) -> bool:
        return await asyncio.to_thread(self._blob_path(digest).exists)

    async def delete_blob(self, digest: str) -> None:
        path = self._blob_path(digest)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)

    async def list_blobs(self) -> AsyncIterator[BlobInfo]:
        for info in await asyncio.to_thread(self._scan_blobs):
            yield info

    def _scan_blobs(self) -> list[BlobInfo]:
        found: list[BlobInfo] = []
        if not self._blobs.is_dir():
            return found
        for first in sorted(self._blobs.iterdir()):
            for second in sorted(first.iterdir()):
                for entry in sorted(second.iterdir()):
                    found.append(BlobInfo("sha256:" + entry.name, entry.stat().st_size))
        return found

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

    async def close(self) -> None:
        return None


def _is_manifest_file(entry: str) -> bool:
    return entry.endswith(".json") and entry[:-5].isdigit() and not entry.startswith(".")
