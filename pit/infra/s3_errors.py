"""botocore failures as Pit errors, and the deadline, for every S3 call the blob store makes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    NoCredentialsError,
)

from pit.common.errors import BackendUnavailableError, ConfigError

MISSING = {"404", "NoSuchKey", "NotFound"}
"""Error codes of a key that is not there: left to the caller."""
PRECONDITION = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
"""Error codes of a conditional write that lost: left to the caller."""


@contextlib.contextmanager
def s3_errors(url: str, bucket: str, what: str) -> Iterator[None]:
    """Inside: a missing bucket or bad credentials is a `ConfigError`, anything else that
    failed is `BackendUnavailableError`; missing keys and lost preconditions pass through."""
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code == "NoSuchBucket":
            raise ConfigError.for_field(
                "storage.url", url, f"bucket {bucket!r} does not exist"
            ) from None
        if code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
            raise ConfigError(f"{url}: {what}: {code}: check the S3 credentials") from None
        if code in MISSING or code in PRECONDITION:
            raise
        raise BackendUnavailableError(f"{url}: {what}: {error}") from None
    except NoCredentialsError:
        rule = "no S3 credentials (set AWS_ACCESS_KEY_ID or a profile)"
        raise ConfigError(f"{url}: {rule}") from None
    except BotoCoreError as error:
        raise BackendUnavailableError(f"{url}: {what}: {error}") from None
    except (TimeoutError, OSError) as error:
        raise BackendUnavailableError(f"{url}: {what}: {error}") from None


@contextlib.asynccontextmanager
async def s3_call(url: str, bucket: str, what: str, deadline: float) -> AsyncIterator[None]:
    """`s3_errors`, and a hard bound on the whole call: botocore's own timeouts apply to each
    attempt, and retries multiply them; past `deadline` seconds the call is abandoned as a
    `BackendUnavailableError`, whatever it was waiting for."""
    try:
        async with asyncio.timeout(deadline):
            with s3_errors(url, bucket, what):
                yield
    except TimeoutError:
        raise BackendUnavailableError(
            f"{url}: {what}: no answer within {deadline:g} s", url=url
        ) from None
