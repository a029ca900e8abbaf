"""The record port on S3: one object per record under `<prefix>records/<key>`.

A create is a PutObject with `If-None-Match: *`; a listing starts after a key (`StartAfter`),
so a reader that knows how far it got asks only for what is new. Every call is bounded
(`pit.infra.s3_bucket`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from pit.artifacts.records import MAX_RECORD_BYTES, check_record_key
from pit.common.errors import NotFoundError
from pit.infra.s3_bucket import S3Bucket

RECORDS_DIR = "records"


class S3Records:
    """`RecordStore` in the bucket and prefix of an S3 store, over the store's own client
    (the blob store closes it)."""

    def __init__(self, bucket: S3Bucket) -> None:
        self._bucket = bucket
        self._root = f"{self._bucket.prefix}{RECORDS_DIR}/"
        self.url = f"{self._bucket.url}{RECORDS_DIR}/"

    def _key(self, key: str) -> str:
        return self._root + check_record_key(key)

    async def create_record(self, key: str, data: bytes, *, durable: bool = True) -> bool:
        """S3 makes every write durable: `durable` changes nothing."""
        return await self._bucket.create(self._key(key), data)

    async def replace_record(self, key: str, data: bytes) -> None:
        s3 = await self._bucket.client()
        async with self._bucket.call("write record", len(data)):
            await s3.put_object(
                Bucket=self._bucket.bucket,
                Key=self._key(key),
                Body=data,
                ContentType="application/json",
            )

    async def read_record(self, key: str) -> bytes | None:
        try:
            return await self._bucket.read_all(self._key(key), f"record {key}", MAX_RECORD_BYTES)
        except NotFoundError:
            return None

    async def list_records(self, prefix: str, *, after: str = "") -> AsyncIterator[str]:
        check_record_key(prefix, "prefix")
        arguments = {"Prefix": self._root + prefix}
        if after:
            arguments["StartAfter"] = self._root + after
        async for page in self._bucket.pages("list_objects_v2", **arguments):
            for item in page.get("Contents", []):
                yield item["Key"][len(self._root) :]

    async def delete_records(self, keys: Sequence[str]) -> None:
        await self._bucket.delete_keys([self._key(key) for key in keys])

    async def close(self) -> None:
        return None
