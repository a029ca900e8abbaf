"""What only the S3 adapter does: multipart streaming, storage classes, failing fast."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

import pytest

from pit.artifacts.hashing import digest_of
from pit.common.errors import BackendUnavailableError, ConfigError, IntegrityError
from pit.infra.blob_s3 import S3BlobStore
from pit.infra.temporal.devserver import free_port
from tests.artifacts.conftest import make_bucket

pytestmark = pytest.mark.integration


async def pieces(data: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_stream_longer_than_a_part_is_uploaded_in_parts(s3_endpoint: str) -> None:
    client, bucket = make_bucket(s3_endpoint)
    store = S3BlobStore(bucket, endpoint_url=s3_endpoint, part_size=5 * 1024 * 1024)
    data = os.urandom(11 * 1024 * 1024)
    try:
        assert await store.put_blob(digest_of(data), pieces(data), storage_class="STANDARD_IA")
        key = "blobs/sha256/" + digest_of(data)[7:]
        head = client.head_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
        assert head["ContentLength"] == len(data)
        assert head["ETag"].strip('"').endswith("-3")  # three parts
        assert head["StorageClass"] == "STANDARD_IA"
        assert b"".join([p async for p in store.open_blob(digest_of(data))]) == data
    finally:
        await store.close()


async def test_a_multipart_stream_with_the_wrong_digest_leaves_nothing(s3_endpoint: str) -> None:
    client, bucket = make_bucket(s3_endpoint)
    store = S3BlobStore(bucket, endpoint_url=s3_endpoint, part_size=5 * 1024 * 1024)
    data = os.urandom(6 * 1024 * 1024)
    try:
        with pytest.raises(IntegrityError):
            await store.put_blob(digest_of(b"something else"), pieces(data))
        assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0  # type: ignore[attr-defined]
        uploads = client.list_multipart_uploads(Bucket=bucket)  # type: ignore[attr-defined]
        assert uploads.get("Uploads", []) == []
    finally:
        await store.close()


async def test_an_unreachable_endpoint_fails_fast_as_backend_unavailable() -> None:
    store = S3BlobStore("bucket", endpoint_url=f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    try:
        with pytest.raises(BackendUnavailableError):
            await store.list_versions("doc")
    finally:
        await store.close()
    assert time.monotonic() - started < 10


async def test_a_missing_bucket_is_a_config_error(s3_endpoint: str) -> None:
    store = S3BlobStore("no-such-bucket", endpoint_url=s3_endpoint)
    try:
        with pytest.raises(ConfigError, match="does not exist"):
            await store.put_blob(digest_of(b"x"), b"x")
    finally:
        await store.close()
