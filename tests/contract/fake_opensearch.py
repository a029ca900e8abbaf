"""A stand-in OpenSearch for pytest-httpserver: checks each request against the spec and
answers with canned responses that are themselves checked against the spec."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

from tests.contract.openapi import OpenSearchSpec, SpecViolation

Json = dict[str, Any]
_SHARDS = {"total": 1, "successful": 1, "failed": 0}


@dataclass
class Recorded:
    operation: str
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeOpenSearch:
    spec: OpenSearchSpec
    indexes: set[str] = field(default_factory=set)
    requests: list[Recorded] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    search_response: Callable[[str, Json], Json] | None = None
    """Canned answer to a search on an index; default: no hits."""
    documents: set[tuple[str, str]] = field(default_factory=set)

    def handle(self, request: Request) -> Response:
        query = dict(request.args.items())
        raw = request.get_data()
        try:
            operation = self.spec.check_request(request.method, request.path, query, raw or None)
        except SpecViolation as violation:
            self.violations.append(str(violation))
            return _json(400, _error("spec_violation", str(violation)))
        body: Any = None
        if raw:
            lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
            body = lines if operation.node.get("x-operation-group") == "bulk" else lines[0]
        self.requests.append(
            Recorded(operation.operation_id, request.method, request.path, query, body)
        )
        group = operation.node["x-operation-group"]
        status, answer = getattr(self, "_" + group.replace(".", "_"))(request.path, body)
        try:
            self.spec.check_response(operation, status, answer)
        except SpecViolation as violation:
            self.violations.append(f"canned response: {violation}")
        if request.method == "HEAD":
            return Response(status=status)
        return _json(status, answer)

    def bodies(self, operation_prefix: str) -> list[Any]:
        return [r.body for r in self.requests if r.operation.startswith(operation_prefix)]

    def _indices_exists(self, path: str, body: Any) -> tuple[int, Any]:
        return (200 if path.strip("/") in self.indexes else 404), None

    def _indices_create(self, path: str, body: Any) -> tuple[int, Any]:
        name = path.strip("/")
        if name in self.indexes:
            return 400, _error("resource_already_exists_exception", f"index [{name}] exists")
        self.indexes.add(name)
        return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}

    def _indices_delete(self, path: str, body: Any) -> tuple[int, Any]:
        name = path.strip("/")
        if name not in self.indexes:
            return 404, _error("index_not_found_exception", f"no such index [{name}]")
        self.indexes.discard(name)
        return 200, {"acknowledged": True}

    def _index(self, path: str, body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        doc_id = parts[2] if len(parts) > 2 else f"auto-{len(self.requests)}"
        self.documents.add((parts[0], doc_id))
        return 201, _write_result(parts[0], doc_id, "created")

    def _delete(self, path: str, body: Any) -> tuple[int, Any]:
        index, _, doc_id = path.strip("/").split("/")
        if (index, doc_id) not in self.documents:
            return 404, _write_result(index, doc_id, "not_found")
        self.documents.discard((index, doc_id))
        return 200, _write_result(index, doc_id, "deleted")

    def _bulk(self, path: str, body: Any) -> tuple[int, Any]:
        items = []
        for action in body[::2]:
            meta = action["index"]
            items.append(
                {"index": {**_write_result(meta["_index"], meta["_id"], "created"), "status": 201}}
            )
        return 200, {"took": 1, "errors": False, "items": items}

    def _search(self, path: str, body: Any) -> tuple[int, Any]:
        index = path.strip("/").split("/")[0]
        if self.search_response is not None:
            return 200, self.search_response(index, body)
        return 200, search_result([])


def search_result(hits: list[Json], aggregations: Json | None = None) -> Json:
    """A search response the spec allows, holding `hits`."""
    result: Json = {
        "took": 1,
        "timed_out": False,
        "_shards": {**_SHARDS, "skipped": 0},
        "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": None, "hits": hits},
    }
    if aggregations is not None:
        result["aggregations"] = aggregations
    return result


def _write_result(index: str, doc_id: str, result: str) -> Json:
    return {
        "_index": index,
        "_id": doc_id,
        "_version": 1,
        "result": result,
        "_shards": _SHARDS,
        "_seq_no": 0,
        "_primary_term": 1,
    }


def _error(kind: str, reason: str) -> Json:
    return {
        "error": {"type": kind, "reason": reason, "root_cause": [{"type": kind, "reason": reason}]},
        "status": 400,
    }


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
