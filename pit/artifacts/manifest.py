"""The version manifest: the immutable record of one version of one artifact.

A stored manifest carries `checksum`, the SHA-256 of its other fields in a canonical JSON form
(keys sorted, no spaces, ASCII; Python's `json`, so it does not depend on pydantic's output):
a manifest edited or damaged on disk is an IntegrityError when it is read. It detects change,
not forgery: whoever can write the store can also compute a new checksum. Manifests written
before checksums have none; they are accepted, and `verify` counts them.
"""

from __future__ import annotations

import hashlib
import json
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
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
"""A stored manifest larger than this was not written by the Pit (a version of a 100 GiB file
in 1 MiB chunks needs about 13 MiB)."""


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
    checksum: str | None = None
    """As read from the store: the checksum it was stored with, None if it predates them.
    Written by `manifest_bytes`, never set by hand."""

    @property
    def blob_digests(self) -> tuple[str, ...]:
        """Every blob this version needs, in content order."""
        if self.chunks is None:
            return (self.digest,)
        return tuple(chunk.digest for chunk in self.chunks)

    def reference(self) -> dict[str, object]:
        """How a DAG node points at this version: small, and checked when it is read."""
        return {"artifact": self.name, "version": self.version, "digest": self.digest}


def manifest_bytes(manifest: Manifest) -> bytes:
    """The stored form of `manifest`: JSON with its checksum."""
    body = manifest.model_dump(mode="json", exclude={"checksum"})
    body["checksum"] = _checksum(body)
    return json.dumps(body, indent=2).encode() + b"\n"


def _checksum(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def parse_manifest(
    data: bytes, what: str, *, name: str | None = None, version: int | None = None
) -> Manifest:
    """A stored manifest, or IntegrityError when the stored bytes are not one, do not match
    their checksum, or describe another version than the one at this place (`name`,
    `version`)."""
    try:
        body = json.loads(data)
    except ValueError as error:  # also bytes that are not UTF-8, and over-long integers
        raise _corrupt(what, f"is not JSON ({error})") from None
    if not isinstance(body, dict):
        raise _corrupt(what, "is not a JSON object")
    claimed = body.pop("checksum", None)
    if claimed is not None and claimed != _checksum(body):
        raise _corrupt(what, "was altered: its content does not match its checksum")
    try:
        manifest = Manifest.model_validate({**body, "checksum": claimed})
    except pydantic.ValidationError as error:
        raise _corrupt(what, f"is corrupt: {error.errors()[0]['msg']}") from None
    if (name is not None and manifest.name != name) or (
        version is not None and manifest.version != version
    ):
        problem = f"describes {manifest.name} v{manifest.version}: it was moved or copied there"
        raise _corrupt(what, problem)
    return manifest


def _corrupt(what: str, problem: str) -> IntegrityError:
    return IntegrityError(
        f"manifest of {what} {problem} (run `pit artifact verify`)", problem=problem
    )
