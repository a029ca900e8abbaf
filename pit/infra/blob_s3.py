"""The S3 blob store (aiobotocore): blobs and manifests as objects under `s3://bucket/prefix`.

    <prefix>blobs/sha256/<64 hex>                  content; multipart above `part_size`
    <prefix>manifests/<name>/@v/<version:010d>.json  manifests, PutObject with If-None-Match: *
    <prefix>tombstones/<name>/@v/<version:010d>.json soft deletes, If-None-Match: * as well

Tiers are storage classes (hot STANDARD, warm STANDARD_IA, cold GLACIER_IR by default); a move
is a CopyObject of the object onto itself with the new class, so it is readable throughout.
Deletes go in DeleteObjects batches of up to 1,000 keys.

Every blob object is sealed: user metadata `sha256` holds its digest, and single-part puts send
`ChecksumSHA256` so S3 itself refuses a body damaged on the way. A put of bytes stored already
trusts the object only if a HEAD shows the seal and the size of the new bytes (the one request
a deduplicated put always made; no download, no hashing); an object without them (rewritten by
someone else, or stored before seals) is written again from the new, verified bytes.

Every call is bounded (`pit.infra.s3_bucket`): a stalled endpoint cannot hang a command.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Unpack

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from pit.artifacts.blob_port import BlobInfo, BlobSource, BlobTier
from pit.artifacts.hashing import StreamHasher, hex_of, verified
from pit.artifacts.manifest import MAX_MANIFEST_BYTES, Manifest, manifest_bytes, parse_manifest
from pit.artifacts.names import check_artifact_name, check_digest, check_storage_class
from pit.artifacts.tombstone import MAX_TOMBSTONE_BYTES, Tombstone, parse_tombstone
from pit.common.errors import ConflictError, NotFoundError
from pit.common.logging import get_logger
from pit.infra.s3_bucket import S3Bucket, S3Connection, aware
from pit.infra.s3_multipart import Multipart

log = get_logger("pit.artifacts")
PART_SIZE = 8 * 1024 * 1024
"""Multipart part size; a stream longer than one part is uploaded in parts as it arrives."""
VERSIONS_DIR = "@v"
DEFAULT_TIER_CLASSES: dict[BlobTier, str] = {
    "hot": "STANDARD",
    "warm": "STANDARD_IA",
    "cold": "GLACIER_IR",
}
TOUCH_AFTER = timedelta(minutes=10)
"""A deduplicated put refreshes a blob's LastModified only when it is older than this; purge's
minimum blob age (default 1 hour) must exceed it."""
SEAL_KEY = "sha256"
"""The user-metadata key of the digest a blob object was written with."""


class S3BlobStore:
    """Blobs and manifests in one S3 bucket under a key prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        part_size: int = PART_SIZE,
        tier_classes: Mapping[BlobTier, str] | None = None,
        **connection: Unpack[S3Connection],
    ) -> None:
        self._bucket = S3Bucket(bucket, prefix, **connection)
        self.bucket_handle = self._bucket
        """The bucket's client, shared with the store's records (`pit.infra.records_s3`)."""
        self.bucket = bucket
        self.prefix = self._bucket.prefix
        self.url = self._bucket.url
        self.deadline = self._bucket.deadline
        self.part_size = part_size
        self.tier_classes: dict[BlobTier, str] = {**DEFAULT_TIER_CLASSES, **(tier_classes or {})}
        self._tier_of_class = {cls: tier for tier, cls in self.tier_classes.items()}

    async def close(self) -> None:
        await self._bucket.close()

    async def exists(self) -> bool:
        return await self._bucket.exists()

    # blobs

    def _blob_key(self, digest: str) -> str:
        return f"{self.prefix}blobs/sha256/{hex_of(check_digest(digest))}"

    async def put_blob(
        self, digest: str, content: BlobSource, *, storage_class: str | None = None
    ) -> bool:
        key = self._blob_key(digest)
        extra: dict[str, Any] = {"Metadata": {SEAL_KEY: hex_of(digest)}}
        if storage_class:
            extra["StorageClass"] = check_storage_class(storage_class)
        size = len(content) if isinstance(content, bytes) else None
        if await self._keep_existing(key, digest, size):
            await _require(content, digest)  # the caller's bytes are checked all the same
            return False
        if isinstance(content, bytes):
            await self._put_whole(key, digest, content, extra)
            return True
        return await self._put_stream(key, digest, content, extra)

    async def _put_stream(
        self, key: str, digest: str, content: AsyncIterable[bytes], extra: dict[str, Any]
    ) -> bool:
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

    async def _put_whole(self, key: str, digest: str, data: bytes, extra: dict[str, Any]) -> None:
        hasher = StreamHasher()
        hasher.update(data)
        hasher.require(digest, "blob not stored")
        s3 = await self._bucket.client()
        async with self._bucket.call("put blob", len(data)):
            await s3.put_object(
                Bucket=self.bucket, Key=key, Body=data, ChecksumSHA256=_b64(digest), **extra
            )

    async def _start_multipart(self, key: str, extra: dict[str, Any]) -> Multipart:
        s3 = await self._bucket.client()
        async with self._bucket.call("start multipart upload"):
            created = await s3.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        return Multipart(s3, self._bucket.call, self.bucket, key, created["UploadId"])

    async def _keep_existing(self, key: str, digest: str, size: int | None) -> bool:
        """Whether the object at `key` can stand for these bytes: it is there, sealed with
        `digest`, `size` bytes long (when known). A kept object older than `TOUCH_AFTER` is
        marked as just written (a copy onto itself): purge never sweeps a blob touched after
        its mark."""
        head = await self._bucket.head(key)
        if head is None:
            return False
        if SEAL_KEY not in head.get("Metadata", {}):
            log.info("blob %s predates seals (or was rewritten): written again", digest)
            return False
        if not _sealed(head, digest, size):
            log.warning("blob %s does not match its seal or size: written again", digest)
            return False
        if datetime.now(UTC) - aware(head["LastModified"]) < TOUCH_AFTER:
            return True  # recent enough: purge's minimum blob age protects it already
        s3 = await self._bucket.client()
        try:
            async with self._bucket.call("touch blob"):
                await s3.copy_object(
                    Bucket=self.bucket,
                    Key=key,
                    CopySource={"Bucket": self.bucket, "Key": key},
                    StorageClass=head.get("StorageClass", "STANDARD"),
                    Metadata=head.get("Metadata", {}),
                    MetadataDirective="REPLACE",
                )
        except ClientError:
            return False  # deleted between the two calls: write it again
        return True

    async def open_blob(self, digest: str) -> AsyncIterator[bytes]:
        what = f"blob {digest}"
        async for piece in verified(self._bucket.read(self._blob_key(digest), what), digest, what):
            yield piece

    async def has_blob(self, digest: str) -> bool:
        return await self._bucket.head(self._blob_key(digest)) is not None

    async def delete_blob(self, digest: str) -> None:
        s3 = await self._bucket.client()
        async with self._bucket.call("delete blob"):
            await s3.delete_object(Bucket=self.bucket, Key=self._blob_key(digest))

    async def delete_blobs(self, digests: Sequence[str]) -> None:
        await self._bucket.delete_keys([self._blob_key(digest) for digest in digests])

    async def move_blob(self, digest: str, tier: BlobTier) -> BlobInfo:
        key = self._blob_key(digest)
        head = await self._bucket.head(key)
        storage_class = self.tier_classes[tier]
        if head is not None and head.get("StorageClass", "STANDARD") != storage_class:
            s3 = await self._bucket.client()
            async with self._bucket.call("move blob"):
                await s3.copy_object(
                    Bucket=self.bucket,
                    Key=key,
                    CopySource={"Bucket": self.bucket, "Key": key},
                    StorageClass=storage_class,
                    MetadataDirective="COPY",
                )
            head = await self._bucket.head(key)
        if head is None:
            raise NotFoundError(f"blob {digest} is missing from {self.url}")
        return BlobInfo(digest, int(head["ContentLength"]), tier, aware(head["LastModified"]))

    async def repair_blob(self, digest: str) -> bool:
        return False  # one object per blob: no second copy to repair it from

    def tier_of_class(self, storage_class: str | None) -> BlobTier:
        """The tier a storage class stands for; classes not in the table count as hot."""
        return self._tier_of_class.get(storage_class or "STANDARD", "hot")

    async def list_blobs(self) -> AsyncIterator[BlobInfo]:
        async for item in self._bucket.list(f"{self.prefix}blobs/sha256/"):
            yield BlobInfo(
                "sha256:" + item["Key"].rsplit("/", 1)[-1],
                int(item["Size"]),
                self.tier_of_class(item.get("StorageClass")),
                aware(item["LastModified"]),
            )

    async def remove_leftovers(self, before: datetime) -> int:
        return await self._bucket.abort_uploads(before)

    # manifests and tombstones: small records, created once with If-None-Match: *

    def _records_prefix(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}/{check_artifact_name(name)}/{VERSIONS_DIR}/"

    def _record_key(self, kind: str, name: str, version: int) -> str:
        return f"{self._records_prefix(kind, name)}{version:010d}.json"

    async def _record_versions(self, kind: str, name: str) -> list[int]:
        prefix = self._records_prefix(kind, name)
        versions: list[int] = []
        async for item in self._bucket.list(prefix):
            leaf = item["Key"][len(prefix) :]
            if leaf.endswith(".json") and leaf[:-5].isdigit():
                versions.append(int(leaf[:-5]))
        return sorted(versions)

    async def create_manifest(self, manifest: Manifest) -> None:
        key = self._record_key("manifests", manifest.name, manifest.version)
        if not await self._bucket.create(key, manifest_bytes(manifest)):
            raise ConflictError(
                f"{manifest.name} v{manifest.version} already exists",
                name=manifest.name,
                version=manifest.version,
            )

    async def get_manifest(self, name: str, version: int) -> Manifest:
        key = self._record_key("manifests", name, version)
        what = f"{name} v{version}"
        try:
            data = await self._bucket.read_all(key, what, MAX_MANIFEST_BYTES)
        except NotFoundError:
            raise NotFoundError(f"{what} does not exist", name=name) from None
        return parse_manifest(data, what, name=name, version=version)

    async def list_versions(self, name: str) -> list[int]:
        return await self._record_versions("manifests", name)

    async def list_names(self) -> AsyncIterator[str]:
        root = f"{self.prefix}manifests/"
        marker = f"/{VERSIONS_DIR}/"
        last: str | None = None
        async for item in self._bucket.list(root):
            name = item["Key"][len(root) :].rpartition(marker)[0]
            if name and name != last:  # keys come sorted: one name's versions are together
                last = name
                yield name

    async def delete_manifests(self, keys: Sequence[tuple[str, int]]) -> None:
        await self._bucket.delete_keys([self._record_key("manifests", n, v) for n, v in keys])

    async def create_tombstone(self, tombstone: Tombstone) -> None:
        key = self._record_key("tombstones", tombstone.name, tombstone.version)
        body = tombstone.model_dump_json(indent=2).encode() + b"\n"
        if not await self._bucket.create(key, body):
            raise ConflictError(
                f"{tombstone.name} v{tombstone.version} is deleted already",
                name=tombstone.name,
                version=tombstone.version,
            )

    async def deleted_versions(self, name: str) -> set[int]:
        return set(await self._record_versions("tombstones", name))

    async def list_tombstones(self) -> AsyncIterator[Tombstone]:
        async for item in self._bucket.list(f"{self.prefix}tombstones/"):
            try:
                data = await self._bucket.read_all(item["Key"], item["Key"], MAX_TOMBSTONE_BYTES)
            except NotFoundError:
                continue  # restored or purged while listed
            yield parse_tombstone(data, item["Key"])

    async def delete_tombstones(self, keys: Sequence[tuple[str, int]]) -> None:
        await self._bucket.delete_keys([self._record_key("tombstones", n, v) for n, v in keys])


async def _require(content: BlobSource, digest: str) -> None:
    hasher = StreamHasher()
    if isinstance(content, bytes):
        hasher.update(content)
    else:
        async for piece in content:
            hasher.update(piece)
    hasher.require(digest, "blob not stored")


def _b64(digest: str) -> str:
    """A digest as S3 writes a SHA-256 checksum."""
    return base64.b64encode(bytes.fromhex(hex_of(digest))).decode()


def _sealed(head: Mapping[str, Any], digest: str, size: int | None) -> bool:
    """Whether a HEAD shows the object we would write: our seal, the right size, and (when S3
    kept one for the whole object) S3's own SHA-256."""
    if head.get("Metadata", {}).get(SEAL_KEY) != hex_of(digest):
        return False
    if size is not None and int(head.get("ContentLength", -1)) != size:
        return False
    checksum = head.get("ChecksumSHA256")
    if checksum and "-" not in checksum:  # "-N": a checksum of part checksums
        return bool(checksum == _b64(digest))
    return True
