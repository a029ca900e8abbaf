"""What only the S3 adapter does: multipart streaming, storage classes, failing fast."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from pit.artifacts.hashing import digest_of
from pit.common.errors import BackendUnavailableError, ConfigError, IntegrityError
from pit.infra import blob_s3
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


@pytest.mark.parametrize("call", ["list", "put"])
async def test_a_stalled_endpoint_fails_within_the_deadline_retries_included(
    stalled_endpoint: str, call: str
) -> None:
    store = S3BlobStore(
        "bucket", endpoint_url=stalled_endpoint, connect_timeout=1.0, read_timeout=2.0
    )
    assert store.deadline == 3.0
    data = os.urandom(64 * 1024)
    started = time.monotonic()
    try:
        with pytest.raises(BackendUnavailableError, match="no answer within"):
            if call == "list":
                await store.list_versions("doc")
            else:
                await store.put_blob(digest_of(data), data)
    finally:
        await store.close()
    # a hang test, not a benchmark: 3x the documented bound (plus 1 s per MiB sent)
    assert time.monotonic() - started < 3 * (store.deadline + 1)


async def test_a_blob_stored_before_seals_is_sealed_by_the_next_put(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blob_s3, "TOUCH_AFTER", timedelta(0))  # every dedup hit touches
    client, bucket = make_bucket(s3_endpoint)
    store = S3BlobStore(bucket, endpoint_url=s3_endpoint)
    data = b"stored by a Pit that did not seal blobs"
    key = "blobs/sha256/" + digest_of(data)[7:]
    client.put_object(Bucket=bucket, Key=key, Body=data)  # type: ignore[attr-defined]
    try:
        assert await store.put_blob(digest_of(data), data) is True  # not trusted: written
        head = client.head_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
        assert head["Metadata"] == {"sha256": digest_of(data)[7:]}
        assert await store.put_blob(digest_of(data), data) is False  # sealed: trusted
        touched = client.head_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
        assert touched["LastModified"] >= head["LastModified"]
        assert touched["Metadata"] == head["Metadata"]  # a touch keeps the seal
        assert await store.put_blob(digest_of(data), data) is False
    finally:
        await store.close()


async def test_a_forged_seal_may_fool_a_put_but_never_a_read(s3_endpoint: str) -> None:
    client, bucket = make_bucket(s3_endpoint)
    store = S3BlobStore(bucket, endpoint_url=s3_endpoint)
    data = b"the true content"
    key = "blobs/sha256/" + digest_of(data)[7:]
    forged = {"sha256": digest_of(data)[7:]}
    client.put_object(Bucket=bucket, Key=key, Body=b"the fake content", Metadata=forged)  # type: ignore[attr-defined]
    try:
        assert await store.put_blob(digest_of(data), data) is False  # the documented limit
        with pytest.raises(IntegrityError):
            _ = [piece async for piece in store.open_blob(digest_of(data))]
    finally:
        await store.close()


async def test_purge_aborts_multipart_uploads_left_by_interrupted_puts(s3_endpoint: str) -> None:
    client, bucket = make_bucket(s3_endpoint)
    store = S3BlobStore(bucket, "team", endpoint_url=s3_endpoint)
    client.create_multipart_upload(Bucket=bucket, Key="team/blobs/sha256/" + "0" * 64)  # type: ignore[attr-defined]
    client.create_multipart_upload(Bucket=bucket, Key="elsewhere/not-ours")  # type: ignore[attr-defined]
    try:
        # moto dates every upload in 2010: any cutoff after that sees it as old
        assert await store.remove_leftovers(datetime.now(UTC)) == 1
        left = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])  # type: ignore[attr-defined]
        assert [upload["Key"] for upload in left] == ["elsewhere/not-ours"]
    finally:
        await store.close()


def test_an_endpoint_that_is_not_a_url_is_a_config_error() -> None:
    for endpoint in ("notaurl", "ftp://host", "http://", "http://host:99999"):
        with pytest.raises(ConfigError, match=r"storage\.s3_endpoint"):
            S3BlobStore("bucket", endpoint_url=endpoint)


async def test_a_missing_bucket_is_a_config_error(s3_endpoint: str) -> None:
    store = S3BlobStore("no-such-bucket", endpoint_url=s3_endpoint)
    try:
        with pytest.raises(ConfigError, match="does not exist"):
            await store.put_blob(digest_of(b"x"), b"x")
    finally:
        await store.close()
