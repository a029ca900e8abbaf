"""The chunker the Pit used before `pyfastcdc` (kept verbatim, frozen): the dedup baseline of
`bench.artifacts_store` and the writer of old-style stores in the compatibility tests.

Its original description follows.

Content-defined chunking (FastCDC-style) so that a small edit to a big blob changes few chunks.

Cut points depend only on the bytes just before them, so an insertion or a change shifts or
replaces the chunks around it and every other chunk keeps its digest. As in FastCDC a chunk
is at least `min_size` and at most `max_size` bytes, and normalized chunking uses a stricter
cut test before `avg_size` and a looser one after it, which keeps sizes close to the average.

The rolling test is a gear hash with one-bit gear tables: every position maps to one bit
(the XOR of fixed pseudo-random bits of the byte there and of four bytes up to 53 before it)
and a cut falls where the last `bits` mapped bits equal a fixed pattern, which for varied
content happens once every 2**bits bytes. With one-bit entries the hash needs no Python loop:
`bytes.translate` and big-integer XOR map a whole block and `bytes.find` finds the pattern,
all in C: about 60 MB/s here, against 7 MB/s for a per-byte Python loop over a 32-bit gear
table. Low-entropy content (long runs of one byte) finds no pattern and is cut at
`max_size`, as with any gear hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

_SEED = b"pit.artifacts.chunking/1"


def _gear_table(lane: int) -> bytes:
    salt = _SEED + bytes([lane])
    ranked = sorted(range(256), key=lambda byte: hashlib.sha256(salt + bytes([byte])).digest())
    ones = set(ranked[:128])
    return bytes(1 if byte in ones else 0 for byte in range(256))


def _pattern(length: int) -> bytes:
    stream = hashlib.sha256(_SEED + b"pattern").digest()
    return bytes((stream[i // 8] >> (i % 8)) & 1 for i in range(length))


_LAGS = (0, 5, 17, 31, 53)
"""Each position's bit mixes the bytes this far before it: a 22-bit pattern then depends on
about 75 bytes, so structured text whose lines differ in a few bytes still finds cuts."""
_GEARS = tuple(_gear_table(lane) for lane in range(len(_LAGS)))
_REACH = _LAGS[-1]
_PATTERN = _pattern(64)


def _mapped_bits(data: bytes | bytearray, start: int, end: int) -> bytes:
    """One 0/1 byte per position i in [start, end): the XOR of the gear bits of the bytes at
    i - lag for each lag in `_LAGS`. `start` must be at least `_REACH`.

    Done on big integers (XOR and shift run in C): position i-k lands on i by a k-byte shift.
    """
    block = data[start - _REACH : end]
    mixed = 0
    for lag, gear in zip(_LAGS, _GEARS, strict=True):
        mixed ^= int.from_bytes(block.translate(gear), "big") >> (8 * lag)
    return mixed.to_bytes(len(block), "big")[_REACH:]


@dataclass(frozen=True)
class ChunkParams:
    """Chunk sizes in bytes; `avg_size` must be a power of two."""

    min_size: int = 256 * 1024
    avg_size: int = 1024 * 1024
    max_size: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.avg_size & (self.avg_size - 1) or self.avg_size < 64:
            raise ValueError("avg_size must be a power of two >= 64")
        if not _REACH < self.min_size < self.avg_size < self.max_size:
            raise ValueError(f"need {_REACH} < min_size < avg_size < max_size")

    @property
    def hard_bits(self) -> int:
        return self.avg_size.bit_length() + 1  # log2(avg) + 2, FastCDC's level-2 normalization

    @property
    def easy_bits(self) -> int:
        return self.avg_size.bit_length() - 3  # log2(avg) - 2


DEFAULT_PARAMS = ChunkParams()
_STEP = 256 * 1024
CHUNKING_THRESHOLD = 4 * 1024 * 1024
"""Content at least this large is stored as chunks; smaller content as one blob."""


def find_cut(data: bytes | bytearray, params: ChunkParams = DEFAULT_PARAMS) -> int:
    """Length of the first chunk of `data`, given `data` holds at least `max_size` bytes or
    is the end of the content."""
    size = len(data)
    if size <= params.min_size:
        return size
    end = min(size, params.max_size)
    normal = min(end, params.avg_size)
    hard, easy = _PATTERN[: params.hard_bits], _PATTERN[: params.easy_bits]
    # stricter test for cuts in (min_size, normal]: the pattern ends where the cut falls
    start = max(_REACH, params.min_size + 1 - len(hard))
    found = _mapped_bits(data, start, normal).find(hard)
    if found >= 0:
        return start + found + len(hard)
    # looser test for cuts in (normal, end], a step at a time: most cuts come soon after
    start = normal + 1 - len(easy)
    while start + len(easy) <= end:
        stop = min(end, start + _STEP)
        found = _mapped_bits(data, start, stop).find(easy)
        if found >= 0:
            return start + found + len(easy)
        start = stop + 1 - len(easy)
    return end


class Chunker:
    """Splits a stream fed piece by piece; the chunks do not depend on how it was split."""

    def __init__(self, params: ChunkParams = DEFAULT_PARAMS) -> None:
        self._params = params
        self._pending = bytearray()

    def feed(self, piece: bytes | bytearray | memoryview) -> list[bytes]:
        """Chunks completed by `piece`; keeps at most `max_size` bytes pending."""
        self._pending += piece
        chunks: list[bytes] = []
        while len(self._pending) >= self._params.max_size:
            chunks.append(self._take(find_cut(self._pending, self._params)))
        return chunks

    def finish(self) -> list[bytes]:
        """The remaining chunks, at the end of the content."""
        chunks: list[bytes] = []
        while self._pending:
            chunks.append(self._take(find_cut(self._pending, self._params)))
        return chunks

    def _take(self, length: int) -> bytes:
        chunk = bytes(self._pending[:length])
        del self._pending[:length]
        return chunk


def chunk_bytes(data: bytes, params: ChunkParams = DEFAULT_PARAMS) -> list[bytes]:
    """All chunks of `data` at once."""
    chunker = Chunker(params)
    return chunker.feed(data) + chunker.finish()
