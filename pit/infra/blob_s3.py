"""The S3 blob store (aiobotocore): blobs and manifests as objects under `s3://bucket/prefix`.

    <prefix>blobs/sha256/<64 hex>                  content; multipart above `part_size`
    <prefix>manifests/<name>/@v/<version:010d>.json  manifests, PutObject with If-None-Match: *
    <prefix>tombstones/<name>/@v/<version:010d>.json soft deletes, If-None-Match: * as well

Tiers are storage classes (hot STANDARD, warm STANDARD_IA, cold GLACIER_IR by default); a move
is a CopyObject of the object onto itself with the new class, so it is readable throughout.
Deletes go in DeleteObjects batches of up to 1,000 keys.

Timeouts are short and retries few, so an unreachable endpoint is a BackendUnavailableError
within seconds, not a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import get_session  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
)

from pit.artifacts.blob_port import BlobInfo, BlobSource, BlobTier
from pit.artifacts.hashing import READ_SIZE, StreamHasher, hex_of, verified
from pit.artifacts.manifest import Manifest, parse_manifest
from pit.artifacts.names import check_artifact_name, check_digest, check_storage_class
from pit.artifacts.tombstone import Tombstone, parse_tombstone
from pit.common.errors import BackendUnavailableError, ConflictError, NotFoundError
from pit.infra.s3_errors import s3_errors
from pit.infra.s3_multipart import Multipart

PART_SIZE = 8 * 1024 * 1024
"""Multipart part size; a stream longer than one part is uploaded in parts as it arrives."""
VERSIONS_DIR = "@v"
DEFAULT_TIER_CLASSES: dict[BlobTier, str] = {
    "hot": "STANDARD",
    "warm": "STANDARD_IA",
    "cold": "GLACIER_IR",
}
MAX_DELETE_KEYS = 1000
TOUCH_AFTER = timedelta(minutes=10)
"""A deduplicated put refreshes a blob's LastModified only when it is older than this; purge's
minimum blob age (default 1 hour) must exceed it."""


class S3BlobStore:
    """Blobs and manifests in one S3 bucket under a key prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 30.0,
        max_attempts: int = 2,
        part_size: int = PART_SIZE,
        tier_classes: Mapping[BlobTier, str] | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        self.part_size = part_size
        self.tier_classes: dict[BlobTier, str] = {**DEFAULT_TIER_CLASSES, **(tier_classes or {})}
        self._tier_of_class = {cls: tier for tier, cls in self.tier_classes.items()}
        self._endpoint_url = endpoint_url
        self._region = region
        self._config = AioConfig(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
        )
        self._client: Any = None
        self._stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        async with self._lock:
            if self._client is None:
                factory = get_session().create_client(
                    "s3",
                    endpoint_url=self._endpoint_url,
                    region_name=self._region,
                    config=self._config,
                )
                self._client = await self._stack.enter_async_context(factory)
            return self._client

    async def close(self) -> None:
        self._client = None
        await self._stack.aclose()

    def _errors(self, what: str) -> contextlib.AbstractContextManager[None]:
        """botocore failures as Pit errors; a missing key is left to the caller."""
        return s3_errors(self.url, self.bucket, what)

    # blobs

    def _blob_key(self, digest: str) -> str:
        return f"{self.prefix}blobs/sha256/{hex_of(check_digest(digest))}"

    async def put_blob(
        self, digest: str, content: BlobSource, *, storage_class: str | None = None
    ) -> bool:
        key = self._blob_key(digest)
        extra = {"StorageClass": check_storage_class(storage_class)} if storage_class else {}
        if await self._touch(key):
            return False
        if isinstance(content, bytes):
            await self._put_whole(key, digest, content, extra)
            return True
        buffer = bytearray()
        hasher = StreamHasher()
        upload: Multipart | None = None
        try:
            async for piece in content:
                hasher.update(piece)
                buffer += piece
                while len(buffer) >= self.part_size:
                    upload = upload or await self._start_multipart(key, extra)
                    await upload.send(bytes(buffer[: self.part_size]))
                    del buffer[: self.part_size]
            if upload is None:
                await self._put_whole(key, digest, bytes(buffer), extra)
                return True
            if buffer:
                await upload.send(bytes(buffer))
            hasher.require(digest, "blob not stored")
            await upload.complete()
        except BaseException:
            if upload is not None:
                await upload.abort()
            raise
        return True

    async def _put_whole(self, key: str, digest: str, data: bytes, extra: dict[str, str]) -> None:
        hasher = StreamHasher()
        hasher.update(data)
        hasher.require(digest, "blob not stored")
        s3 = await self._s3()
        with self._errors("put blob"):
            await s3.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)

    async def _start_multipart(self, key: str, extra: dict[str, str]) -> Multipart:
        s3 = await self._s3()
        with self._errors("start multipart upload"):
            created = await s3.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        return Multipart(s3, self.url, self.bucket, key, created["UploadId"])

    async def open_blob(self, digest: str) -> AsyncIterator[bytes]:
        key = self._blob_key(digest)
        async for piece in verified(self._read(key, f"blob {digest}"), digest, f"blob {digest}"):
            yield piece

    async def _read(self, key: str, what: str) -> AsyncIterator[bytes]:
        s3 = await self._s3()
        try:
            with self._errors(f"read {what}"):
                response = await s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError:
            raise NotFoundError(f"{what} is missing from {self.url}") from None
        async with response["Body"] as body:
            while True:
                with self._errors(f"read {what}"):
                    block = await body.read(READ_SIZE)
                if not block:
                    return
                yield block

    async def has_blob(self, digest: str) -> bool:
        s3 = await self._s3()
        try:
            with self._errors("look up blob"):
                await s3.head_object(Bucket=self.bucket, Key=self._blob_key(digest))
        except ClientError:
            return False
        return True

    async def _touch(self, key: str) -> bool:
        """Mark an existing blob as just written (a deduplicated put), by copying it onto
        itself in its own class: purge never sweeps a blob touched after its mark. Blobs
        written in the last `TOUCH_AFTER` are left as they are (one request fewer). False if
        the blob is absent."""
        s3 = await self._s3()
        try:
            with self._errors("look up blob"):
                head = await s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError:
            return False
        if datetime.now(UTC) - _aware(head["LastModified"]) < TOUCH_AFTER:
            return True  # recent enough: purge's minimum blob age protects it already
        try:
            with self._errors("touch blob"):
                await s3.copy_object(
                    Bucket=self.bucket,
                    Key=key,
                    CopySource={"Bucket": self.bucket, "Key": key},
                    StorageClass=head.get("StorageClass", "STANDARD"),
                    MetadataDirective="REPLACE",
                )
        except ClientError:
            return False  # deleted between the two calls: write it again
        return True

    async def delete_blob(self, digest: str) -> None:
        s3 = await self._s3()
        with self._errors("delete blob"):
            await s3.delete_object(Bucket=self.bucket, Key=self._blob_key(digest))

    async def delete_blobs(self, digests: Sequence[str]) -> None:
        await self._delete_keys([self._blob_key(digest) for digest in digests])

    async def _delete_keys(self, keys: Sequence[str]) -> None:
        """DeleteObjects, 1,000 keys a call; a key that failed is a BackendUnavailableError."""
        s3 = await self._s3()
        for start in range(0, len(keys), MAX_DELETE_KEYS):
            batch = keys[start : start + MAX_DELETE_KEYS]
            with self._errors("delete objects"):
                answer = await s3.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            failed = [
                error for error in answer.get("Errors", []) if error.get("Code") != "NoSuchKey"
            ]
            if failed:
                first = failed[0]
                raise BackendUnavailableError(
                    f"{self.url}: delete objects: {len(failed)} failed, first "
                    f"{first.get('Key')}: {first.get('Code')}"
                )

    async def move_blob(self, digest: str, tier: BlobTier) -> BlobInfo:
        key = self._blob_key(digest)
        s3 = await self._s3()
        try:
            with self._errors("move blob"):
                head = await s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError:
            raise NotFoundError(f"blob {digest} is missing from {self.url}") from None
        storage_class = self.tier_classes[tier]
        if head.get("StorageClass", "STANDARD") != storage_class:
            with self._errors("move blob"):
                await s3.copy_object(
                    Bucket=self.bucket,
                    Key=key,
                    CopySource={"Bucket": self.bucket, "Key": key},
                    StorageClass=storage_class,
                    MetadataDirective="COPY",
                )
            with self._errors("move blob"):
                head = await s3.head_object(Bucket=self.bucket, Key=key)
        return BlobInfo(digest, int(head["ContentLength"]), tier, _aware(head["LastModified"]))

    def tier_of_class(self, storage_class: str | None) -> BlobTier:
        """The tier a storage class stands for; classes not in the table count as hot."""
        return self._tier_of_class.get(storage_class or "STANDARD", "hot")

    async def list_blobs(self) -> AsyncIterator[BlobInfo]:
        async for item in self._list(f"{self.prefix}blobs/sha256/"):
            yield BlobInfo(
                "sha256:" + item["Key"].rsplit("/", 1)[-1],
                int(item["Size"]),
                self.tier_of_class(item.get("StorageClass")),
                _aware(item["LastModified"]),
            )

    async def _list(self, prefix: str) -> AsyncIterator[dict[str, Any]]:
        s3 = await self._s3()
        paginator = s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=prefix).__aiter__()
        while True:
            with self._errors("list objects"):
                try:
                    page = await pages.__anext__()
                except StopAsyncIteration:
                    return
            for item in page.get("Contents", []):
                yield item

    # manifests

    def _versions_prefix(self, name: str) -> str:
        return f"{self.prefix}manifests/{check_artifact_name(name)}/{VERSIONS_DIR}/"

    async def create_manifest(self, manifest: Manifest) -> None:
        key = f"{self._versions_prefix(manifest.name)}{manifest.version:010d}.json"
        s3 = await self._s3()
        try:
            with self._errors("create manifest"):
                await s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=manifest.model_dump_json(indent=2).encode() + b"\n",
                    ContentType="application/json",
                    IfNoneMatch="*",
                )
        except ClientError:
            raise ConflictError(
                f"{manifest.name} v{manifest.version} already exists",
                name=manifest.name,
                version=manifest.version,
            ) from None

    async def get_manifest(self, name: str, version: int) -> Manifest:
        key = f"{self._versions_prefix(name)}{version:010d}.json"
        what = f"{name} v{version}"
        data = bytearray()
        try:
            async for block in self._read(key, what):
                data += block
        except NotFoundError:
            raise NotFoundError(f"{what} does not exist", name=name) from None
        return parse_manifest(bytes(data), what)

    async def list_versions(self, name: str) -> list[int]:
        prefix = self._versions_prefix(name)
        versions: list[int] = []
        async for item in self._list(prefix):
            leaf = item["Key"][len(prefix) :]
            if leaf.endswith(".json") and leaf[:-5].isdigit():
                versions.append(int(leaf[:-5]))
        return sorted(versions)

    async def delete_manifests(self, keys: Sequence[tuple[str, int]]) -> None:
        await self._delete_keys(
            [f"{self._versions_prefix(name)}{version:010d}.json" for name, version in keys]
        )

    # tombstones

    def _tombstones_prefix(self, name: str) -> str:
        return f"{self.prefix}tombstones/{check_artifact_name(name)}/{VERSIONS_DIR}/"

    async def create_tombstone(self, tombstone: Tombstone) -> None:
        key = f"{self._tombstones_prefix(tombstone.name)}{tombstone.version:010d}.json"
        s3 = await self._s3()
        try:
            with self._errors("create tombstone"):
                await s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=tombstone.model_dump_json(indent=2).encode() + b"\n",
                    ContentType="application/json",
                    IfNoneMatch="*",
                )
        except ClientError:
            raise ConflictError(
                f"{tombstone.name} v{tombstone.version} is deleted already",
                name=tombstone.name,
                version=tombstone.version,
            ) from None

    async def deleted_versions(self, name: str) -> set[int]:
        prefix = self._tombstones_prefix(name)
        found: set[int] = set()
        async for item in self._list(prefix):
            leaf = item["Key"][len(prefix) :]
            if leaf.endswith(".json") and leaf[:-5].isdigit():
                found.add(int(leaf[:-5]))
        return found

    async def list_tombstones(self) -> AsyncIterator[Tombstone]:
        async for item in self._list(f"{self.prefix}tombstones/"):
            data = bytearray()
            try:
                async for block in self._read(item["Key"], item["Key"]):
                    data += block
            except NotFoundError:
                continue  # restored or purged while listed
            yield parse_tombstone(bytes(data), item["Key"])

    async def delete_tombstones(self, keys: Sequence[tuple[str, int]]) -> None:
        await self._delete_keys(
            [f"{self._tombstones_prefix(name)}{version:010d}.json" for name, version in keys]
        )

    async def list_names(self) -> AsyncIterator[str]:
        root = f"{self.prefix}manifests/"
        marker = f"/{VERSIONS_DIR}/"
        last: str | None = None
        async for item in self._list(root):
            name = item["Key"][len(root) :].rpartition(marker)[0]
            if name and name != last:  # keys come sorted: one name's versions are together
                last = name
                yield name


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.astimezone()
