"""The python and http loaders; the http one against a model server on 127.0.0.1."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from pit.common.errors import ConfigError, WorkFailedError
from pit.pool.loader import PythonLoader, default_loaders
from pit.pool.pool import ModelPool
from pit.pool.spec import HttpLoaderSpec, HttpWarmRequest, ModelSpec, PythonLoaderSpec


class FakeModel:
    def __init__(self) -> None:
        self.closed = False
        self.memory_bytes = 123

    def health(self) -> bool:
        return not self.closed

    def close(self) -> None:
        self.closed = True


def make_model() -> FakeModel:
    return FakeModel()


class _Server(BaseHTTPRequestHandler):
    healthy = True
    warmed: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        _Server.warmed.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        self.send_response(200 if _Server.healthy and self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def model_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Server.healthy = True
    _Server.warmed.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_python_loader_builds_checks_and_closes_the_handle() -> None:
    spec = ModelSpec(
        id="py",
        memory_bytes=1000,
        loader=PythonLoaderSpec(factory="tests.pool.test_loaders:make_model"),
    )
    loader = PythonLoader()
    handle = await loader.load(spec)
    assert isinstance(handle, FakeModel)
    assert await loader.health_check(spec, handle) is True
    assert loader.memory_footprint(spec, handle) == 123
    await loader.unload(spec, handle)
    assert await loader.health_check(spec, handle) is False


async def test_python_loader_names_a_factory_that_does_not_import() -> None:
    spec = ModelSpec(id="py", memory_bytes=1, loader=PythonLoaderSpec(factory="nowhere.at_all:f"))
    with pytest.raises(
        ConfigError, match=re.escape("loader.factory: 'nowhere.at_all:f': cannot import")
    ):
        await PythonLoader().load(spec)


async def test_http_model_is_warmed_by_its_request_and_checked_by_get(model_server: str) -> None:
    spec = ModelSpec(
        id="web",
        memory_bytes=10,
        loader=HttpLoaderSpec(
            url=model_server,
            warm=HttpWarmRequest(path="/v1/warm", body='{"prompt": "hi"}'),
            health_path="/healthz",
        ),
    )
    pool = ModelPool([spec], budget=10, loaders=default_loaders())
    await pool.warm("web")
    assert _Server.warmed == [b'{"prompt": "hi"}']
    assert await pool.health_check("web") is True
    _Server.healthy = False
    assert await pool.health_check("web") is False


async def test_http_warm_request_that_fails_leaves_the_model_failed(model_server: str) -> None:
    spec = ModelSpec(
        id="web",
        memory_bytes=10,
        loader=HttpLoaderSpec(url=model_server, warm=HttpWarmRequest(method="PUT")),
    )
    pool = ModelPool([spec], budget=10, loaders=default_loaders())
    with pytest.raises(WorkFailedError, match="answered 501"):
        await pool.warm("web")
    assert str(pool.state("web")) == "failed"
