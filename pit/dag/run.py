"""What a DAG run is started with, and the envelope its activities answer in."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from pit.dag.spec import DagSpec
from pit.dag.status import NodeStatus

DAG_WORKFLOW = "pit.dag"
OUTPUT_KEY = "pit.output"
ATTEMPT_KEY = "pit.attempt"
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
"""The largest node output a run accepts. Outputs over 256 KiB never enter workflow history:
the claim check (`pit.infra.temporal.claim_check`) keeps them in the artifact store and
history holds a reference. Beyond this, keep the data in an artifact and return its
reference yourself: the workflow holds outputs in memory."""


class ReusedNode(BaseModel):
    """A node that succeeded in an earlier run, offered for reuse by `resume`."""

    fingerprint: str
    output: Any = None
    run_id: str


class CarriedState(BaseModel):
    """What a run hands to itself across continue-as-new: node states, zlib-compressed JSON,
    so that tens of thousands of nodes stay under Temporal's 2 MB payload limit."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    started_at: datetime
    packed_nodes: bytes
    progress_marks: int = 0

    @classmethod
    def pack(
        cls, started_at: datetime, nodes: dict[str, NodeStatus], progress_marks: int
    ) -> CarriedState:
        data = _NODES.dump_json(nodes, exclude_defaults=True)
        return cls(
            started_at=started_at,
            packed_nodes=zlib.compress(data, 6),
            progress_marks=progress_marks,
        )

    def nodes(self) -> dict[str, NodeStatus]:
        return _NODES.validate_json(zlib.decompress(self.packed_nodes))


_NODES: TypeAdapter[dict[str, NodeStatus]] = TypeAdapter(dict[str, NodeStatus])


PACK_SPEC_OVER = 64 * 1024
"""A DAG spec larger than this (as JSON) travels zlib-compressed."""


class DagRunInput(BaseModel):
    model_config = ConfigDict(extra="forbid", ser_json_bytes="base64", val_json_bytes="base64")

    spec: DagSpec | None = None
    packed_spec: bytes | None = None
    """The spec as zlib-compressed JSON, for graphs too big for a 2 MB payload otherwise."""
    run_inputs: dict[str, Any] = Field(default_factory=dict)
    reuse: dict[str, ReusedNode] = Field(default_factory=dict)
    resumed_from: str | None = None
    carried: CarriedState | None = None
    search_attributes: bool = True
    """Report progress as the PitProgress search attribute (it must be registered)."""
    continue_after_events: int = 10_000
    """Continue-as-new once history is this long (or when the server suggests it)."""

    @model_validator(mode="after")
    def _one_spec(self) -> DagRunInput:
        if (self.spec is None) == (self.packed_spec is None):
            raise ValueError("exactly one of spec and packed_spec")
        return self

    @classmethod
    def for_spec(cls, spec: DagSpec, **fields: Any) -> DagRunInput:
        data = spec.model_dump_json(exclude_defaults=True).encode()
        if len(data) > PACK_SPEC_OVER:
            return cls(packed_spec=zlib.compress(data, 6), **fields)
        return cls(spec=spec, **fields)

    def dag_spec(self) -> DagSpec:
        if self.spec is not None:
            return self.spec
        assert self.packed_spec is not None
        return DagSpec.model_validate_json(zlib.decompress(self.packed_spec))


class StatusPage(BaseModel):
    """Arguments of the `status` query: which slice of the nodes (file order) to include."""

    offset: int = Field(default=0, ge=0)
    limit: int | None = Field(default=None, ge=0)


STATUS_PAGE = 2000
"""Nodes per `status` query page: keeps each answer far below gRPC's message limit."""


def unwrap(result: Any) -> tuple[Any, int | None]:
    """(output, attempt) of what a DAG activity returned through a Pit worker."""
    if isinstance(result, dict) and OUTPUT_KEY in result and len(result) <= 2:
        attempt = result.get(ATTEMPT_KEY)
        return result[OUTPUT_KEY], attempt if isinstance(attempt, int) else None
    return result, None
