"""Build the artifact store from a URL and the settings: local directory or S3 by scheme."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pit.artifacts.blob_port import BlobStore
from pit.artifacts.store import ArtifactStore
from pit.common.config import Settings
from pit.common.errors import InvalidInputError
from pit.infra.index_factory import open_index

DEFAULT_STORE_DIR = "artifacts"
_SCHEME_RULE = "a store is a path, file:///path or s3://bucket/prefix"


def default_store_url(settings: Settings) -> str:
    """`storage.url`, else `<state_dir>/artifacts`."""
    return settings.storage.url or str(settings.state_dir / DEFAULT_STORE_DIR)


def store_location(settings: Settings, store_url: str | None = None) -> str:
    """Where the store is, as every machine sharing it names it: `s3://bucket/prefix/` for S3
    (whichever endpoint reaches the bucket), `file://<host><absolute path>` for a directory (a
    local store is one machine's). Claim-checked payloads are readable exactly where this is
    the same (`pit.infra.temporal.claim_check`); no I/O, so a worker can say it up front."""
    url = default_store_url(settings) if store_url is None else store_url
    parts = urlsplit(url)
    if parts.scheme.lower() == "s3":
        prefix = unquote(parts.path).strip("/")
        return f"s3://{parts.netloc}/{prefix + '/' if prefix else ''}"
    path = Path(unquote(parts.path)) if parts.scheme.lower() == "file" else Path(url)
    return f"file://{socket.gethostname()}{path.expanduser().resolve()}"


def open_blob_store(
    url: str, settings: Settings | None = None, *, field: str = "storage.url"
) -> BlobStore:
    """The blob store `url` names; unknown schemes are an InvalidInputError naming `field`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "" or (len(scheme) == 1 and url[1:2] == ":"):  # a path (or a drive letter)
        if not url.strip():
            raise InvalidInputError.for_field(field, url, _SCHEME_RULE)
        return _local(Path(url), url, field)
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise InvalidInputError.for_field(field, url, "a file URL is file:///absolute/path")
        return _local(Path(unquote(parts.path)), url, field)
    if scheme == "s3":
        if not parts.netloc:
            raise InvalidInputError.for_field(field, url, "an S3 store is s3://bucket/prefix")
        from pit.infra.blob_s3 import S3BlobStore

        storage = settings.storage if settings is not None else None
        return S3BlobStore(
            parts.netloc,
            unquote(parts.path),
            endpoint_url=storage.s3_endpoint if storage else None,
            region=storage.s3_region if storage else None,
        )
    raise InvalidInputError.for_field(field, url, f"unknown scheme {scheme!r}: {_SCHEME_RULE}")


def _local(root: Path, url: str, field: str) -> BlobStore:
    """The store in directory `root`, which need not exist yet; a path that is (or runs
    through) something other than a directory is refused up front."""
    from pit.infra.blob_local import LocalBlobStore

    existing = root
    try:
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        is_dir = existing.is_dir()
    except OSError as error:  # a name too long, a directory that cannot be searched
        raise InvalidInputError.for_field(field, url, f"cannot be used: {error.strerror}") from None
    if existing.exists() and not is_dir:
        where = "is a file" if existing == root else f"runs through the file {existing}"
        raise InvalidInputError.for_field(field, url, f"a store is a directory; this path {where}")
    return LocalBlobStore(root)


def open_artifact_store(
    settings: Settings, *, store_url: str | None = None, field: str = "storage.url"
) -> ArtifactStore:
    """The artifact store the settings describe (`store_url` overrides `storage.url`; an
    empty one is refused, it never means the default), with the search index of
    `search.url` (SQLite under the state dir by default)."""
    url = default_store_url(settings) if store_url is None else store_url
    blobs = open_blob_store(url, settings, field=field)
    index = open_index(
        settings.search.url, settings.state_dir, index_prefix=settings.search.index_prefix
    )
    return ArtifactStore(blobs, index)
