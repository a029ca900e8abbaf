"""The artifact store from a program: the store the settings name (default
`<state_dir>/artifacts`, or `storage.url`), with its search index.

    result = await pit.artifacts.put("reports/q1.md", Path("q1.md"), tags=["draft"])
    data = await pit.artifacts.get("reports/q1.md")
    hits = await pit.artifacts.search("latency", filters=["tag=draft"])
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from pit.artifacts.index_port import AccessStats, Filter, MetaValue, SearchHit
from pit.artifacts.lifecycle import soft_delete
from pit.artifacts.manifest import DEFAULT_MEDIA_TYPE, Manifest
from pit.artifacts.query import parse_filter
from pit.artifacts.results import PutResult, ReindexReport, StoreStats, VerifyReport
from pit.artifacts.store import ArtifactReader, ArtifactStore
from pit.common.config import Settings
from pit.infra.artifact_factory import open_artifact_store
from pit.infra.file_output import check_output, write_output

Data = bytes | Path | AsyncIterable[bytes]
"""Content to store: bytes in memory, a file's path, or a stream of pieces."""

_MEDIA_TYPES = {
    ".md": "text/markdown",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".py": "text/x-python",
}
_BUILTIN_TYPES = mimetypes.MimeTypes()  # the built-in table only: the same on every machine


def guess_media_type(path: str | Path) -> str:
    """The media type a file's extension suggests; `application/octet-stream` otherwise."""
    suffix = Path(path).suffix.lower()
    guessed = _MEDIA_TYPES.get(suffix) or _BUILTIN_TYPES.guess_type("x" + suffix)[0]
    return guessed or DEFAULT_MEDIA_TYPE


class ArtifactsClient:
    """Named, versioned, content-addressed artifacts (see `pit.artifacts.ArtifactStore`)."""

    def __init__(self, store: ArtifactStore) -> None:
        self.store = store

    @classmethod
    def from_settings(
        cls, settings: Settings, *, store_url: str | None = None, field: str | None = None
    ) -> ArtifactsClient:
        """The store `store_url` names (default: the settings' `storage.url`, else
        `<state_dir>/artifacts`); `field` names it in errors."""
        field = field or ("storage.url" if store_url is None else "store_url")
        return cls(open_artifact_store(settings, store_url=store_url, field=field))

    async def close(self) -> None:
        await self.store.close()

    async def __aenter__(self) -> ArtifactsClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def put(
        self,
        name: str,
        data: Data,
        *,
        media_type: str | None = None,
        tags: Iterable[str] = (),
        meta: Mapping[str, MetaValue] | None = None,
        storage_class: str | None = None,
    ) -> PutResult:
        """Store `data` as the next version of `name`. `media_type` defaults to what a path's
        extension suggests (text types are searchable), else application/octet-stream."""
        if media_type is None:
            media_type = guess_media_type(data) if isinstance(data, Path) else DEFAULT_MEDIA_TYPE
        return await self.store.put(
            name,
            data,
            media_type=media_type,
            metadata=meta,
            tags=tags,
            storage_class=storage_class,
        )

    async def get(self, name: str, version: int | None = None) -> bytes:
        """The bytes of `name` at `version` (the latest when None), verified."""
        return (await self.store.get(name, version)).data

    async def open(self, name: str, version: int | None = None) -> ArtifactReader:
        """A version's manifest and its bytes as a verified stream (for large content)."""
        return await self.store.open(name, version)

    async def save(
        self, name: str, path: Path, version: int | None = None, *, field: str = "path"
    ) -> Manifest:
        """Write a version to the file `path`: only a regular file (or a new one) is
        written, only after the content is verified, and an existing file keeps its mode
        (see `check_target`)."""
        self.check_target(path, field)  # refused before the store is read: nothing changes
        reader = await self.store.open(name, version)
        await write_output(reader.stream, path, field)
        return reader.manifest

    @staticmethod
    def check_target(path: Path, field: str = "path") -> None:
        """Refuse (InvalidInputError naming `field`) a target `save` would not write: a
        directory, a FIFO, a device, a socket or a symlink. A regular file, or a path that
        does not exist yet, passes."""
        check_output(path, field)

    async def manifest(self, name: str, version: int | None = None) -> Manifest:
        """The manifest of `name` at `version` (the latest when None)."""
        return await self.store.manifest(name, version)

    async def log(self, name: str) -> list[Manifest]:
        """Every version of `name`, newest first."""
        return await self.store.versions(name)

    async def diff(self, name: str, old: int, new: int) -> str:
        """A unified diff of two versions' text."""
        return await self.store.diff(name, old, new)

    async def search(
        self,
        query: str = "",
        *,
        filters: Iterable[str | Filter] = (),
        limit: int = 20,
        latest: bool = False,
    ) -> list[SearchHit]:
        """Versions ranked by their text (words, "phrases") and metadata filters, given as
        `Filter`s or as the CLI writes them (`tag=nightly`, `size>=1000`, `name^=reports/`)."""
        conditions = [parse_filter(f) if isinstance(f, str) else f for f in filters]
        return await self.store.search(query, filters=conditions, limit=limit, latest_only=latest)

    async def reads(
        self, name: str, version: int | None = None, *, since: datetime | None = None
    ) -> AccessStats:
        """How often a version (the latest when None) was read, by every machine that shares
        the store (reads reach the store at most a second after they happen)."""
        manifest = await self.store.manifest(name, version)
        key = (manifest.name, manifest.version)
        return (await self.store.access_stats([key], since=since))[key]

    async def stats(self) -> StoreStats:
        """Bytes as readers see them, bytes stored, and what deduplication saved."""
        return await self.store.stats()

    async def verify(self, *, repair: bool = False) -> VerifyReport:
        """Re-hash every blob and check every manifest against its blobs; `repair` first
        rebuilds what an intact copy can rebuild."""
        return await self.store.verify(repair=repair)

    async def reindex(self) -> ReindexReport:
        """Rebuild the search index from the stored manifests and content."""
        return await self.store.reindex()

    async def clear_dag_cache(self, dag: str, node: str | None = None) -> int:
        """Soft-delete every cached output of DAG `dag` (or of its node `node`): the
        artifacts under `pit/cache/<dag>/[<node>/]` (docs/dag.md#cache). Returns how many
        versions were deleted; the next run of those nodes runs them and stores anew."""
        from pit.dag.cache_key import cache_prefix  # pit.dag: not for every artifact command

        prefix = cache_prefix(dag, node)
        manifests: list[Manifest] = []
        async for name in self.store.blobs.list_names():
            if name.startswith(prefix):
                for version in await self.store.live_versions(name):
                    manifests.append(await self.store.manifest(name, version))
        if not manifests:
            return 0
        result = await soft_delete(
            self.store, manifests, at=datetime.now(UTC), reason="pit dag cache clear"
        )
        return len(result.deleted)
