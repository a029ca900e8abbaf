"""What a DAG run is started with, and the envelope its activities answer in."""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from typing import Any

import zstandard
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from pit.dag.compiled import CompiledDag
from pit.dag.status import NodeStatus

DAG_WORKFLOW = "pit.dag"
STEP_ACTIVITIES = frozenset(
    {
        "pit.pool.place",
        "pit.pool.warm",
        "pit.arbiter.ensure",
        "pit.dag.cache_get",
        "pit.dag.cache_put",
    }
)
"""Activities a DAG run calls for its own steps (placing a model node, warming its model,
starting an arbiter), not as a node: they answer as they are, without the node envelope."""
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


PACK_OVER = 64 * 1024
"""A run input whose DAG (and reuse) is larger than this, as JSON, carries it compressed."""
_PACK_LEVEL = 6
_UNPACKED_MAX = 512 * 1024 * 1024
"""What unpacking may produce at most: a corrupt or hostile blob cannot exhaust memory."""


def pack(data: bytes) -> bytes:
    """The one way a run compresses what it carries (zstd: smaller and faster than zlib)."""
    return zstandard.ZstdCompressor(level=_PACK_LEVEL).compress(data)


def unpack(blob: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompress(blob, max_output_size=_UNPACKED_MAX)


TEMPORAL_PAYLOAD_LIMIT = 2 * 1024 * 1024
"""Temporal's default cap on one payload (`limit.blobSize.error`)."""


class CarriedState(BaseModel):
    """What a run hands to itself across continue-as-new: node states, compressed JSON, so
    that tens of thousands of nodes stay under Temporal's 2 MB payload limit."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    started_at: datetime
    packed_nodes: bytes
    progress_marks: int = 0
    packed_maps: bytes | None = None
    """The items of every map node that has expanded, by node id (`MapItems.items`), packed
    like the nodes. A map's list itself is not carried: it is resolved again, the same."""

    @classmethod
    def pack(
        cls,
        started_at: datetime,
        nodes: dict[str, NodeStatus],
        progress_marks: int,
        maps: dict[str, list[NodeStatus]] | None = None,
    ) -> CarriedState:
        data = _NODES.dump_json(nodes, exclude_defaults=True)
        packed_maps = pack(_MAPS.dump_json(maps, exclude_defaults=True)) if maps else None
        return cls(
            started_at=started_at,
            packed_nodes=pack(data),
            progress_marks=progress_marks,
            packed_maps=packed_maps,
        )

    def nodes(self) -> dict[str, NodeStatus]:
        return _NODES.validate_json(unpack(self.packed_nodes))

    def maps(self) -> dict[str, list[NodeStatus]]:
        if self.packed_maps is None:
            return {}
        return _MAPS.validate_json(unpack(self.packed_maps))


_NODES: TypeAdapter[dict[str, NodeStatus]] = TypeAdapter(dict[str, NodeStatus])
_MAPS: TypeAdapter[dict[str, list[NodeStatus]]] = TypeAdapter(dict[str, list[NodeStatus]])


class RunPlan(BaseModel):
    """The big part of a run's input: the compiled DAG and what `resume` offers for reuse."""

    model_config = ConfigDict(extra="forbid")

    dag: CompiledDag
    reuse: dict[str, ReusedNode] = Field(default_factory=dict)


class DagRunInput(BaseModel):
    """What `pit.dag` starts with. The plan travels as it is when small, or where a claim
    check carries big payloads (`payload_limit` None: over 256 KiB the whole input goes to
    the artifact store, and the web UI shows it as JSON through `pit codec-server`);
    otherwise it is compressed when over `PACK_OVER`. Workflows accept both forms; `for_plan`
    and `plan` are the only ways in and out."""

    model_config = ConfigDict(extra="forbid", ser_json_bytes="base64", val_json_bytes="base64")

    dag: CompiledDag | None = None
    reuse: dict[str, ReusedNode] = Field(default_factory=dict)
    packed_plan: bytes | None = None
    """`RunPlan` as compressed JSON (instead of `dag` and `reuse`)."""
    run_inputs: dict[str, Any] = Field(default_factory=dict)
    resumed_from: str | None = None
    carried: CarriedState | None = None
    search_attributes: bool = True
    """Report progress as the PitProgress search attribute (it must be registered)."""
    continue_after_events: int = 10_000
    """Continue-as-new once history is this long (or when the server suggests it)."""
    payload_limit: int | None = TEMPORAL_PAYLOAD_LIMIT
    """The most one payload may carry, None where a claim check stores big payloads: a
    continue-as-new over it ends the run as failed, saying why, rather than hang."""
    no_cache: bool = False
    """`pit run --no-cache`: nodes with `cache:` neither read nor write the cache."""

    @model_validator(mode="after")
    def _one_plan(self) -> DagRunInput:
        if (self.dag is None) == (self.packed_plan is None):
            raise ValueError("exactly one of dag and packed_plan")
        if self.packed_plan is not None and self.reuse:
            raise ValueError("reuse travels inside packed_plan")
        return self

    @classmethod
    def for_plan(
        cls, dag: CompiledDag, reuse: dict[str, ReusedNode] | None = None, **fields: Any
    ) -> DagRunInput:
        plan = RunPlan(dag=dag, reuse=reuse or {})
        claim_checked = fields.get("payload_limit", TEMPORAL_PAYLOAD_LIMIT) is None
        if not claim_checked:
            data = plan.model_dump_json(exclude_defaults=True).encode()
            if len(data) > PACK_OVER:
                return cls(packed_plan=pack(data), **fields)
        return cls(dag=plan.dag, reuse=plan.reuse, **fields)

    def packed_size(self) -> int:
        """This input's size as JSON with its plan compressed: what the run-input limit
        measures, in whichever form the plan travels."""
        if self.packed_plan is not None or self.dag is None:
            return len(self.model_dump_json())
        data = RunPlan(dag=self.dag, reuse=self.reuse).model_dump_json(exclude_defaults=True)
        packed = self.model_copy(
            update={"dag": None, "reuse": {}, "packed_plan": pack(data.encode())}
        )
        return len(packed.model_dump_json())

    def plan(self) -> RunPlan:
        if self.dag is not None:
            return RunPlan(dag=self.dag, reuse=self.reuse)
        assert self.packed_plan is not None
        return RunPlan.model_validate_json(unpack(self.packed_plan))

    def carrying(self, plan: RunPlan, carried: CarriedState, pending: set[str]) -> DagRunInput:
        """This input (whose plan is `plan`) for the next run after continue-as-new: with
        `carried`, offering reuse only to `pending` nodes (the finished ones are carried)."""
        reuse = {k: v for k, v in plan.reuse.items() if k in pending}
        if len(reuse) == len(plan.reuse):
            return self.model_copy(update={"carried": carried})
        fields = self.model_dump(exclude={"dag", "reuse", "packed_plan", "carried"})
        return DagRunInput.for_plan(plan.dag, reuse, carried=carried, **fields)


class StatusPage(BaseModel):
    """Arguments of the `status` query: which slice of the nodes (file order) to include."""

    offset: int = Field(default=0, ge=0)
    limit: int | None = Field(default=None, ge=0)


class ItemsPage(BaseModel):
    """Arguments of the `items` query (`pit dag status RUN --node ID`): a map node's items."""

    node: str
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=500, ge=0, le=2000)


