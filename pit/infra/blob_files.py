"""The files of the local blob store: the plain bytes of a copy in any tier, compared, hashed
and touched without reading them whole."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import zstandard

from pit.artifacts.blob_port import BlobTier
from pit.artifacts.hashing import READ_SIZE, StreamHasher
from pit.common.errors import IntegrityError

COLD_SUFFIX = ".zst"


def plain_blocks(handle: BinaryIO, tier: BlobTier, digest: str) -> Iterator[bytes]:
    """The uncompressed bytes of a blob file of `tier`, block by block; a cold copy that does
    not decompress is an IntegrityError like any other corruption."""
    if tier != "cold":
        yield from file_blocks(handle)
        return
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(handle, closefd=False)
        while block := reader.read(READ_SIZE):
            yield block
    except zstandard.ZstdError as error:
        raise IntegrityError(
            f"blob {digest} is corrupt: its cold-tier copy does not decompress ({error}); "
            "run `pit artifact verify`",
            digest=digest,
        ) from None


def file_blocks(handle: BinaryIO) -> Iterator[bytes]:
    """The bytes of an open file, block by block."""
    while block := handle.read(READ_SIZE):
        yield block


def same_content(stored: BinaryIO, tier: BlobTier, digest: str, blocks: Iterable[bytes]) -> bool:
    """Whether a stored copy holds exactly the bytes of `blocks`."""
    if (
        tier != "cold"
        and isinstance(blocks, list)
        and os.fstat(stored.fileno()).st_size != sum(len(block) for block in blocks)
    ):
        return False  # a size that differs says so without reading
    mine = plain_blocks(stored, tier, digest)
    pending = b""
    try:
        for block in blocks:
            offset = 0
            while offset < len(block):
                if not pending:
                    pending = next(mine, b"")
                    if not pending:
                        return False  # the stored copy is shorter
                take = min(len(pending), len(block) - offset)
                if pending[:take] != block[offset : offset + take]:
                    return False
                pending, offset = pending[take:], offset + take
        return not pending and next(mine, b"") == b""
    except IntegrityError:
        return False  # a cold copy that does not decompress is not the same content


def hashes_to(handle: BinaryIO, tier: BlobTier, digest: str) -> bool:
    hasher = StreamHasher()
    try:
        for block in plain_blocks(handle, tier, digest):
            hasher.update(block)
    except IntegrityError:
        return False
    return hasher.digest == digest


def touch(handle: BinaryIO) -> bool:
    """Mark a stored copy as just written (a deduplicated put): purge never sweeps a blob
    touched after its mark. False if the copy was removed meanwhile."""
    os.utime(handle.fileno())
    return os.fstat(handle.fileno()).st_nlink > 0
