"""Every request the OpenSearch adapter sends fits the official API specification, and the
adapter reads spec-shaped responses into the same answers the SQLite index gives."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pit.artifacts.index_port import AccessStats, Filter, SearchQuery
from pit.artifacts.index_query import to_micros
from pit.common.errors import BackendUnavailableError, InvalidInputError
from pit.infra.opensearch_index import OpenSearchIndex
from pit.infra.opensearch_index._dsl import access_key
from tests.contract.fake_opensearch import FakeOpenSearch, search_result
from tests.index.conftest import EPOCH, doc
from tests.index.test_filters import CASES


def operations(fake: FakeOpenSearch) -> list[str]:
    return [request.operation for request in fake.requests]


async def test_first_use_creates_both_indexes_with_their_mappings(adapter, fake: FakeOpenSearch):
    await adapter.search(SearchQuery(text="x"))
    assert [r.operation.split(".")[0:2] for r in fake.requests][:4] == [
        ["indices", "exists"],
        ["indices", "create"],
    ] * 2
    created = {
        r.path.strip("/"): r.body for r in fake.requests if r.operation.startswith("indices.create")
    }
    assert set(created) == {"pit-documents", "pit-accesses"}
    documents = created["pit-documents"]["mappings"]
    assert documents["dynamic"] == "strict"
    assert documents["properties"]["meta"]["type"] == "nested"
    assert documents["properties"]["name"]["type"] == "keyword"


async def test_existing_indexes_are_checked_once_and_not_recreated(adapter, fake: FakeOpenSearch):
    fake.indexes.update({"pit-documents", "pit-accesses"})
    await adapter.search(SearchQuery(text="x"))
    await adapter.search(SearchQuery(text="y"))
    assert operations(fake).count("indices.exists.0") == 2
    assert not [op for op in operations(fake) if op.startswith("indices.create")]


async def test_index_race_with_another_creator_is_not_an_error(
    adapter, fake: FakeOpenSearch, monkeypatch
):
    original = fake._indices_exists
    monkeypatch.setattr(fake, "_indices_exists", lambda path, body: (404, None))
    fake.indexes.add("pit-documents")  # exists, but our check said it did not
    await adapter.search(SearchQuery())
    monkeypatch.setattr(fake, "_indices_exists", original)


async def test_indexing_puts_the_document_by_a_path_safe_id_with_refresh(
    adapter, fake: FakeOpenSearch
):
    await adapter.index(
        doc(
            "models/bert",
            2,
            "weights",
            metadata={"epochs": 3, "lang": "en", "ok": True},
            tags=("nlp",),
        )
    )
    (put,) = [r for r in fake.requests if r.operation.startswith("index.")]
    assert put.method == "PUT"
    assert put.path.count("/") == 3  # /pit-documents/_doc/<id>: the name's slash is not in the id
    assert put.query == {"refresh": "wait_for"}
    assert put.body["name"] == "models/bert"
    assert put.body["created_us"] == to_micros(EPOCH)
    assert {entry["key"]: entry for entry in put.body["meta"]}["epochs"]["n"] == 3.0
    assert {entry["key"]: entry for entry in put.body["meta"]}["ok"]["b"] is True


async def test_index_many_sends_one_bulk_request(adapter, fake: FakeOpenSearch):
    await adapter.index_many([doc(f"d{n}", text="bulk") for n in range(3)])
    (bulk,) = fake.bodies("bulk")
    assert len(bulk) == 6
    assert bulk[0]["index"]["_index"] == "pit-documents"


async def test_removing_a_missing_document_is_not_an_error(adapter, fake: FakeOpenSearch):
    await adapter.index(doc("a", text="x"))
    await adapter.remove("a", 1)
    await adapter.remove("a", 1)  # 404 not_found now
    assert operations(fake).count("delete.0") == 2


async def test_clear_deletes_the_documents_index_and_recreates_it_on_next_use(
    adapter, fake: FakeOpenSearch
):
    await adapter.index(doc("a", text="x"))
    await adapter.clear()
    assert "pit-documents" not in fake.indexes
    assert "pit-accesses" in fake.indexes  # accesses stay
    await adapter.clear()  # already gone: not an error
    await adapter.index(doc("a", text="x"))
    assert "pit-documents" in fake.indexes


async def test_search_with_text_phrases_and_every_filter_fits_the_spec(
    adapter, fake: FakeOpenSearch
):
    filters = tuple(Filter(field=field, op=op, value=value) for field, op, value, _ in CASES)
    await adapter.search(SearchQuery(text='weights "model card"', filters=filters, limit=7))
    (body,) = fake.bodies("search")
    boolean = body["query"]["bool"]
    assert [clause["multi_match"]["query"] for clause in boolean["must"]] == [
        "weights",
        "model card",
    ]
    assert all(clause["multi_match"]["type"] == "phrase" for clause in boolean["must"])
    negated = sum(1 for _, op, _, _ in CASES if op == "ne")
    assert len(boolean["must_not"]) == negated
    assert len(boolean["filter"]) == len(CASES) - negated
    assert body["size"] == 7
    assert body["sort"] == [
        {"_score": {"order": "desc"}},
        {"name": {"order": "asc"}},
        {"version": {"order": "desc"}},
    ]
    assert body["highlight"]["pre_tags"] == ["["]


async def test_latest_only_collapses_on_name_keeping_the_newest(adapter, fake: FakeOpenSearch):
    await adapter.search(SearchQuery(text="budget", latest_only=True))
    (body,) = fake.bodies("search")
    assert body["collapse"]["field"] == "name"
    assert body["collapse"]["inner_hits"]["sort"] == [{"version": {"order": "desc"}}]


def _hit(name: str, version: int, score: float | None, highlight: str | None = None) -> dict:
    hit = {
        "_index": "pit-documents",
        "_id": f"{name}-{version}",
        "_score": score,
        "_source": {
            "name": name,
            "version": version,
            "digest": f"sha256:{name}",
            "media_type": "text/plain",
            "size": 3,
        },
        "sort": [score or 0.0, name, version],
    }
    if highlight is not None:
        hit["highlight"] = {"text": [highlight]}
    return hit


async def test_hits_are_read_in_order_with_bracketed_snippets(adapter, fake: FakeOpenSearch):
    fake.search_response = lambda index, body: search_result(
        [_hit("a", 2, 1.5, "the [quick] [brown] fox"), _hit("b", 1, 0.5, "a [quick] one")]
    )
    hits = await adapter.search(SearchQuery(text='"quick brown"'))
    assert [(h.name, h.version, h.score) for h in hits] == [("a", 2, 1.5), ("b", 1, 0.5)]
    assert hits[0].snippet == "the [quick brown] fox"


async def test_filter_only_hits_score_zero_like_sqlite(adapter, fake: FakeOpenSearch):
    fake.search_response = lambda index, body: search_result([_hit("a", 1, 1.0)])
    (hit,) = await adapter.search(SearchQuery())
    assert (hit.score, hit.snippet) == (0.0, "")


async def test_latest_only_hits_come_from_the_newest_inner_hit(adapter, fake: FakeOpenSearch):
    outer = _hit("plan", 1, 2.0)
    inner = _hit("plan", 3, None, "final [budget]")
    outer["inner_hits"] = {
        "newest": {
            "hits": {"total": {"value": 3, "relation": "eq"}, "max_score": None, "hits": [inner]}
        }
    }
    fake.search_response = lambda index, body: search_result([outer])
    (hit,) = await adapter.search(SearchQuery(text="budget", latest_only=True))
    assert (hit.name, hit.version, hit.score, hit.snippet) == ("plan", 3, 2.0, "final [budget]")


async def test_odd_user_text_never_reaches_the_server_as_syntax(adapter, fake: FakeOpenSearch):
    await adapter.search(SearchQuery(text='foo" OR (bar'))
    (body,) = fake.bodies("search")
    assert [c["multi_match"]["query"] for c in body["query"]["bool"]["must"]] == [
        "foo",
        "or",
        "bar",
    ]
    with pytest.raises(InvalidInputError):
        await adapter.search(SearchQuery(text='" * ('))


async def test_record_access_indexes_one_access_document_without_refresh(
    adapter, fake: FakeOpenSearch
):
    await adapter.record_access("a", 1, EPOCH)
    (record,) = [r for r in fake.requests if r.operation.startswith("index.")]
    assert record.method == "POST"
    assert record.path == "/pit-accesses/_doc"
    assert record.body == {"key": "1:a", "name": "a", "version": 1, "at_us": to_micros(EPOCH)}


async def test_access_stats_come_from_one_terms_aggregation(adapter, fake: FakeOpenSearch):
    since = EPOCH + timedelta(hours=1)
    last = to_micros(EPOCH + timedelta(hours=5))

    def answer(index: str, body: dict) -> dict:
        assert index == "pit-accesses"
        bucket = {
            "key": access_key("a", 1),
            "doc_count": 4,
            "last": {"value": float(last)},
            "recent": {"doc_count": 2},
        }
        return search_result(
            [],
            {
                "by_key": {
                    "doc_count_error_upper_bound": 0,
                    "sum_other_doc_count": 0,
                    "buckets": [bucket],
                }
            },
        )

    fake.search_response = answer
    stats = await adapter.access_stats([("a", 1), ("b", 7)], since=since)
    assert stats == {
        ("a", 1): AccessStats(count=2, last_access=EPOCH + timedelta(hours=5)),
        ("b", 7): AccessStats(),
    }
    (body,) = fake.bodies("search")
    assert body["size"] == 0
    assert body["query"] == {"terms": {"key": ["1:a", "7:b"]}}
    assert body["aggs"]["by_key"]["aggs"]["recent"] == {
        "filter": {"range": {"at_us": {"gte": to_micros(since)}}}
    }


async def test_access_stats_for_no_keys_sends_nothing(adapter, fake: FakeOpenSearch):
    assert await adapter.access_stats([]) == {}
    assert fake.requests == []


async def test_unreachable_server_is_backend_unavailable_fast():
    from pit.infra.temporal.devserver import free_port

    index = OpenSearchIndex(f"http://127.0.0.1:{free_port()}", timeout=1.0, max_retries=1)
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError):
        await index.search(SearchQuery(text="x"))
    assert time.monotonic() - started < 3
    await index.close()


async def test_server_that_never_answers_is_backend_unavailable_within_the_deadline(
    httpserver: HTTPServer,
):
    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response("{}", status=200)

    httpserver.expect_request("/pit-documents", method="HEAD").respond_with_handler(slow)
    index = OpenSearchIndex(
        f"http://127.0.0.1:{httpserver.port}", timeout=0.2, max_retries=1, deadline=0.6
    )
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError):
        await index.search(SearchQuery(text="x"))
    assert time.monotonic() - started < 1.4
    await index.close()
    await asyncio.sleep(1.0)  # let the slow handler finish before the next test uses the server


@pytest.mark.parametrize("status", [429, 503])
async def test_overloaded_server_is_backend_unavailable(httpserver: HTTPServer, status: int):
    httpserver.expect_request("/pit-documents", method="HEAD").respond_with_json(
        {"error": "busy"}, status=status
    )
    index = OpenSearchIndex(f"http://127.0.0.1:{httpserver.port}", timeout=1.0, max_retries=0)
    with pytest.raises(BackendUnavailableError):
        await index.search(SearchQuery())
    await index.close()
