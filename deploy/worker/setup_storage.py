"""Prepare the S3 bucket of `storage.url` for Pit workers, or fail saying why.

Creates the bucket when it is missing (an existing one is kept as it is), then proves that
the server honours conditional writes: Pit writes version manifests with `If-None-Match: *`
so that two writers can never both claim one version, and a server that ignored the header
would let the second silently replace the first. Reads the same `PIT_*` variables as the
worker. Prints one line; exit 0 ready, else the Pit exit code (2 bad settings, 3 S3 not
reachable, 1 S3 unfit).

    python /opt/pit/setup_storage.py
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

from pit.common.config import Settings, load_settings
from pit.common.errors import ConfigError, PitError, WorkFailedError
from pit.infra.s3_bucket import S3Bucket

PROBE_DIR = ".pit-setup/"
"""Under the store's prefix; the probe object is deleted before the script ends."""


def bucket_of(settings: Settings) -> S3Bucket:
    url = settings.storage.url
    parts = urlsplit(url or "")
    if parts.scheme.lower() != "s3" or not parts.netloc:
        raise ConfigError.for_field("storage.url", url, "must be s3://bucket/prefix here")
    return S3Bucket(
        parts.netloc,
        unquote(parts.path),
        endpoint_url=settings.storage.s3_endpoint,
        region=settings.storage.s3_region,
    )


async def create_bucket(bucket: S3Bucket, region: str | None) -> bool:
    """Create the bucket unless it exists; True when it was created."""
    if await bucket.exists():
        return False
    s3 = await bucket.client()
    where: dict[str, Any] = {}
    if region and region != "us-east-1":  # us-east-1 is S3's default and refuses to be named
        where = {"CreateBucketConfiguration": {"LocationConstraint": region}}
    async with bucket.call("create bucket"):
        await s3.create_bucket(Bucket=bucket.bucket, **where)
    return True


async def require_conditional_writes(bucket: S3Bucket) -> None:
    key = f"{bucket.prefix}{PROBE_DIR}probe-{uuid.uuid4().hex}"
    if not await bucket.create(key, b"{}"):
        raise WorkFailedError(f"{bucket.url}: a first write with If-None-Match: * failed")
    try:
        if await bucket.create(key, b"{}"):
            raise WorkFailedError(
                f"{bucket.url}: the S3 server ignores If-None-Match: *, so two writers "
                "could both claim one artifact version; use a server that honours it"
            )
    finally:
        await bucket.delete_keys([key])


async def setup() -> str:
    settings = load_settings()
    bucket = bucket_of(settings)
    try:
        created = await create_bucket(bucket, settings.storage.s3_region)
        await require_conditional_writes(bucket)
    finally:
        await bucket.close()
    state = "created" if created else "exists"
    return f"{bucket.url}: bucket {state}; conditional writes honoured"


def main() -> int:
    try:
        line = asyncio.run(setup())
    except PitError as error:
        sys.stderr.write(f"setup-storage: {error.message}\n")
        return error.exit_code
    sys.stdout.write(f"setup-storage: {line}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
