"""Streaming SHA-256: digests of bytes, files and async streams, in bounded memory."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator

from pit.common.errors import IntegrityError

READ_SIZE = 1024 * 1024
"""Bytes read at a time from a stored blob (and by the CLI from standard input)."""

ByteStream = AsyncIterable[bytes]


def digest_of(data: bytes | bytearray | memoryview) -> str:
    """`sha256:<hex>` of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class HashedBytes(bytes):
    """Bytes with the SHA-256 digest of exactly these bytes, computed when they were made.

    Bytes never change, so whoever holds them can take `digest` without hashing them again:
    it is never a claim someone made about them. A blob store hashes what it is given once,
    here, instead of once by the caller and once more by the store.
    """

    _digest: str

    def __new__(cls, data: bytes | bytearray | memoryview) -> HashedBytes:
        made = super().__new__(cls, data)
        made._digest = digest_of(made)
        return made

    @property
    def digest(self) -> str:
        return self._digest

    def require(self, digest: str, what: str = "blob") -> None:
        """IntegrityError unless these bytes hash to `digest`."""
        _require(self._digest, digest, what)


def hex_of(digest: str) -> str:
    """The 64 hex digits of a `sha256:` digest."""
    return digest.removeprefix("sha256:")


class StreamHasher:
    """SHA-256 and size of bytes seen so far, fed piece by piece."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, piece: bytes | bytearray | memoryview) -> None:
        self._hash.update(piece)
        self.size += len(piece)

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def require(self, digest: str, what: str = "blob") -> None:
        """IntegrityError unless the bytes seen hash to `digest`."""
        _require(self.digest, digest, what)


def _require(actual: str, digest: str, what: str) -> None:
    if actual != digest:
        raise IntegrityError(
            f"{what}: content hashes to {actual}, not {digest}", expected=digest, actual=actual
        )


async def verified(
    stream: ByteStream, digest: str | None, what: str, *, size: int | None = None
) -> AsyncIterator[bytes]:
    """Pass `stream` through, then raise `IntegrityError` if it did not hash to `digest` (None:
    checked already, by whoever made `stream`) or, given `size`, was not that long (checked as
    the bytes come: a stream that runs long is stopped before the byte too many).

    The digest can only be checked at the end: a consumer that must not act on bad bytes
    (writing a file, say) keeps them aside until the stream finishes cleanly.
    """
    hasher = StreamHasher()
    async for piece in stream:
        if digest is None:
            hasher.size += len(piece)
        else:
            hasher.update(piece)
        if size is not None and hasher.size > size:
            raise IntegrityError(
                f"{what} is corrupt: more than the {size} bytes its manifest records "
                "(run `pit artifact verify`)",
                expected_size=size,
            )
        yield piece
    if size is not None and hasher.size != size:
        raise IntegrityError(
            f"{what} is corrupt: {hasher.size} bytes, its manifest records {size} "
            "(run `pit artifact verify`)",
            expected_size=size,
            actual_size=hasher.size,
        )
    if digest is not None:
        hasher.require(digest, f"{what} is corrupt (run `pit artifact verify`)")
