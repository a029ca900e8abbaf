"""The version manifest: the immutable record of one version of one artifact."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pit.artifacts.index_port import MetaValue
from pit.artifacts.names import (
    check_artifact_name,
    check_digest,
    check_media_type,
    check_meta_key,
    check_storage_class,
    check_tag,
)
from pit.common.errors import IntegrityError, InvalidInputError

DEFAULT_MEDIA_TYPE = "application/octet-stream"
MANIFEST_SCHEMA = 1


def _pydantic(check: Callable[[Any], Any]) -> AfterValidator:
    def validate(value: object) -> Any:
        try:
            return check(value)
        except InvalidInputError as error:
            raise ValueError(error.details["rule"]) from None

    return AfterValidator(validate)


ArtifactName = Annotated[str, _pydantic(check_artifact_name)]
Digest = Annotated[str, _pydantic(check_digest)]
MediaType = Annotated[str, _pydantic(check_media_type)]
Tag = Annotated[str, _pydantic(check_tag)]
StorageClass = Annotated[str, _pydantic(check_storage_class)]


def _check_metadata(value: dict[str, MetaValue]) -> dict[str, MetaValue]:
    for key in value:
        check_meta_key(key)
    return value


Metadata = Annotated[dict[str, MetaValue], _pydantic(_check_metadata)]


class ChunkRef(BaseModel):
    """One content-defined chunk of a large blob, stored as a blob of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    digest: Digest
    size: int = Field(ge=0)


class Manifest(BaseModel):
    """Version `version` of artifact `name`. Written once, with a conditional create."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = MANIFEST_SCHEMA
    name: ArtifactName
    version: int = Field(ge=1)
    digest: Digest
    """SHA-256 of the whole content, whether it is stored whole or in chunks."""
    size: int = Field(ge=0)
    media_type: MediaType = DEFAULT_MEDIA_TYPE
    created_at: datetime
    metadata: Metadata = Field(default_factory=dict)
    tags: tuple[Tag, ...] = ()
    previous_version: int | None = Field(default=None, ge=1)
    storage_class: StorageClass | None = None
    chunks: tuple[ChunkRef, ...] | None = None
    """The content's chunks in order when it was split; None when stored as one blob."""

    @property
    def blob_digests(self) -> tuple[str, ...]:
        """Every blob this version needs, in content order."""
        if self.chunks is None:
            return (self.digest,)
        return tuple(chunk.digest for chunk in self.chunks)

    def reference(self) -> dict[str, object]:
        """How a DAG node points at this version: small, and checked when it is read."""
        return {"artifact": self.name, "version": self.version, "digest": self.digest}


def parse_manifest(data: bytes, what: str) -> Manifest:
    """A stored manifest, or IntegrityError when the stored bytes are not one."""
    try:
        return Manifest.model_validate_json(data)
    except pydantic.ValidationError as error:
        raise IntegrityError(f"manifest of {what} is corrupt: {error.errors()[0]['msg']}") from None
