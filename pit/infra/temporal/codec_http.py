"""The smallest HTTP/1.1 server the codec endpoints need, on asyncio streams: one request per
connection, bodies by Content-Length only, every size and wait bounded. No dependency: the
codec server runs in the process (and event loop) that holds the artifact store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

from pit.common.logging import get_logger

log = get_logger("pit.codec")

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
"""A request body at most: a page of history's payloads (each inline one under 256 KiB; big
ones are references of a few hundred bytes)."""
READ_TIMEOUT = 30.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    """Names in lower case."""
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, status: int, message: str) -> Response:
        return cls(status, (message + "\n").encode(), {"Content-Type": "text/plain; charset=utf-8"})


Handler = Callable[[Request], Awaitable[Response]]


@contextlib.asynccontextmanager
async def http_server(handler: Handler, host: str, port: int) -> AsyncIterator[tuple[str, int]]:
    """Serve `handler` on `host:port` (0: a free port) while inside; yields where it listens.
    OSError when it cannot listen there."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            response = await _answer(handler, reader)
            writer.write(_encode(response))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the other side went away or stalled: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(connection, host, port, limit=MAX_HEAD_BYTES)
    try:
        bound = server.sockets[0].getsockname()
        yield str(bound[0]), int(bound[1])
    finally:
        server.close()
        await server.wait_closed()


async def _answer(handler: Handler, reader: asyncio.StreamReader) -> Response:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
    except (asyncio.LimitOverrunError, ValueError):
        return Response.text(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return Response.text(HTTPStatus.BAD_REQUEST, "not an HTTP/1.x request")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    if "transfer-encoding" in headers:
        return Response.text(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        return Response.text(HTTPStatus.BAD_REQUEST, "Content-Length is not a number")
    if not 0 <= length <= MAX_BODY_BYTES:
        return Response.text(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a body is at most {MAX_BODY_BYTES} bytes"
        )
    body = await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT) if length else b""
    target = urlsplit(parts[1])
    request = Request(parts[0].upper(), target.path, target.query, headers, body)
    try:
        return await handler(request)
    except Exception as error:  # never a traceback on the wire; the log has it
        log.exception("codec request %s %s failed", request.method, request.path)
        return Response.text(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {error}")


def _encode(response: Response) -> bytes:
    status = HTTPStatus(response.status)
    headers = {
        **response.headers,
        "Content-Length": str(len(response.body)),
        "Connection": "close",
    }
    head = f"HTTP/1.1 {status.value} {status.phrase}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode("latin-1") + b"\r\n" + response.body
