"""A process killed with SIGKILL while it reads loses at most the reads of its last flush
interval, and nothing else: every batch in the store is whole, every artifact intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from pit.artifacts.accesses import ACCESSES_PREFIX, parse_batch
from pit.artifacts.store import ArtifactStore
from pit.infra.artifact_factory import open_records
from pit.infra.blob_local import LocalBlobStore
from pit.infra.sqlite_index import SqliteIndex

READER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from pit.artifacts.store import ArtifactStore
    from pit.infra.artifact_factory import open_records
    from pit.infra.blob_local import LocalBlobStore
    from pit.infra.sqlite_index import SqliteIndex

    async def main(root: Path) -> None:
        blobs = LocalBlobStore(root / "store")
        store = ArtifactStore(
            blobs, SqliteIndex(root / "reader.sqlite"), records=open_records(blobs),
            access_interval=0.05, access_reads=25,
        )
        reads = 0
        while True:
            assert (await store.get("crash/doc")).data == b"payload" * 100
            reads += 1
            # after each read: how many reads this process had made, and had written
            print(reads, store.accesses.flushed, flush=True)

    asyncio.run(main(Path(sys.argv[1])))
    """
)


def _store(root: Path, index: str) -> ArtifactStore:
    blobs = LocalBlobStore(root / "store")
    return ArtifactStore(blobs, SqliteIndex(root / index), records=open_records(blobs))


async def test_kill_9_during_reads_loses_at_most_the_unflushed_reads(tmp_path: Path) -> None:
    async with _store(tmp_path, "writer.sqlite") as store:
        await store.put("crash/doc", b"payload" * 100)
    child = subprocess.Popen(
        [sys.executable, "-c", READER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else "reader ended"
        lines.append(line)
        if int(line.split()[1]) >= 200:  # several flushes behind it
            break
    assert int(lines[-1].split()[1]) >= 200, "the reader never flushed"
    os.kill(child.pid, signal.SIGKILL)
    rest, _ = child.communicate(timeout=30)
    lines += [line for line in rest.splitlines(keepends=True) if line.endswith("\n")]
    reads, flushed = (int(field) for field in lines[-1].split())
    assert child.returncode == -signal.SIGKILL

    async with _store(tmp_path, "after.sqlite") as store:
        counted = (await store.access_stats([("crash/doc", 1)]))[("crash/doc", 1)].count
        # what the reader had written when it last said so is there; at most the read
        # between its last line and the kill is counted beyond what it said it made
        assert flushed <= counted <= reads + 1
        keys = [key async for key in store.records.list_records(ACCESSES_PREFIX)]
        batches = [parse_batch(await store.records.read_record(key) or b"", key) for key in keys]
        assert sum(len(batch) for batch in batches) == counted  # every batch whole
        report = await store.verify()
        assert json.loads(report.model_dump_json())["corrupt"] == []
        assert (await store.get("crash/doc")).data == b"payload" * 100
