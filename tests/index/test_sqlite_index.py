"""SQLite specifics: the file persists, WAL mode, and several processes share one file."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from pit.artifacts.index_port import SearchQuery
from pit.common.errors import ConfigError
from pit.infra.sqlite_index import SqliteIndex
from tests.index.conftest import EPOCH, doc
from tests.reads import count_read


async def test_documents_survive_reopening_the_file(tmp_path: Path):
    first = SqliteIndex(tmp_path / "i.sqlite")
    await first.index(doc("kept", text="durable words"))
    await first.close()
    second = SqliteIndex(tmp_path / "i.sqlite")
    assert [hit.name for hit in await second.search(SearchQuery(text="durable"))] == ["kept"]
    await second.close()


async def test_the_file_is_in_wal_mode(tmp_path: Path):
    index = SqliteIndex(tmp_path / "i.sqlite")
    await index.close()
    with sqlite3.connect(tmp_path / "i.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_path_that_cannot_be_a_database_is_a_config_error_naming_it(tmp_path: Path):
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(ConfigError, match=r"dir\.sqlite"):
        SqliteIndex(tmp_path / "dir.sqlite")


def _writer(path: str, worker: int) -> None:
    async def run() -> None:
        index = SqliteIndex(Path(path))
        for number in range(40):
            await index.index(doc(f"w{worker}/{number}", text="shared corpus"))
            await count_read(index, f"w{worker}/{number}", 1, EPOCH)
        await index.close()

    asyncio.run(run())


async def test_several_processes_write_one_file_without_losing_writes(tmp_path: Path):
    path = tmp_path / "shared.sqlite"
    await SqliteIndex(path).close()  # create the schema once; the writers race only on data
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(path), n)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        await asyncio.to_thread(worker.join, 60)
        assert worker.exitcode == 0
    index = SqliteIndex(path)
    hits = await index.search(SearchQuery(text="shared", limit=1000))
    assert len(hits) == 120
    stats = await index.access_stats([(f"w{n}/{i}", 1) for n in range(3) for i in range(40)])
    assert all(value.count == 1 for value in stats.values())
    await index.close()


async def test_concurrent_calls_on_one_instance_are_serialised(tmp_path: Path):
    index = SqliteIndex(tmp_path / "i.sqlite")
    await asyncio.gather(*(index.index(doc(f"d{n}", text="same")) for n in range(50)))
    assert len(await index.search(SearchQuery(text="same", limit=100))) == 50
    await index.close()
