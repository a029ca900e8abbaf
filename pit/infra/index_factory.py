"""Choose the search-index adapter from a URL: SQLite by default, OpenSearch over HTTP."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from pit.artifacts.index_port import SearchIndex
from pit.common.errors import InvalidInputError

DEFAULT_INDEX_FILE = "index.sqlite"
_OPENSEARCH_SCHEMES = {
    "http": "http",
    "https": "https",
    "opensearch+http": "http",
    "opensearch+https": "https",
}


def open_index(url: str | None, state_dir: Path, *, index_prefix: str = "pit") -> SearchIndex:
    """The index `url` names (the `search.url` setting).

    None or `sqlite://` -> `state_dir/index.sqlite`; `sqlite:///abs/path` or
    `sqlite:relative/path` -> that file; `http(s)://host:port` or
    `opensearch+http(s)://host:port` -> OpenSearch, its indexes named from `index_prefix`.
    """
    if url is None or not url.strip():
        return _sqlite(state_dir / DEFAULT_INDEX_FILE)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        raw = unquote(parts.netloc + parts.path)
        return _sqlite(Path(raw) if raw else state_dir / DEFAULT_INDEX_FILE)
    if scheme in _OPENSEARCH_SCHEMES:
        if not parts.hostname:
            raise InvalidInputError.for_field("search.url", url, "needs a host")
        from pit.infra.opensearch_index import OpenSearchIndex

        host_url = _OPENSEARCH_SCHEMES[scheme] + url.strip()[len(scheme) :]
        return OpenSearchIndex(host_url, index_prefix=index_prefix)
    rule = "scheme must be sqlite, http, https, opensearch+http or opensearch+https"
    raise InvalidInputError.for_field("search.url", url, rule)


def _sqlite(path: Path) -> SearchIndex:
    from pit.infra.sqlite_index import SqliteIndex

    return SqliteIndex(path)
