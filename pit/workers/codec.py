"""`codec_server`: Temporal's codec endpoints over the deployment's claim-check store, wired
from the settings (`[codec]`), as `pit codec-server` and `pit dev` run them.

    async with codec_server(settings) as url:   # http://127.0.0.1:8234
        ...  # temporal workflow show -w RUN --codec-endpoint {url}
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import AsyncIterator, Iterable

from pit.common.config import Settings
from pit.common.errors import ConfigError, InvalidInputError
from pit.infra.temporal.claim_check import LazyStore, settings_store
from pit.infra.temporal.codec_server import CodecPolicy, serve_codec


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def codec_policy(settings: Settings, origins: Iterable[str] = ()) -> CodecPolicy:
    """Who may ask: the settings' namespace, `codec.origins` and `origins`, `codec.token`."""
    token = settings.codec.token
    return CodecPolicy(
        namespaces=frozenset({settings.temporal.namespace}),
        origins=frozenset({*settings.codec.origins, *origins}),
        token=token.get_secret_value() if token is not None else None,
    )


@contextlib.asynccontextmanager
async def codec_server(
    settings: Settings,
    store: LazyStore | None = None,
    *,
    origins: Iterable[str] = (),
    host: str | None = None,
    port: int | None = None,
) -> AsyncIterator[str]:
    """The codec endpoints for the settings' namespace over `store` (default: the settings'
    store, which must be the one the workers claim-check into) while inside; yields the URL.
    `host`/`port` override `codec.host`/`codec.port` (port 0: any free one). Anything but
    loopback needs `codec.token`: the endpoints hand out what runs carry."""
    host = host or settings.codec.host
    port = settings.codec.port if port is None else port
    policy = codec_policy(settings, origins)
    if not is_loopback(host) and policy.token is None:
        raise ConfigError.for_field(
            "codec.token", None, f"a codec server on {host} (not loopback) needs a bearer token"
        )
    async with contextlib.AsyncExitStack() as stack:
        if store is None:
            store = settings_store(settings)
            stack.push_async_callback(store.close)
        try:
            url = await stack.enter_async_context(serve_codec(store, policy, host=host, port=port))
        except OSError as error:
            raise InvalidInputError.for_field(
                "codec.port", port, f"cannot listen on {host}:{port}: {error.strerror or error}"
            ) from None
        yield url
