"""Artifact activities: DAG nodes store outputs and later nodes fetch them by reference.

A stored output travels as a small reference, `{"artifact": name, "version": n, "digest":
"sha256:..."}`, which `pit.artifacts.get` accepts as it is (`inputs: ${nodes.a.output}`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from temporalio import activity

from pit.artifacts.index_port import Filter, MetaValue, SearchHit
from pit.artifacts.manifest import DEFAULT_MEDIA_TYPE
from pit.artifacts.store import ArtifactStore
from pit.common.errors import IntegrityError, InvalidInputError
from pit.infra.file_output import check_output, write_output

MAX_INLINE_BYTES = 1024 * 1024
"""Content returned inside an activity result at most; larger content goes to `path`."""


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArtifactRef(_Input):
    """How one node points at another's stored output."""

    artifact: str
    version: int = Field(ge=1)
    digest: str


class PutInput(_Input):
    """Exactly one of `text`, `data_base64` or `path` (a file on the worker's host)."""

    name: str
    text: str | None = None
    data_base64: str | None = None
    path: str | None = None
    media_type: str | None = None
    """Default: text/plain for `text`, application/octet-stream otherwise."""
    metadata: dict[str, MetaValue] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    storage_class: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PutInput:
        given = [x for x in (self.text, self.data_base64, self.path) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of text, data_base64 or path")
        return self


class PutOutput(ArtifactRef):
    size: int
    deduplicated: bool


class GetInput(_Input):
    """A reference (`digest` optional: when given it must match) and how to return bytes.

    Other keys are ignored, so a whole `pit.artifacts.put` output is a valid input.
    """

    model_config = ConfigDict(extra="ignore")

    artifact: str
    version: int | None = Field(default=None, ge=1)
    """None: the latest version."""
    digest: str | None = None
    path: str | None = None
    """Write the content to this file on the worker's host instead of returning it."""
    encoding: Literal["text", "base64"] = "text"


class GetOutput(ArtifactRef):
    size: int
    media_type: str
    text: str | None = None
    data_base64: str | None = None
    path: str | None = None


class SearchInput(_Input):
    query: str = ""
    filters: list[Filter] = Field(default_factory=list)
    limit: int = Field(default=20, ge=1, le=1000)
    latest_only: bool = False


class SearchOutput(BaseModel):
    hits: list[SearchHit]


class IndexInput(_Input):
    """One version to (re)index, or, with no `artifact`, a rebuild of the whole index."""

    artifact: str | None = None
    version: int | None = Field(default=None, ge=1)


class IndexOutput(BaseModel):
    indexed: int


class ArtifactActivities:
    """The artifact store's operations as activities; register the bound methods."""

    def __init__(self, store: ArtifactStore | Callable[[], ArtifactStore]) -> None:
        """`store`, or a function that opens it on first use (a worker that never runs an
        artifact activity creates no store)."""
        self._store = store

    @property
    def store(self) -> ArtifactStore:
        return self._store if isinstance(self._store, ArtifactStore) else self._store()

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this class, bound, for a worker to register."""
        return [self.put, self.get, self.search, self.index]

    @activity.defn(name="pit.artifacts.put")
    async def put(self, inputs: PutInput) -> PutOutput:
        if inputs.text is not None:
            content: bytes | Path = inputs.text.encode()
            media_type = inputs.media_type or "text/plain; charset=utf-8"
        elif inputs.data_base64 is not None:
            content = _decode_base64(inputs.data_base64)
            media_type = inputs.media_type or DEFAULT_MEDIA_TYPE
        else:
            assert inputs.path is not None
            content = Path(inputs.path)
            media_type = inputs.media_type or DEFAULT_MEDIA_TYPE
        result = await self.store.put(
            inputs.name,
            content,
            media_type=media_type.split(";", 1)[0].strip(),
            metadata=inputs.metadata,
            tags=inputs.tags,
            storage_class=inputs.storage_class,
        )
        return PutOutput(
            artifact=result.name,
            version=result.version,
            digest=result.digest,
            size=result.size,
            deduplicated=result.deduplicated,
        )

    @activity.defn(name="pit.artifacts.get")
    async def get(self, inputs: GetInput) -> GetOutput:
        manifest = await self.store.manifest(inputs.artifact, inputs.version)
        if inputs.digest is not None and inputs.digest != manifest.digest:
            raise IntegrityError(
                f"{manifest.name} v{manifest.version} has digest {manifest.digest}, but the "
                f"reference says {inputs.digest}",
                expected=inputs.digest,
                actual=manifest.digest,
            )
        if inputs.path is None and manifest.size > MAX_INLINE_BYTES:
            raise InvalidInputError.for_field(
                "path", None, f"content over {MAX_INLINE_BYTES} bytes must be written to a path"
            )
        output = GetOutput(
            artifact=manifest.name,
            version=manifest.version,
            digest=manifest.digest,
            size=manifest.size,
            media_type=manifest.media_type,
        )
        if inputs.path is not None:
            # only a regular file (or a new one) is written, and only after the content is
            # verified: the same rules as `pit artifact get -o`
            target = Path(inputs.path)
            check_output(target, "path")
            reader = await self.store.open(manifest.name, manifest.version)
            await write_output(reader.stream, target, "path")
            return output.model_copy(update={"path": inputs.path})
        found = await self.store.get(manifest.name, manifest.version)
        if inputs.encoding == "base64":
            return output.model_copy(update={"data_base64": base64.b64encode(found.data).decode()})
        try:
            return output.model_copy(update={"text": found.data.decode("utf-8")})
        except UnicodeDecodeError:
            rule = "content is not UTF-8 text: ask for encoding base64"
            raise InvalidInputError.for_field("encoding", "text", rule) from None

    @activity.defn(name="pit.artifacts.search")
    async def search(self, inputs: SearchInput) -> SearchOutput:
        hits = await self.store.search(
            inputs.query,
            filters=inputs.filters,
            limit=inputs.limit,
            latest_only=inputs.latest_only,
        )
        return SearchOutput(hits=hits)

    @activity.defn(name="pit.artifacts.index")
    async def index(self, inputs: IndexInput) -> IndexOutput:
        if inputs.artifact is None:
            report = await self.store.reindex()
            return IndexOutput(indexed=report.indexed)
        manifest = await self.store.manifest(inputs.artifact, inputs.version)
        head = await self.store.read_head(manifest)
        await self.store.index.index(self.store.document(manifest, head))
        return IndexOutput(indexed=1)


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise InvalidInputError.for_field("data_base64", text[:32], "must be base64") from None
