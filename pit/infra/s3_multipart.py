"""One S3 multipart upload in progress."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

Call = Callable[[str, int], contextlib.AbstractAsyncContextManager[None]]
"""How the blob store wraps one S3 call: its errors and its deadline, given what it does and
the bytes it sends."""


class Multipart:
    """One multipart upload in progress: parts go up as they fill; abort on any failure."""

    def __init__(self, s3: Any, call: Call, bucket: str, key: str, upload_id: str) -> None:
        self._s3, self._call, self._bucket = s3, call, bucket
        self._key, self._id = key, upload_id
        self._parts: list[dict[str, Any]] = []

    async def send(self, data: bytes) -> None:
        number = len(self._parts) + 1
        async with self._call(f"upload part {number}", len(data)):
            sent = await self._s3.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._id,
                PartNumber=number,
                Body=data,
            )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    async def complete(self) -> None:
        async with self._call("complete multipart upload", 0):
            await self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._id,
                MultipartUpload={"Parts": self._parts},
            )

    async def abort(self) -> None:
        # best effort; `remove_leftovers` (purge) and a lifecycle rule clean up the rest
        with contextlib.suppress(Exception):
            async with self._call("abort multipart upload", 0):
                await self._s3.abort_multipart_upload(
                    Bucket=self._bucket, Key=self._key, UploadId=self._id
                )
