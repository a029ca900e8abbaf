"""`open_index` picks the adapter from the `search.url` scheme."""

from __future__ import annotations

from pathlib import Path

import pytest

from pit.common.errors import InvalidInputError
from pit.infra.index_factory import open_index
from pit.infra.opensearch_index import OpenSearchIndex
from pit.infra.sqlite_index import SqliteIndex


async def test_no_url_means_sqlite_under_the_state_dir(tmp_path: Path):
    index = open_index(None, tmp_path)
    assert isinstance(index, SqliteIndex)
    assert index.path == tmp_path / "index.sqlite"
    await index.close()


async def test_sqlite_url_names_the_file(tmp_path: Path):
    index = open_index(f"sqlite://{tmp_path}/elsewhere.db", tmp_path / "state")
    assert isinstance(index, SqliteIndex)
    assert index.path == tmp_path / "elsewhere.db"
    await index.close()


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:9200", "http://127.0.0.1:9200"),
        ("https://search.internal:9200", "https://search.internal:9200"),
        ("opensearch+http://127.0.0.1:9200", "http://127.0.0.1:9200"),
        ("opensearch+https://u:p@search:443", "https://u:p@search:443"),
    ],
)
async def test_http_urls_mean_opensearch(tmp_path: Path, url, host):
    index = open_index(url, tmp_path, index_prefix="team")
    assert isinstance(index, OpenSearchIndex)
    assert index.url == host
    assert index.documents_index == "team-documents"
    await index.close()


@pytest.mark.parametrize("url", ["ftp://x", "redis://localhost", "http://", "nonsense"])
def test_unknown_scheme_is_refused_naming_search_url(tmp_path: Path, url):
    with pytest.raises(InvalidInputError) as caught:
        open_index(url, tmp_path)
    assert caught.value.details["field"] == "search.url"
