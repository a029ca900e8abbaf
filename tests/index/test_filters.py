"""Metadata filters: every op on every field, combined filters, and filters misused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pit.artifacts.index_port import Filter, SearchIndex, SearchQuery
from pit.common.errors import InvalidInputError
from tests.index.conftest import EPOCH, doc


@pytest.fixture
async def catalog(index: SearchIndex) -> SearchIndex:
    """Three artifacts, four versions, with varied fields and metadata."""
    await index.index(
        doc(
            "models/bert",
            1,
            "weights card",
            size=100,
            day=0,
            tags=("nlp", "base"),
            metadata={"epochs": 3, "lang": "en", "final": False, "run": "2025-01-05T00:00:00Z"},
        )
    )
    await index.index(
        doc(
            "models/bert",
            2,
            "weights card",
            size=300,
            day=10,
            tags=("nlp",),
            metadata={"epochs": 12.5, "lang": "en", "final": True, "run": "2025-02-01T00:00:00Z"},
        )
    )
    await index.index(
        doc(
            "models/gpt",
            1,
            "weights card",
            size=200,
            day=20,
            media_type="application/json",
            metadata={"epochs": 7, "lang": "fr"},
        )
    )
    await index.index(
        doc("data/train.csv", 1, "rows", size=5000, day=30, media_type="text/csv", tags=("data",))
    )
    return index


async def found(index: SearchIndex, *filters: Filter, text: str = "") -> set[tuple[str, int]]:
    hits = await index.search(SearchQuery(text=text, filters=filters))
    return {(hit.name, hit.version) for hit in hits}


BERT1, BERT2, GPT, CSV = (
    ("models/bert", 1),
    ("models/bert", 2),
    ("models/gpt", 1),
    ("data/train.csv", 1),
)
ALL = {BERT1, BERT2, GPT, CSV}

CASES = [
    ("name", "eq", "models/gpt", {GPT}),
    ("name", "ne", "models/gpt", ALL - {GPT}),
    ("name", "prefix", "models/", {BERT1, BERT2, GPT}),
    ("name", "prefix", "models/b", {BERT1, BERT2}),
    ("media_type", "eq", "text/csv", {CSV}),
    ("media_type", "ne", "text/plain", {GPT, CSV}),
    ("media_type", "prefix", "text/", {BERT1, BERT2, CSV}),
    ("tag", "eq", "nlp", {BERT1, BERT2}),
    ("tag", "eq", "base", {BERT1}),
    ("tag", "ne", "nlp", {GPT, CSV}),
    ("size", "eq", 300, {BERT2}),
    ("size", "ne", 300, ALL - {BERT2}),
    ("size", "gt", 200, {BERT2, CSV}),
    ("size", "gte", 200, {BERT2, GPT, CSV}),
    ("size", "lt", 200, {BERT1}),
    ("size", "lte", 200, {BERT1, GPT}),
    ("version", "gte", 2, {BERT2}),
    ("version", "eq", 1, ALL - {BERT2}),
    ("created_at", "gte", datetime(2025, 1, 11, tzinfo=UTC), {BERT2, GPT, CSV}),
    ("created_at", "lt", "2025-01-21T00:00:00+00:00", {BERT1, BERT2}),
    ("created_at", "eq", EPOCH, {BERT1}),
    ("created_at", "lte", "2025-01-01T00:00:00Z", {BERT1}),
    ("created_at", "gt", datetime(2025, 1, 21), {CSV}),  # naive means UTC
    ("meta.epochs", "eq", 7, {GPT}),
    ("meta.epochs", "ne", 7, ALL - {GPT}),  # includes documents without the key
    ("meta.epochs", "gt", 3, {BERT2, GPT}),
    ("meta.epochs", "gte", 3, {BERT1, BERT2, GPT}),
    ("meta.epochs", "lt", 12.5, {BERT1, GPT}),
    ("meta.epochs", "lte", 12.5, {BERT1, BERT2, GPT}),
    ("meta.lang", "eq", "en", {BERT1, BERT2}),
    ("meta.lang", "ne", "en", {GPT, CSV}),
    ("meta.lang", "prefix", "f", {GPT}),
    ("meta.final", "eq", True, {BERT2}),
    ("meta.final", "ne", True, ALL - {BERT2}),
    ("meta.run", "gt", "2025-01-10T00:00:00+00:00", {BERT2}),
    ("meta.run", "lt", datetime(2025, 1, 10, tzinfo=UTC), {BERT1}),
    ("meta.missing", "eq", "x", set()),
]


@pytest.mark.parametrize(("field", "op", "value", "expected"), CASES)
async def test_each_filter_op_selects_exactly_the_matching_versions(
    catalog: SearchIndex, field, op, value, expected
):
    assert await found(catalog, Filter(field=field, op=op, value=value)) == expected


async def test_all_filters_must_hold(catalog: SearchIndex):
    filters = (
        Filter(field="name", op="prefix", value="models/"),
        Filter(field="tag", value="nlp"),
        Filter(field="meta.epochs", op="gt", value=5),
    )
    assert await found(catalog, *filters) == {BERT2}


async def test_filters_combine_with_text(catalog: SearchIndex):
    assert await found(catalog, Filter(field="size", op="lt", value=250), text="weights") == {
        BERT1,
        GPT,
    }


async def test_filters_combine_with_latest_only(catalog: SearchIndex):
    hits = await catalog.search(
        SearchQuery(filters=(Filter(field="tag", value="nlp"),), latest_only=True)
    )
    assert [(hit.name, hit.version) for hit in hits] == [BERT2]


@pytest.mark.parametrize(
    ("field", "op", "value"),
    [
        ("colour", "eq", "red"),
        ("name", "gt", "a"),
        ("tag", "prefix", "n"),
        ("size", "eq", "big"),
        ("size", "eq", True),
        ("version", "prefix", "1"),
        ("created_at", "gt", "yesterday"),
        ("meta.final", "gt", True),
        ("meta.epochs", "prefix", 3),
        ("meta.", "eq", "x"),
        ("media_type", "eq", 3),
        ("meta.epochs", "gt", float("nan")),
    ],
)
async def test_misused_filter_is_refused_naming_the_filter(index: SearchIndex, field, op, value):
    with pytest.raises(InvalidInputError) as caught:
        await index.search(SearchQuery(filters=(Filter(field=field, op=op, value=value),)))
    assert "filter" in caught.value.details["field"]
