"""One S3 multipart upload in progress."""

from __future__ import annotations

import contextlib
from typing import Any

from pit.infra.s3_errors import s3_errors


class Multipart:
    """One multipart upload in progress: parts go up as they fill; abort on any failure."""

    def __init__(self, s3: Any, url: str, bucket: str, key: str, upload_id: str) -> None:
        self._s3, self._url, self._bucket = s3, url, bucket
        self._key, self._id = key, upload_id
        self._parts: list[dict[str, Any]] = []

    async def send(self, data: bytes) -> None:
        number = len(self._parts) + 1
        with s3_errors(self._url, self._bucket, f"upload part {number}"):
            sent = await self._s3.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._id,
                PartNumber=number,
                Body=data,
            )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    async def complete(self) -> None:
        with s3_errors(self._url, self._bucket, "complete multipart upload"):
            await self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._id,
                MultipartUpload={"Parts": self._parts},
            )

    async def abort(self) -> None:
        with contextlib.suppress(Exception):  # best effort; a lifecycle rule cleans up the rest
            await self._s3.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._id
            )
