"""Whatever happens to a stored blob or manifest on disk, `get` returns the exact bytes that
were put or fails with a Pit error, and whenever it fails, `verify` says the store is not ok.
On the real local store (hot and cold tiers, whole and chunked content)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pit.artifacts.chunking import ChunkParams
from pit.artifacts.store import ArtifactStore
from pit.common.errors import IntegrityError, NotFoundError
from pit.infra.blob_local import LocalBlobStore
from tests.artifacts.fakes import FakeIndex

TINY_CHUNKS = ChunkParams(min_size=64, avg_size=256, max_size=1024)
CONTENT = st.binary(min_size=1, max_size=3000)

BYTE_DAMAGE = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("append"), st.integers(1, 64), st.integers(0, 255)),
    st.tuples(st.just("replace"), st.integers(0, 3000), st.integers(0, 255)),
)
FIELD_EDIT = st.sampled_from(["size+1", "size-1", "other-digest", "chunks-reversed", "name"])
DAMAGE = st.one_of(
    st.tuples(st.just("blob"), st.integers(0, 50), BYTE_DAMAGE),
    st.tuples(st.just("manifest"), st.just(0), BYTE_DAMAGE),
    st.tuples(st.just("manifest-field"), st.just(0), FIELD_EDIT),
)


def damaged(data: bytes, damage: tuple[str, int, int]) -> bytes:
    kind, where, value = damage
    if kind == "flip":
        if not data:
            return b"\x00"
        at = where % len(data)
        return data[:at] + bytes([data[at] ^ value]) + data[at + 1 :]
    if kind == "truncate":
        return data[: where % max(1, len(data))]
    if kind == "append":
        return data + bytes([value]) * where
    return bytes([value]) * where


def edited(body: dict, edit: str, other: dict) -> dict:
    """A field changed and the stale checksum kept, as someone editing the file would."""
    if edit.startswith("size"):
        body["size"] += 1 if edit == "size+1" else -1
    elif edit == "other-digest":
        body["digest"], body["size"], body["chunks"] = other["digest"], other["size"], None
    elif edit == "chunks-reversed" and body["chunks"]:
        body["chunks"] = list(reversed(body["chunks"]))
    else:
        body["name"] = "other"
    return body


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(CONTENT, CONTENT, st.booleans(), DAMAGE)
def test_get_never_returns_wrong_bytes_and_verify_notices_what_get_refuses(
    content: bytes, other_content: bytes, cold: bool, damage: tuple
) -> None:
    async def scenario(root: Path) -> None:
        store = ArtifactStore(
            LocalBlobStore(root), FakeIndex(), chunking_threshold=512, chunk_params=TINY_CHUNKS
        )
        put = await store.put("doc", content)
        await store.put("other", other_content)
        if cold:
            manifest = await store.manifest("doc")
            for digest in manifest.blob_digests:
                await store.blobs.move_blob(digest, "cold")
        kind, index, what = damage
        if kind == "blob":
            manifest = await store.manifest("doc")
            digest = manifest.blob_digests[index % len(manifest.blob_digests)]
            path = next(p for p in root.rglob(f"{digest[7:]}*") if p.is_file())
            path.write_bytes(damaged(path.read_bytes(), what))
        else:
            path = root / "manifests" / "doc" / "@v" / "0000000001.json"
            if kind == "manifest":
                path.write_bytes(damaged(path.read_bytes(), what))
            else:
                other = json.loads((root / "manifests/other/@v/0000000001.json").read_bytes())
                body = edited(json.loads(path.read_bytes()), what, other)
                path.write_text(json.dumps(body))
        try:
            found = await store.get("doc", 1)
        except (IntegrityError, NotFoundError):
            assert not (await store.verify()).ok
            return
        assert found.data == content
        assert found.manifest.digest == put.digest

    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(scenario(Path(directory) / "store"))
