"""Search attributes Pit workflows set, registered on the embedded server at start.

On a cluster, an operator registers them once (`temporal operator search-attribute create`);
the README lists them.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from pit.dag.compiled import CompiledDag

PIT_KIND = SearchAttributeKey.for_keyword("PitKind")
"""What a workflow or schedule is: one of KINDS."""

KINDS = (
    "dag",
    "check",
    "arbiter",
    "pool-registry",
    "pool-command",
    "stale-cleanup",
    "stale-schedule",
)
"""Every `PitKind`: a DAG run (and a child graph's run), `pit check`, a domain's arbiter, the
pool's host registry, a warm/cool/status command, a cleanup run and its schedule."""

PIT_DAG = SearchAttributeKey.for_keyword("PitDag")
"""The `name` of the DAG a run executes."""

PIT_NODES = SearchAttributeKey.for_int("PitNodes")
"""How many nodes the DAG has."""

PIT_PROGRESS = SearchAttributeKey.for_float("PitProgress")
"""Finished nodes / all nodes, updated in steps of 10%."""

SCHEDULED_BY = SearchAttributeKey.for_keyword("TemporalScheduledById")
"""Temporal's own: set on every workflow a schedule starts, the schedule's id."""

PIT_SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (
    PIT_KIND,
    PIT_DAG,
    PIT_NODES,
    PIT_PROGRESS,
)


def dev_server_flags() -> list[str]:
    """`--search-attribute NAME=Type` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in PIT_SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={type_name(key)}"]
    return flags


def type_name(key: SearchAttributeKey[Any]) -> str:
    # IndexedValueType names are INDEXED_VALUE_TYPE_KEYWORD etc.; the CLI wants Keyword
    raw = key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
    return "".join(part.capitalize() for part in raw.split("_"))


_REGISTERED: weakref.WeakKeyDictionary[Client, bool] = weakref.WeakKeyDictionary()
"""Clients whose namespace was seen to know every Pit search attribute (never forgotten:
attributes are not unregistered under a running Pit; a False is asked again next time)."""


async def search_attributes_registered(client: Client) -> bool:
    """True when the namespace knows every Pit search attribute (the UI can then filter)."""
    if _REGISTERED.get(client):
        return True
    try:
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError:
        return False
    known = set(response.custom_attributes)
    registered = all(key.name in known for key in PIT_SEARCH_ATTRIBUTES)
    if registered:
        _REGISTERED[client] = True
    return registered


@dataclass(frozen=True)
class PitTags:
    """What marks a Pit workflow or schedule for Temporal's UI and CLI: `PitKind` (when the
    namespace knows the Pit's search attributes), a memo that names the kind, and a summary
    line (the UI's "summary", set as the start's static summary)."""

    kind: str
    summary: str
    memo: dict[str, Any] = field(default_factory=dict)
    search_attributes: TypedSearchAttributes | None = None


async def pit_tags(
    client: Client,
    kind: str,
    summary: str,
    memo: Mapping[str, Any] | None = None,
    more: Sequence[SearchAttributePair[Any]] = (),
) -> PitTags:
    """The tags of a `kind` workflow or schedule started through `client`; `more`: search
    attributes beside PitKind (PitDag ...), set only where the namespace knows them too."""
    assert kind in KINDS, kind
    indexed = await search_attributes_registered(client)
    attributes = (
        TypedSearchAttributes([SearchAttributePair(PIT_KIND, kind), *more]) if indexed else None
    )
    return PitTags(
        kind=kind,
        summary=summary,
        memo={"kind": kind, **(memo or {})},
        search_attributes=attributes,
    )


async def dag_tags(client: Client, dag: CompiledDag, resumed_from: str | None = None) -> PitTags:
    """The tags of a run of the compiled graph `dag` (its name and size are searchable)."""
    return await pit_tags(
        client,
        "dag",
        f"DAG {dag.name} ({dag.size} nodes)",
        {"dag": dag.name, "nodes": dag.size, "resumed_from": resumed_from},
        dag_attributes(dag.name, dag.size),
    )


def dag_attributes(name: str, size: int) -> list[SearchAttributePair[Any]]:
    """PitDag, PitNodes and PitProgress 0 of a new run (PitKind is added by `pit_tags`)."""
    return [
        SearchAttributePair(PIT_DAG, name),
        SearchAttributePair(PIT_NODES, size),
        SearchAttributePair(PIT_PROGRESS, 0.0),
    ]


def child_dag_tags(
    child: CompiledDag, node_id: str, searchable: bool
) -> tuple[dict[str, Any], TypedSearchAttributes | None]:
    """The memo and search attributes of the run of a child graph (node `node_id`), as the
    DAG workflow starts it (no RPC: its parent's input says whether attributes are indexed)."""
    memo = {"kind": "dag", "dag": child.name, "nodes": child.size, "node": node_id}
    pairs = [SearchAttributePair(PIT_KIND, "dag"), *dag_attributes(child.name, child.size)]
    return memo, TypedSearchAttributes(pairs) if searchable else None
