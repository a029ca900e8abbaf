"""Search attributes Pit workflows set, registered on the embedded server at start.

On a cluster, an operator registers them once (`temporal operator search-attribute create`);
the README lists them.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError

PIT_KIND = SearchAttributeKey.for_keyword("PitKind")
"""What a workflow is: "dag", "check", "stale-cleanup", ..."""

PIT_DAG = SearchAttributeKey.for_keyword("PitDag")
"""The `name` of the DAG a run executes."""

PIT_NODES = SearchAttributeKey.for_int("PitNodes")
"""How many nodes the DAG has."""

PIT_PROGRESS = SearchAttributeKey.for_float("PitProgress")
"""Finished nodes / all nodes, updated in steps of 10%."""

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
        flags += ["--search-attribute", f"{key.name}={_type_name(key)}"]
    return flags


def _type_name(key: SearchAttributeKey[Any]) -> str:
    # IndexedValueType names are INDEXED_VALUE_TYPE_KEYWORD etc.; the CLI wants Keyword
    raw = key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
    return "".join(part.capitalize() for part in raw.split("_"))


async def search_attributes_registered(client: Client) -> bool:
    """True when the namespace knows every Pit search attribute (the UI can then filter)."""
    try:
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError:
        return False
    known = set(response.custom_attributes)
    return all(key.name in known for key in PIT_SEARCH_ATTRIBUTES)
