"""Whatever a user types, search answers with hits or a clear InvalidInputError."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pit.artifacts.index_port import SearchIndex, SearchQuery
from pit.artifacts.index_query import parse_text
from pit.common.errors import InvalidInputError
from pit.infra.sqlite_index._sql import fts_expression
from tests.index.conftest import doc

_FTS_SYNTAX = st.sampled_from(
    ['"', "*", "(", ")", "AND", "OR", "NOT", "NEAR", ":", "^", "-", "+", "{", "}"]
)
_ODD_TEXT = st.lists(st.one_of(_FTS_SYNTAX, st.text(max_size=8)), max_size=8).map(" ".join)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_ODD_TEXT)
async def test_any_user_text_gives_hits_or_a_validation_error(index: SearchIndex, text: str):
    await index.index(doc("a", text="and or not near quick brown fox"))
    try:
        hits = await index.search(SearchQuery(text=text))
    except InvalidInputError as error:
        assert error.details["field"] == "query"
    else:
        assert all(hit.name == "a" for hit in hits)


@settings(max_examples=200, deadline=None)
@given(text=_ODD_TEXT)
def test_parsed_terms_hold_only_word_characters(text: str):
    try:
        terms = parse_text(text)
    except InvalidInputError:
        return
    for term in terms:
        assert term.words
        assert all(word.replace("_", "").isalnum() or "_" in word for word in term.words)
        assert all('"' not in word for word in term.words)
    if terms:
        assert fts_expression(terms).count('"') == 2 * len(terms)


def test_blank_text_means_no_text_condition():
    assert parse_text("   ") == ()


@pytest.mark.parametrize(
    ("text", "words"),
    [('a "b c" d', [("a",), ("b", "c"), ("d",)]), ('"open', [("open",)]), ("x x", [("x",)])],
)
def test_quotes_group_words_into_phrases(text, words):
    assert [term.words for term in parse_text(text)] == words
