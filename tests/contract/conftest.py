"""Contract fixtures: the vendored spec, and a stand-in OpenSearch on a loopback port."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pytest_httpserver import HTTPServer

from pit.infra.opensearch_index import OpenSearchIndex
from tests.contract.fake_opensearch import FakeOpenSearch
from tests.contract.openapi import OpenSearchSpec


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)


@pytest.fixture(scope="session")
def spec() -> OpenSearchSpec:
    return OpenSearchSpec()


@pytest.fixture
def fake(httpserver: HTTPServer, spec: OpenSearchSpec) -> FakeOpenSearch:
    server = FakeOpenSearch(spec)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(server.handle)
    return server


@pytest_asyncio.fixture
async def adapter(httpserver: HTTPServer, fake: FakeOpenSearch) -> AsyncIterator[OpenSearchIndex]:
    index = OpenSearchIndex(
        f"http://127.0.0.1:{httpserver.port}", index_prefix="pit", timeout=2.0, max_retries=0
    )
    try:
        yield index
    finally:
        await index.close()
    assert fake.violations == []
