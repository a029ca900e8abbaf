"""Content-defined chunking: cuts resynchronise after an edit, and sizes follow the params."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyfastcdc import FastCDC

from pit.artifacts.chunking import DEFAULT_PARAMS, Chunker, ChunkParams, chunk_bytes

SMALL = ChunkParams(min_size=1024, avg_size=4096, max_size=16384)


def _fastcdc(params: ChunkParams) -> FastCDC:
    return FastCDC(
        params.avg_size,
        min_size=params.min_size,
        max_size=params.max_size,
        normalized_chunking=params.normalization,
    )


def pseudo_random(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def test_an_edit_in_the_middle_of_a_big_blob_changes_only_nearby_chunks() -> None:
    data = pseudo_random(12 * 1024 * 1024)
    edited = data[:6_000_000] + b"inserted!" + data[6_000_000:]
    before, after = chunk_bytes(data), chunk_bytes(edited)
    changed = set(after) - set(before)
    assert 14 <= len(before) <= 30  # about 0.6 MiB on average
    assert len(changed) <= 2
    assert sum(map(len, changed)) < 2 * DEFAULT_PARAMS.max_size


def test_prose_is_cut_by_content_not_at_max_size() -> None:
    rng = random.Random(3)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(2000)]
    data = " ".join(rng.choices(vocabulary, k=1_500_000)).encode()
    sizes = [len(chunk) for chunk in chunk_bytes(data)]
    assert sum(size < DEFAULT_PARAMS.max_size for size in sizes[:-1]) >= len(sizes[:-1]) * 3 // 4


def test_a_run_of_one_byte_is_cut_at_max_size() -> None:
    params = ChunkParams(min_size=1024, avg_size=4096, max_size=16384)
    assert [len(c) for c in chunk_bytes(b"\0" * 40000, params)] == [16384, 16384, 7232]


@pytest.mark.parametrize(
    "params",
    [
        {"min_size": 10, "avg_size": 4096, "max_size": 16384},
        {"min_size": 1024, "avg_size": 3000, "max_size": 16384},
        {"min_size": 1024, "avg_size": 4096, "max_size": 4096},
        {"min_size": 2 * 1024 * 1024, "avg_size": 4 * 1024 * 1024, "max_size": 8 * 1024 * 1024},
        {"min_size": 1024, "avg_size": 4096, "max_size": 32 * 1024 * 1024},
        {"min_size": 1024, "avg_size": 4096, "max_size": 16384, "normalization": 4},
    ],
)
def test_inconsistent_chunk_params_are_refused(params: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ChunkParams(**params)


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.binary(min_size=0, max_size=120_000),
        st.builds(lambda n, b: bytes([b]) * n, st.integers(0, 120_000), st.integers(0, 255)),
    ),
    st.lists(st.integers(1, 50_000), min_size=1, max_size=12),
)
def test_streamed_cuts_are_the_cuts_fastcdc_makes_of_the_whole_content(
    data: bytes, pieces: list[int]
) -> None:
    """However the stream is split, the cuts are the reference cuts of the whole content (and
    so the same on every machine and in every version of the Pit that uses these params)."""
    reference = [len(chunk.data) for chunk in _fastcdc(SMALL).cut_buf(data)]
    chunker, lengths, position = Chunker(SMALL), [], 0
    for size in pieces:
        lengths += [len(chunk) for chunk in chunker.feed(data[position : position + size])]
        position += size
    lengths += [len(chunk) for chunk in chunker.feed(data[position:]) + chunker.finish()]
    assert lengths == reference


def test_default_chunks_stay_between_min_and_max_and_average_about_the_expected_size() -> None:
    data = pseudo_random(24 * 1024 * 1024, seed=5)
    sizes = [len(chunk) for chunk in chunk_bytes(data)]
    assert all(DEFAULT_PARAMS.min_size <= size <= DEFAULT_PARAMS.max_size for size in sizes[:-1])
    mean = sum(sizes) / len(sizes)
    assert DEFAULT_PARAMS.avg_size * 0.8 <= mean <= DEFAULT_PARAMS.avg_size * 1.6


def test_default_cut_points_are_pinned() -> None:
    """Stored chunks deduplicate with new puts only while cut points stay where they were: a
    pyfastcdc upgrade (or a change of the defaults) that moves them fails here first."""
    data = random.Random(2026).randbytes(6 * 1024 * 1024)
    assert [len(chunk) for chunk in chunk_bytes(data)] == [
        723670, 150217, 685758, 819026, 551624, 630993, 672447, 560167, 273570, 685181, 538803,
    ]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=0, max_size=60_000), st.integers(1, 40_000), st.integers(1, 20_000))
def test_any_room_reads_and_appends_give_the_cuts_of_the_whole(
    data: bytes, room: int, read: int
) -> None:
    """However small the chunker's room, and whether bytes are read into it or appended, the
    chunks are those of the whole content."""
    reference = [len(chunk.data) for chunk in _fastcdc(SMALL).cut_buf(data)]
    fed = Chunker(SMALL, room=room)
    assert [len(c) for c in fed.feed(data) + fed.finish()] == reference
    stream, read_in = io.BytesIO(data), Chunker(SMALL, room=room)
    lengths: list[int] = []
    while fresh := read_in.read(lambda view: stream.readinto(view[:read])):
        assert len(fresh) <= max(read, 0)
        lengths += [len(chunk) for chunk in read_in.cut()]
    lengths += [len(chunk) for chunk in read_in.finish()]
    assert lengths == reference
