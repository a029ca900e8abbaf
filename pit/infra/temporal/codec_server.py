"""Temporal's remote codec endpoints over the claim check, so the web UI and
`temporal workflow show --codec-endpoint URL` show what Pit runs really carry.

    POST .../decode     payloads as proto JSON; Pit references come back as the payloads
                        they stand for (`?preserveStorageRefs=true` leaves them)
    POST .../download   the same for references only (any other payload is refused)
    POST .../encode     payloads as they are (the Pit has no codec; big ones stay inline)

Nothing else is offered, and only to whom the policy lets in: an `Origin` (a browser) must be
one of `origins`, with the bearer `token` when one is set, for a namespace it serves (from
`X-Namespace`, or the path: `/<namespace>/decode`). A reference reaches nothing but the
payload artifact its name and digest spell (`claim_check.payload_claim`).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import StorageDriverRetrieveContext

from pit.common.errors import NotFoundError, PitError
from pit.infra.temporal.claim_check import ArtifactPayloadDriver, LazyStore, payload_claim
from pit.infra.temporal.codec_http import Request, Response, http_server

OPERATIONS = ("decode", "download", "encode")
_ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"


@dataclass(frozen=True)
class CodecPolicy:
    """Who the codec server answers."""

    namespaces: frozenset[str]
    origins: frozenset[str] = frozenset()
    """Browser origins allowed (the web UI's, e.g. `http://127.0.0.1:8233`); a request that
    carries another `Origin` is refused. Tools that send none (the `temporal` CLI) pass."""
    token: str | None = None
    """When set, every request must say `Authorization: Bearer <token>`."""


class CodecService:
    """The codec endpoints over one artifact store (the deployment's shared one)."""

    def __init__(self, store: LazyStore, policy: CodecPolicy) -> None:
        self.policy = policy
        self._driver = ArtifactPayloadDriver(store)

    async def __call__(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin is not None and origin not in self.policy.origins:
            return Response.text(HTTPStatus.FORBIDDEN, f"origin {origin!r} is not allowed")
        response = await self._answer(request)
        if origin is not None:
            response.headers |= {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return response

    async def _answer(self, request: Request) -> Response:
        segments = [unquote(part) for part in request.path.split("/") if part]
        if not segments or segments[-1] not in OPERATIONS:
            return Response.text(HTTPStatus.NOT_FOUND, "the codec endpoints are /decode, /download")
        if request.method == "OPTIONS":  # a browser's preflight: no credentials on it
            return Response(
                HTTPStatus.NO_CONTENT,
                headers={
                    "Access-Control-Allow-Methods": "POST, OPTIONS",
                    "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
                    "Access-Control-Max-Age": "600",
                },
            )
        if request.method != "POST":
            return Response(HTTPStatus.METHOD_NOT_ALLOWED, headers={"Allow": "POST, OPTIONS"})
        refused = self._refused(request, segments[:-1])
        if refused is not None:
            return refused
        try:
            payloads = json_format.Parse(request.body, Payloads()).payloads
        except (json_format.ParseError, UnicodeDecodeError) as error:
            return Response.text(HTTPStatus.BAD_REQUEST, f"not Payloads as proto JSON: {error}")
        try:
            answered = await self._apply(segments[-1], request.query, list(payloads))
        except NotFoundError as error:
            return Response.text(HTTPStatus.NOT_FOUND, error.message)
        except PitError as error:
            return Response.text(HTTPStatus.BAD_GATEWAY, error.message)
        if isinstance(answered, Response):
            return answered
        body = json_format.MessageToJson(Payloads(payloads=answered), indent=None)
        return Response(HTTPStatus.OK, body.encode(), {"Content-Type": "application/json"})

    def _refused(self, request: Request, prefix: Sequence[str]) -> Response | None:
        token = self.policy.token
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return Response(
                    HTTPStatus.UNAUTHORIZED,
                    b"a bearer token is required\n",
                    {"WWW-Authenticate": "Bearer", "Content-Type": "text/plain; charset=utf-8"},
                )
        named = [name for name in (request.headers.get("x-namespace"), *prefix[-1:]) if name]
        if not named:
            return Response.text(
                HTTPStatus.BAD_REQUEST,
                "say the namespace: the X-Namespace header, or /<namespace>/decode",
            )
        for namespace in named:
            if namespace not in self.policy.namespaces:
                return Response.text(
                    HTTPStatus.FORBIDDEN, f"namespace {namespace!r} is not served here"
                )
        return None

    async def _apply(
        self, operation: str, query: str, payloads: list[Payload]
    ) -> list[Payload] | Response:
        if operation == "encode":
            return payloads
        claims = [payload_claim(payload) for payload in payloads]
        if operation == "download" and None in claims:
            return Response.text(
                HTTPStatus.BAD_REQUEST, "all payloads must be references of the Pit's claim check"
            )
        preserve = parse_qs(query).get("preserveStorageRefs", [""])[0].lower() == "true"
        if operation == "decode" and preserve:
            return payloads
        context = StorageDriverRetrieveContext()
        answered: list[Payload] = []
        for payload, claim in zip(payloads, claims, strict=True):
            if claim is None:
                answered.append(payload)
            else:
                answered.extend(await self._driver.retrieve(context, [claim]))
        return answered


@asynccontextmanager
async def serve_codec(
    store: LazyStore, policy: CodecPolicy, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """The codec endpoints on `host:port` while inside; yields their base URL."""
    async with http_server(CodecService(store, policy), host, port) as (bound_host, bound_port):
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield f"http://{shown}:{bound_port}"
