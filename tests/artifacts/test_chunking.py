"""Content-defined chunking: cuts resynchronise after an edit, and sizes follow the params."""

from __future__ import annotations

import random

import pytest

from pit.artifacts.chunking import ChunkParams, chunk_bytes


def pseudo_random(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def test_an_edit_in_the_middle_of_a_big_blob_changes_only_nearby_chunks() -> None:
    data = pseudo_random(12 * 1024 * 1024)
    edited = data[:6_000_000] + b"inserted!" + data[6_000_000:]
    before, after = chunk_bytes(data), chunk_bytes(edited)
    changed = set(after) - set(before)
    assert 8 <= len(before) <= 20  # about 1 MiB on average
    assert len(changed) <= 2
    assert sum(map(len, changed)) < 5 * 1024 * 1024


def test_prose_is_cut_by_content_not_at_max_size() -> None:
    rng = random.Random(3)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(2000)]
    data = " ".join(rng.choices(vocabulary, k=1_500_000)).encode()
    sizes = [len(chunk) for chunk in chunk_bytes(data)]
    assert sum(size < 4 * 1024 * 1024 for size in sizes[:-1]) >= len(sizes[:-1]) * 3 // 4


def test_a_run_of_one_byte_is_cut_at_max_size() -> None:
    params = ChunkParams(min_size=1024, avg_size=4096, max_size=16384)
    assert [len(c) for c in chunk_bytes(b"\0" * 40000, params)] == [16384, 16384, 7232]


@pytest.mark.parametrize(
    "params",
    [
        {"min_size": 10, "avg_size": 4096, "max_size": 16384},
        {"min_size": 1024, "avg_size": 3000, "max_size": 16384},
        {"min_size": 1024, "avg_size": 4096, "max_size": 4096},
    ],
)
def test_inconsistent_chunk_params_are_refused(params: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ChunkParams(**params)
