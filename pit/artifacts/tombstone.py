"""Tombstones: the soft delete of one version, stored beside its untouched manifest."""

from __future__ import annotations

from datetime import datetime

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from pit.artifacts.manifest import ArtifactName, Digest
from pit.common.errors import IntegrityError

MAX_TOMBSTONE_BYTES = 1024 * 1024
"""A stored tombstone larger than this was not written by the Pit."""


class Tombstone(BaseModel):
    """Version `version` of `name` is deleted (softly) since `deleted_at`.

    Written once with a conditional create; the manifest and the blobs stay until `purge`,
    and removing the tombstone (`restore`) brings the version back exactly as it was.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ArtifactName
    version: int = Field(ge=1)
    digest: Digest
    deleted_at: datetime
    plan_id: str | None = None
    """The cleanup plan that deleted it, for `pit stale restore PLAN_ID`."""
    reason: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)


def parse_tombstone(data: bytes, what: str) -> Tombstone:
    """A stored tombstone, or IntegrityError when the stored bytes are not one."""
    try:
        return Tombstone.model_validate_json(data)
    except pydantic.ValidationError as error:
        problem = error.errors()[0]["msg"]
        raise IntegrityError(f"tombstone of {what} is corrupt: {problem}") from None
