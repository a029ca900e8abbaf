"""The production search index: OpenSearch through opensearch-py's async client."""

from pit.infra.opensearch_index._index import OpenSearchIndex

__all__ = ["OpenSearchIndex"]
