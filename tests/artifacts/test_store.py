"""The facade's own behaviour on in-memory ports: input checks, diff, search, index, reads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pit.artifacts.index_port import Filter
from pit.artifacts.store import ArtifactStore
from pit.common.errors import InvalidInputError, NotFoundError
from tests.artifacts.fakes import FakeBlobStore, FakeIndex


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "../x"}, "name"),
        ({"media_type": "Text"}, "media_type"),
        ({"metadata": {"bad key": 1}}, "metadata"),
        ({"metadata": {"k": [1]}}, "metadata.k"),
        ({"metadata": {"k": float("nan")}}, "metadata.k"),
        ({"tags": ["no spaces"]}, "tag"),
        ({"storage_class": "cold"}, "storage_class"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_written(
    kwargs: dict[str, object], field: str
) -> None:
    blobs = FakeBlobStore()
    store = ArtifactStore(blobs, FakeIndex())
    arguments: dict[str, object] = {"name": "doc", "content": b"data", **kwargs}
    with pytest.raises(InvalidInputError) as caught:
        await store.put(**arguments)  # type: ignore[arg-type]
    assert caught.value.details["field"] == field
    assert blobs.blobs == {} and blobs.manifests == {}


async def test_put_accepts_a_file_and_an_async_stream(tmp_path: Path) -> None:
    store = ArtifactStore(FakeBlobStore(), FakeIndex())
    (tmp_path / "f.bin").write_bytes(b"from a file")

    async def stream():
        yield b"from "
        yield b"a stream"

    assert (await store.put("f", tmp_path / "f.bin")).size == 11
    assert (await store.put("s", stream())).size == 13
    assert (await store.get("s")).data == b"from a stream"
    with pytest.raises(InvalidInputError, match="existing file"):
        await store.put("g", tmp_path / "missing")


async def test_diff_shows_changed_lines_and_refuses_binary(fake_store: ArtifactStore) -> None:
    await fake_store.put("notes", b"one\ntwo\n", media_type="text/plain")
    await fake_store.put("notes", b"one\nthree\n", media_type="text/plain")
    diff = await fake_store.diff("notes", 1, 2)
    assert diff.splitlines() == [
        "--- notes@v1",
        "+++ notes@v2",
        "@@ -1,2 +1,2 @@",
        " one",
        "-two",
        "+three",
    ]
    await fake_store.put("blob", b"\x00\x01binary")
    await fake_store.put("blob", b"\x00\x02binary")
    with pytest.raises(InvalidInputError, match="binary"):
        await fake_store.diff("blob", 1, 2)


async def test_text_is_indexed_for_text_types_and_by_hook_for_others() -> None:
    index = FakeIndex()
    store = ArtifactStore(
        FakeBlobStore(), index, extractors={"application/x-note": lambda head: head.decode()[::-1]}
    )
    await store.put("t", b"hello world", media_type="text/plain", metadata={"n": 1}, tags=["a"])
    await store.put("b", b"hello world", media_type="application/octet-stream")
    await store.put("h", b"olleh", media_type="application/x-note")
    assert index.documents[("t", 1)].text == "hello world"
    assert index.documents[("t", 1)].metadata == {"n": 1}
    assert index.documents[("b", 1)].text is None
    assert index.documents[("h", 1)].text == "hello"
    hits = await store.search("hello", filters=[Filter(field="name", op="prefix", value="h")])
    assert [(hit.name, hit.version) for hit in hits] == [("h", 1)]


async def test_every_read_records_one_access(fake_store: ArtifactStore) -> None:
    index = fake_store.index
    assert isinstance(index, FakeIndex)
    await fake_store.put("doc", b"x")
    await fake_store.get("doc")
    reader = await fake_store.open("doc", 1)
    assert b"".join([piece async for piece in reader]) == b"x"
    assert index.accesses == []  # counted in memory: no read waits for a write
    assert fake_store.accesses.pending == 2
    await fake_store.accesses.flush()
    assert [(n, v) for n, v, _ in index.accesses] == [("doc", 1), ("doc", 1)]
    assert fake_store.accesses.pending == 0


async def test_reindex_rebuilds_the_index_from_the_manifests(fake_store: ArtifactStore) -> None:
    index = fake_store.index
    assert isinstance(index, FakeIndex)
    await fake_store.put("a", b"alpha text", media_type="text/plain")
    await fake_store.put("a", b"beta text", media_type="text/plain")
    await fake_store.put("b", b"\x00bin")
    index.documents.clear()
    report = await fake_store.reindex()
    assert (report.indexed, report.artifacts) == (3, 2)
    assert index.documents[("a", 2)].text == "beta text"


async def test_many_concurrent_writers_never_skip_or_share_a_version() -> None:
    store = ArtifactStore(FakeBlobStore(), FakeIndex())
    results = await asyncio.gather(*(store.put("hot", str(i).encode()) for i in range(30)))
    assert sorted(result.version for result in results) == list(range(1, 31))
    manifests = await store.versions("hot")
    assert [m.previous_version for m in manifests] == [*range(29, 0, -1), None]


async def test_search_limit_out_of_range_is_refused(fake_store: ArtifactStore) -> None:
    with pytest.raises(InvalidInputError, match="limit"):
        await fake_store.search("x", limit=0)
    with pytest.raises(NotFoundError):
        await fake_store.versions("nothing")
