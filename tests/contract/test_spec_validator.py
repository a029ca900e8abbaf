"""The contract validator itself: it accepts what the spec allows and catches what it does not."""

from __future__ import annotations

import json

import pytest

from tests.contract.openapi import OpenSearchSpec, SpecViolation


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_finds_operations_by_method_and_path_template(spec: OpenSearchSpec):
    assert spec.operation("POST", "/_bulk").operation_id == "bulk.0"
    assert spec.operation("PUT", "/my-index").operation_id == "indices.create.0"
    assert spec.operation("HEAD", "/my-index").operation_id == "indices.exists.0"
    assert spec.operation("PUT", "/my-index/_doc/abc").operation_id == "index.2"


def test_accepts_a_well_formed_search(spec: OpenSearchSpec):
    spec.check_request(
        "POST",
        "/i/_search",
        {"filter_path": "hits"},
        body({"size": 3, "query": {"bool": {"filter": [{"range": {"n": {"gte": 1}}}]}}}),
    )


@pytest.mark.parametrize(
    ("method", "path", "query", "payload", "complaint"),
    [
        ("GET", "/i/_frobnicate", {}, None, "no operation"),
        ("PATCH", "/i", {}, None, "no operation"),
        ("PUT", "/i/_doc/1", {"colour": "red"}, body({}), "undeclared query parameter"),
        ("PUT", "/i/_doc/1", {"refresh": "maybe"}, body({}), "refresh"),
        ("POST", "/i/_search", {}, body({"size": "ten"}), "size"),
        ("POST", "/i/_search", {}, body({"sort": 7}), "sort"),
        (
            "POST",
            "/i/_search",
            {},
            body({"query": {"bool": {"filter": [{"term": {"f": {"valu": 1}}}]}}}),
            "filter",
        ),
        ("POST", "/i/_search", {}, body({"collapse": {"inner_hits": {"size": "one"}}}), "collapse"),
        (
            "PUT",
            "/i",
            {},
            body({"mappings": {"properties": {"f": {"type": "no-such-type"}}}}),
            "mappings",
        ),
        ("HEAD", "/i", {}, body({"x": 1}), "takes no request body"),
    ],
)
def test_catches_malformed_requests(spec: OpenSearchSpec, method, path, query, payload, complaint):
    with pytest.raises(SpecViolation, match=complaint):
        spec.check_request(method, path, query, payload)


def test_catches_a_canned_response_the_spec_does_not_allow(spec: OpenSearchSpec):
    operation = spec.operation("POST", "/i/_search")
    with pytest.raises(SpecViolation):
        spec.check_response(
            operation,
            200,
            {"took": "fast", "timed_out": False, "_shards": {}, "hits": {"hits": []}},
        )
    with pytest.raises(SpecViolation, match="undeclared status"):
        spec.check_response(spec.operation("PUT", "/i"), 302, {})
