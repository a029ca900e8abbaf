"""One S3 bucket under a key prefix, reached with bounded calls (aiobotocore).

Every call is bounded: `connect_timeout + read_timeout` seconds, retries included (plus a
second per MiB a call sends or reads), then BackendUnavailableError. botocore's timeouts apply
to each attempt and its retries multiply them; the bound is what a user waits at most when an
endpoint accepts connections and never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, TypedDict
from urllib.parse import urlsplit

from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import get_session  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from pit.common.errors import BackendUnavailableError, ConfigError, IntegrityError, NotFoundError
from pit.infra.s3_errors import s3_call

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 7.0
MIN_TRANSFER_RATE = 1024 * 1024
"""Bytes a second a call that sends or reads a body is allowed on top of its deadline."""
MAX_DELETE_KEYS = 1000
READ_SIZE = 1024 * 1024
_ENDPOINT_RULE = "an S3 endpoint is http://host[:port] or https://host[:port]"


class S3Connection(TypedDict, total=False):
    """How to reach S3: `S3Bucket`'s keyword arguments, which the blob store passes on."""

    endpoint_url: str | None
    region: str | None
    connect_timeout: float
    read_timeout: float
    max_attempts: int


class S3Bucket:
    """Objects under `s3://bucket/prefix`, one client, every call bounded."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        max_attempts: int = 2,
    ) -> None:
        if endpoint_url is not None:
            check_endpoint(endpoint_url)
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        self.deadline = connect_timeout + read_timeout
        """Seconds any one call may take, retries included (plus transfer time)."""
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

    async def client(self) -> Any:
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

    def call(self, what: str, size: int = 0) -> contextlib.AbstractAsyncContextManager[None]:
        """One S3 call: botocore failures as Pit errors (a missing key or a lost precondition
        is left to the caller as ClientError), bounded by the deadline plus the time `size`
        bytes may take."""
        return s3_call(self.url, self.bucket, what, self.deadline + size / MIN_TRANSFER_RATE)

    async def exists(self) -> bool:
        """Whether the bucket is there (a missing one may also be a ConfigError)."""
        s3 = await self.client()
        try:
            async with self.call("look up bucket"):
                await s3.head_bucket(Bucket=self.bucket)
        except ClientError:
            return False
        return True

    async def head(self, key: str) -> dict[str, Any] | None:
        """HEAD of `key` with S3's checksum if it keeps one; None if there is no such key."""
        s3 = await self.client()
        try:
            async with self.call("look up object"):
                head: dict[str, Any] = await s3.head_object(
                    Bucket=self.bucket, Key=key, ChecksumMode="ENABLED"
                )
        except ClientError:
            return None
        return head

    async def read(self, key: str, what: str, limit: int | None = None) -> AsyncIterator[bytes]:
        """The object's bytes in pieces; NotFoundError if absent, IntegrityError if it holds
        more than `limit` bytes."""
        s3 = await self.client()
        try:
            async with self.call(f"read {what}"):
                response = await s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError:
            raise NotFoundError(f"{what} is missing from {self.url}") from None
        async with response["Body"] as body:
            if limit is not None and int(response.get("ContentLength", 0)) > limit:
                raise IntegrityError(f"{what}: over {limit} bytes: not an object the Pit wrote")
            while True:
                async with self.call(f"read {what}", READ_SIZE):
                    block = await body.read(READ_SIZE)
                if not block:
                    return
                yield block

    async def read_all(self, key: str, what: str, limit: int) -> bytes:
        data = bytearray()
        async for block in self.read(key, what, limit):
            data += block
        return bytes(data)

    async def create(self, key: str, body: bytes) -> bool:
        """Put `body` at `key` only if nothing is there (If-None-Match: *); False if it was."""
        s3 = await self.client()
        try:
            async with self.call("create record", len(body)):
                await s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentType="application/json",
                    IfNoneMatch="*",
                )
        except ClientError:
            return False
        return True

    async def list(self, prefix: str) -> AsyncIterator[dict[str, Any]]:
        """Every object under `prefix` (ListObjectsV2 items), in key order."""
        async for page in self.pages("list_objects_v2", Prefix=prefix):
            for item in page.get("Contents", []):
                yield item

    async def pages(self, operation: str, **arguments: str) -> AsyncIterator[dict[str, Any]]:
        s3 = await self.client()
        pages = s3.get_paginator(operation).paginate(Bucket=self.bucket, **arguments).__aiter__()
        while True:
            async with self.call(operation.replace("_", " ")):
                try:
                    page: dict[str, Any] = await pages.__anext__()
                except StopAsyncIteration:
                    return
            yield page

    async def delete_keys(self, keys: Sequence[str]) -> None:
        """DeleteObjects, 1,000 keys a call; a key that failed is a BackendUnavailableError."""
        s3 = await self.client()
        for start in range(0, len(keys), MAX_DELETE_KEYS):
            batch = keys[start : start + MAX_DELETE_KEYS]
            async with self.call("delete objects"):
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

    async def abort_uploads(self, before: datetime) -> int:
        """Abort the multipart uploads under the prefix started before `before`: an
        interrupted put leaves one, and S3 bills its parts until it is aborted."""
        stale: list[tuple[str, str]] = []
        async for page in self.pages("list_multipart_uploads", Prefix=self.prefix):
            stale += (
                (upload["Key"], upload["UploadId"])
                for upload in page.get("Uploads", [])
                if aware(upload["Initiated"]) < before
            )
        s3 = await self.client()
        for key, upload_id in stale:
            with contextlib.suppress(ClientError):  # finished or aborted meanwhile
                async with self.call("abort multipart upload"):
                    await s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        return len(stale)


def check_endpoint(endpoint_url: str, field: str = "storage.s3_endpoint") -> str:
    """`endpoint_url` if it is an http(s) URL with a host (and a valid port)."""
    try:
        parts = urlsplit(endpoint_url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ConfigError.for_field(field, endpoint_url, _ENDPOINT_RULE) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError.for_field(field, endpoint_url, _ENDPOINT_RULE)
    return endpoint_url


def aware(moment: datetime) -> datetime:
    """A time from botocore, with a zone."""
    return moment if moment.tzinfo is not None else moment.astimezone()
