"""The codec endpoints over a real local store: what a reference may reach, what each request
gets, and how the HTTP layer bounds what it reads; the identity a worker advertises."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.sdk.v1.external_storage_pb2 import ExternalStorageReference
from temporalio.converter import JSONProtoPayloadConverter, StorageDriverStoreContext

from pit.cli import run
from pit.cli.dev import ui_origins
from pit.common.config import load_settings
from pit.infra.temporal.claim_check import (
    DRIVER_NAME,
    ArtifactPayloadDriver,
    LazyStore,
    identity_location,
    payload_claim,
    settings_store,
    worker_identity,
)
from pit.infra.temporal.codec_http import MAX_BODY_BYTES, Request, http_server
from pit.infra.temporal.codec_server import CodecPolicy, CodecService
from pit.infra.temporal.devserver import _DevServer

NAMESPACE = "default"
UI = "http://127.0.0.1:8233"


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[LazyStore]:
    settings = load_settings(environ={}, cwd=tmp_path, overrides={"state_dir": str(tmp_path)})
    lazy = settings_store(settings)
    yield lazy
    await lazy.close()


def _plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def _reference(store: LazyStore, payload: Payload) -> Payload:
    [claim] = await ArtifactPayloadDriver(store).store(StorageDriverStoreContext(), [payload])
    return _as_reference(dict(claim.claim_data))


def _as_reference(claim_data: dict[str, str], driver: str = DRIVER_NAME) -> Payload:
    reference = ExternalStorageReference(driver_name=driver, claim_data=claim_data)
    payload = JSONProtoPayloadConverter().to_payload(reference)
    assert payload is not None
    return payload


def _request(
    payloads: list[Payload], path: str = "/decode", query: str = "", **headers: str
) -> Request:
    body = json_format.MessageToJson(Payloads(payloads=payloads)).encode()
    named = {"x-namespace": NAMESPACE, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return Request("POST", path, query, named, body)


def _payloads(body: bytes) -> list[Payload]:
    return list(json_format.Parse(body, Payloads()).payloads)


async def test_decode_and_download_give_back_what_the_claim_check_stored(
    store: LazyStore,
) -> None:
    service = CodecService(store, CodecPolicy(frozenset({NAMESPACE})))
    original = _plain("x" * 1000)
    reference = await _reference(store, original)
    inline = _plain("small")
    decoded = await service(_request([reference, inline]))
    assert decoded.status == 200 and _payloads(decoded.body) == [original, inline]
    kept = await service(_request([reference], query="preserveStorageRefs=true"))
    assert _payloads(kept.body) == [reference]
    downloaded = await service(_request([reference], "/default/download"))
    assert downloaded.status == 200 and _payloads(downloaded.body) == [original]
    refused = await service(_request([reference, inline], "/download"))
    assert refused.status == 400 and b"references" in refused.body


async def test_a_reference_reaches_nothing_but_the_payload_its_name_and_digest_spell(
    store: LazyStore,
) -> None:
    service = CodecService(store, CodecPolicy(frozenset({NAMESPACE})))
    hexdigest = hashlib.sha256(b"never stored").hexdigest()
    forged = [
        {"artifact": "team/secret-notes", "digest": f"sha256:{hexdigest}"},
        {"artifact": f"temporal/payloads/{hexdigest[:2]}/../../team/x", "digest": "sha256:0"},
        {"artifact": f"temporal/payloads/00/{hexdigest}", "digest": f"sha256:{hexdigest}"},
        {"artifact": f"temporal/payloads/{hexdigest[:2]}/{hexdigest}", "digest": "sha256:ab"},
    ]
    for claim_data in forged:
        reference = _as_reference(claim_data)
        assert payload_claim(reference) is None, claim_data
        answer = await service(_request([reference], "/download"))
        assert answer.status == 400, claim_data
    other_driver = _as_reference(
        {
            "artifact": f"temporal/payloads/{hexdigest[:2]}/{hexdigest}",
            "digest": f"sha256:{hexdigest}",
        },
        driver="s3-driver",
    )
    assert payload_claim(other_driver) is None
    missing = _as_reference(
        {
            "artifact": f"temporal/payloads/{hexdigest[:2]}/{hexdigest}",
            "digest": f"sha256:{hexdigest}",
        }
    )
    answer = await service(_request([missing]))
    assert answer.status == 404 and b"is not in file://" in answer.body


async def test_only_the_ui_origin_the_token_and_the_served_namespace_get_an_answer(
    store: LazyStore,
) -> None:
    policy = CodecPolicy(frozenset({NAMESPACE}), origins=frozenset({UI}), token="t0ken")
    service = CodecService(store, policy)
    payload = [_plain("hello")]
    bearer = "Bearer t0ken"
    ok = await service(_request(payload, origin=UI, authorization=bearer))
    assert ok.status == 200 and ok.headers["Access-Control-Allow-Origin"] == UI
    assert (await service(_request(payload, authorization=bearer))).status == 200  # a CLI
    assert (
        await service(_request(payload, origin="http://evil", authorization=bearer))
    ).status == 403
    assert (await service(_request(payload, origin=UI))).status == 401
    assert (await service(_request(payload, authorization="Bearer t0ke"))).status == 401
    other = _request(payload, authorization=bearer, x_namespace="payroll")
    assert (await service(other)).status == 403
    by_path = _request(payload, "/payroll/decode", authorization=bearer)
    assert (await service(by_path)).status == 403
    unnamed = Request("POST", "/decode", "", {"authorization": bearer}, b"{}")
    assert (await service(unnamed)).status == 400
    preflight = Request("OPTIONS", "/decode", "", {"origin": UI})
    answer = await service(preflight)
    assert answer.status == 204 and answer.headers["Access-Control-Allow-Origin"] == UI
    assert (await service(Request("GET", "/decode", "", {}))).status == 405
    assert (await service(Request("POST", "/metrics", "", {}))).status == 404
    garbage = Request(
        "POST", "/decode", "", {"x-namespace": NAMESPACE, "authorization": bearer}, b"{"
    )
    assert (await service(garbage)).status == 400


async def _raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


async def test_the_http_layer_bounds_what_it_reads(store: LazyStore) -> None:
    service = CodecService(store, CodecPolicy(frozenset({NAMESPACE})))
    async with http_server(service, "127.0.0.1", 0) as (_, port):
        too_big = f"POST /decode HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
        assert (await _raw(port, too_big.encode())).startswith(b"HTTP/1.1 413")
        chunked = b"POST /decode HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        assert (await _raw(port, chunked)).startswith(b"HTTP/1.1 411")
        head = b"POST /decode HTTP/1.1\r\nX-Pad: " + b"a" * 70_000 + b"\r\n\r\n"
        assert (await _raw(port, head)).startswith(b"HTTP/1.1 431")
        assert (await _raw(port, b"hello\r\n\r\n")).startswith(b"HTTP/1.1 400")


@given(
    st.text(min_size=1).filter(lambda s: " pit-store=" not in s),
    st.text(min_size=1),
)
def test_a_worker_identity_carries_its_store_location_both_ways(
    identity: str, location: str
) -> None:
    advertised = worker_identity(identity, location)
    assert identity_location(advertised) == location
    assert advertised.startswith(identity)
    assert worker_identity(advertised, "elsewhere") == advertised  # said once
    assert identity_location(identity) is None


def test_pit_dev_points_the_ui_it_starts_at_its_codec_server(tmp_path: Path) -> None:
    server = _DevServer(tmp_path, NAMESPACE, 7233, 8233, ui=True)
    server.ui_codec_endpoint = "http://127.0.0.1:9999"
    command = server.command()
    assert command[command.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:9999"
    assert set(ui_origins("http://127.0.0.1:8233")) == {UI, "http://localhost:8233"}


def test_a_codec_server_off_loopback_without_a_token_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["--state-dir", str(tmp_path), "codec-server", "--host", "0.0.0.0", "--port", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "codec.token: None: " in err