class NodeItems(BaseModel):
    """The answer: items `offset ..` of `total`, in item order (`pit.dag.mapping.item_page`)."""

    node: str
    total: int
    offset: int
    items: list[NodeStatus]


STATUS_PAGE = 2000
"""Nodes per `status` query page: keeps each answer far below gRPC's message limit."""
STATUS_PAGE_BYTES = 256 * 1024
"""JSON per `status` page (and in a run's result) at most, one node at least: under Temporal's
512 KiB payload warning and the claim check's threshold, so a run's result stays in history;
nodes with big outputs come a few per page."""


def status_page(nodes: dict[str, NodeStatus], page: StatusPage) -> dict[str, NodeStatus]:
    """The nodes of `page` (file order), cut short at `STATUS_PAGE_BYTES`."""
    chosen: dict[str, NodeStatus] = {}
    room = STATUS_PAGE_BYTES
    wanted = islice(
        nodes.items(), page.offset, None if page.limit is None else page.offset + page.limit
    )
    for node_id, status in wanted:
        size = len(status.model_dump_json()) + len(node_id)
        if chosen and size > room:
            break
        chosen[node_id] = status
        room -= size
    return chosen


def fit_items(items: list[NodeStatus]) -> list[NodeStatus]:
    """The first of `items` whose JSON fits `STATUS_PAGE_BYTES` (one at least): an `items`
    page of big outputs comes a few at a time, like a `status` page."""
    room = STATUS_PAGE_BYTES
    for count, item in enumerate(items):
        room -= len(item.model_dump_json())
        if count and room < 0:
            return items[:count]
    return items


def unwrap(result: Any) -> tuple[Any, int | None]:
    """(output, attempt) of what a DAG activity returned through a Pit worker."""
    if isinstance(result, dict) and OUTPUT_KEY in result and len(result) <= 2:
        attempt = result.get(ATTEMPT_KEY)
        return result[OUTPUT_KEY], attempt if isinstance(attempt, int) else None
    return result, None
