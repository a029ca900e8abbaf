"""Full-text behaviour: ranking, phrases, snippets, limits, order, latest_only, removal."""

from __future__ import annotations

import pytest

from pit.artifacts.index_port import Filter, SearchIndex, SearchQuery
from pit.common.errors import InvalidInputError
from tests.index.conftest import doc


def keys(hits) -> list[tuple[str, int]]:
    return [(hit.name, hit.version) for hit in hits]


async def test_document_dense_in_the_term_ranks_above_a_passing_mention(index: SearchIndex):
    await index.index(doc("dense", text="kernel kernel kernel panic in the kernel"))
    await index.index(doc("passing", text="a long note about gardens, weather, and one kernel"))
    await index.index(doc("unrelated", text="nothing to see here"))
    hits = await index.search(SearchQuery(text="kernel"))
    assert keys(hits) == [("dense", 1), ("passing", 1)]
    assert hits[0].score > hits[1].score


async def test_every_word_of_the_query_must_match(index: SearchIndex):
    await index.index(doc("both", text="red apples and green pears"))
    await index.index(doc("one", text="red apples only"))
    hits = await index.search(SearchQuery(text="apples pears"))
    assert keys(hits) == [("both", 1)]


async def test_quoted_phrase_matches_words_in_order_only(index: SearchIndex):
    await index.index(doc("ordered", text="the quick brown fox"))
    await index.index(doc("scrambled", text="the brown quick fox"))
    hits = await index.search(SearchQuery(text='"quick brown"'))
    assert keys(hits) == [("ordered", 1)]


async def test_search_is_case_and_accent_insensitive(index: SearchIndex):
    await index.index(doc("cafe", text="Un Café Crème"))
    assert keys(await index.search(SearchQuery(text="cafe creme"))) == [("cafe", 1)]


async def test_artifact_name_words_are_searchable(index: SearchIndex):
    await index.index(doc("reports/quarterly-summary", text="numbers"))
    assert keys(await index.search(SearchQuery(text="quarterly"))) == [
        ("reports/quarterly-summary", 1)
    ]


async def test_snippet_brackets_the_matched_terms(index: SearchIndex):
    await index.index(doc("notes", text="we saw a heron near the river at dawn"))
    (hit,) = await index.search(SearchQuery(text="heron"))
    assert "[heron]" in hit.snippet
    assert "river" in hit.snippet


async def test_snippet_brackets_a_phrase(index: SearchIndex):
    await index.index(doc("notes", text="we saw a grey heron near the river"))
    (hit,) = await index.search(SearchQuery(text='"grey heron"'))
    assert "[grey heron]" in hit.snippet


async def test_filter_only_query_has_zero_scores_and_empty_snippets(index: SearchIndex):
    await index.index(doc("a", text="alpha"))
    (hit,) = await index.search(SearchQuery())
    assert hit.score == 0.0
    assert hit.snippet == ""


async def test_binary_documents_without_text_are_found_by_filters(index: SearchIndex):
    await index.index(doc("weights.bin", media_type="application/octet-stream"))
    hits = await index.search(
        SearchQuery(filters=(Filter(field="media_type", value="application/octet-stream"),))
    )
    assert keys(hits) == [("weights.bin", 1)]


async def test_limit_caps_the_number_of_hits(index: SearchIndex):
    for number in range(7):
        await index.index(doc(f"doc-{number}", text="shared word"))
    assert len(await index.search(SearchQuery(text="shared", limit=3))) == 3
    assert len(await index.search(SearchQuery(limit=5))) == 5


async def test_equal_scores_order_by_name_then_newest_version(index: SearchIndex):
    for name in ("b", "a", "c"):
        for version in (1, 2):
            await index.index(doc(name, version, text="same text exactly"))
    hits = await index.search(SearchQuery(text="same"))
    assert keys(hits) == [("a", 2), ("a", 1), ("b", 2), ("b", 1), ("c", 2), ("c", 1)]
    assert keys(await index.search(SearchQuery())) == keys(hits)


async def test_latest_only_keeps_the_newest_matching_version_of_each_name(index: SearchIndex):
    await index.index(doc("plan", 1, text="draft budget"))
    await index.index(doc("plan", 2, text="final budget"))
    await index.index(doc("plan", 3, text="archived, no numbers"))
    await index.index(doc("memo", 1, text="budget memo"))
    hits = await index.search(SearchQuery(text="budget", latest_only=True))
    assert sorted(keys(hits)) == [("memo", 1), ("plan", 2)]
    assert sorted(keys(await index.search(SearchQuery(latest_only=True)))) == [
        ("memo", 1),
        ("plan", 3),
    ]


async def test_latest_only_limit_counts_artifacts_not_versions(index: SearchIndex):
    for name in ("a", "b", "c"):
        for version in (1, 2, 3):
            await index.index(doc(name, version, text="word"))
    hits = await index.search(SearchQuery(text="word", latest_only=True, limit=2))
    assert keys(hits) == [("a", 3), ("b", 3)]


async def test_indexing_the_same_version_again_replaces_it(index: SearchIndex):
    await index.index(doc("a", text="old words"))
    await index.index(doc("a", text="new words"))
    assert await index.search(SearchQuery(text="old")) == []
    assert keys(await index.search(SearchQuery(text="new"))) == [("a", 1)]


async def test_removed_version_is_no_longer_found(index: SearchIndex):
    await index.index(doc("a", 1, text="findable"))
    await index.index(doc("a", 2, text="findable"))
    await index.remove("a", 1)
    await index.remove("a", 99)  # missing: not an error
    assert keys(await index.search(SearchQuery(text="findable"))) == [("a", 2)]


async def test_clear_drops_every_document(index: SearchIndex):
    await index.index(doc("a", text="x marks"))
    await index.clear()
    assert await index.search(SearchQuery()) == []
    await index.index(doc("b", text="x marks"))
    assert keys(await index.search(SearchQuery(text="marks"))) == [("b", 1)]


@pytest.mark.parametrize("text", ["...", '"', "!!! ??", "( ) * -"])
async def test_query_without_any_word_is_refused_naming_the_query(index: SearchIndex, text):
    with pytest.raises(InvalidInputError) as caught:
        await index.search(SearchQuery(text=text))
    assert caught.value.details["field"] == "query"


@pytest.mark.parametrize(
    "text",
    ['foo" OR', "NOT foo", "foo AND", "foo*", "name:foo", "(foo", "foo NEAR/2 bar", "^foo", "-foo"],
)
async def test_fts_syntax_in_user_text_is_searched_literally(index: SearchIndex, text):
    await index.index(doc("target", text="name foo bar and or not near 2"))
    hits = await index.search(SearchQuery(text=text))
    assert keys(hits) == [("target", 1)]
