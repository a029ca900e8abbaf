"""`pit artifact put|get|log|diff|search|stats|verify|reindex`: the artifact store by hand."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from pit.artifacts.hashing import READ_SIZE
from pit.artifacts.manifest import DEFAULT_MEDIA_TYPE, Manifest
from pit.artifacts.query import parse_filter, parse_meta
from pit.cli._app import CliState, cli
from pit.cli._output import emit_json, emit_line, json_option
from pit.client.artifacts import ArtifactsClient, guess_media_type
from pit.common.errors import IntegrityError, InvalidInputError

T = TypeVar("T")

_store_option = click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="a path, file:///path or s3://bucket/prefix [storage.url, else <state-dir>/artifacts]",
)


def _run(
    state: CliState, store_url: str | None, work: Callable[[ArtifactsClient], Awaitable[T]]
) -> T:
    async def main() -> T:
        field = "storage.url" if store_url is None else "--store"
        async with ArtifactsClient.from_settings(
            state.settings, store_url=store_url, field=field
        ) as artifacts:
            return await work(artifacts)

    return asyncio.run(main())


@cli.group()
def artifact() -> None:
    """Store, fetch, compare and find artifacts: named, versioned, stored by content.

    \b
    Filters for search: KEY OP VALUE, OP one of = != > >= < <= ^= (prefix); KEY is name,
    media_type, tag, size, version, created_at, or a metadata key. Examples:
      --filter tag=nightly  --filter 'size>=1000'  --filter 'name^=reports/'
      --filter 'created_at>=2026-01-01T00:00:00+00:00'  --filter 'score<0.5'
    """


@artifact.command()
@click.argument("name")
@click.argument("path", metavar="PATH|-")
@click.option("--media-type", help="e.g. text/markdown [guessed from PATH's extension]")
@click.option("--meta", "meta", multiple=True, metavar="K=V", help="metadata (repeatable)")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="a tag (repeatable)")
@click.option("--storage-class", metavar="CLASS", help="S3 storage class, e.g. STANDARD_IA")
@_store_option
@json_option
@click.pass_obj
def put(
    state: CliState,
    name: str,
    path: str,
    media_type: str | None,
    meta: tuple[str, ...],
    tags: tuple[str, ...],
    storage_class: str | None,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Store PATH (or standard input, -) as the next version of NAME."""
    metadata = dict(parse_meta(item) for item in meta)
    if path == "-" and _closed(sys.stdin):
        raise InvalidInputError.for_field("PATH", path, "standard input is closed")
    content: Path | AsyncIterator[bytes] = _stdin() if path == "-" else Path(path)
    if media_type is None:
        media_type = DEFAULT_MEDIA_TYPE if path == "-" else guess_media_type(path)

    async def work(artifacts: ArtifactsClient) -> None:
        result = await artifacts.put(
            name,
            content,
            media_type=media_type,
            meta=metadata,
            tags=tags,
            storage_class=storage_class,
        )
        if as_json:
            emit_json(result.model_dump(mode="json"))
        else:
            note = ", deduplicated" if result.deduplicated else ""
            emit_line(
                f"stored {result.name} v{result.version} {result.digest} "
                f"({result.size} bytes{note})"
            )

    _run(state, store_url, work)


def _closed(stream: TextIO | None) -> bool:
    """Whether a standard stream is unusable (started with it closed: `<&-`)."""
    if stream is None:
        return True
    try:
        os.fstat(stream.fileno())
    except (OSError, ValueError):
        return True
    return False


async def _stdin() -> AsyncIterator[bytes]:
    stream = sys.stdin.buffer
    while True:
        try:
            block = await asyncio.to_thread(stream.read, READ_SIZE)
        except (OSError, ValueError) as error:
            rule = f"standard input cannot be read: {getattr(error, 'strerror', None) or error}"
            raise InvalidInputError.for_field("PATH", "-", rule) from None
        if not block:
            return
        yield block


@artifact.command()
@click.argument("name")
@click.option("--version", "version", type=int, help="a version number [the latest]")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="write here [stdout]")
@_store_option
@json_option
@click.pass_obj
def get(
    state: CliState,
    name: str,
    version: int | None,
    output: Path | None,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Write a version of NAME to standard output or to a file (-o)."""

    if output is not None:
        ArtifactsClient.check_target(output, "-o")  # before the store is read: nothing changes

    async def work(artifacts: ArtifactsClient) -> None:
        if output is not None:
            manifest = await artifacts.save(name, output, version, field="-o")
            if as_json:
                emit_json({**_summary(manifest), "path": str(output)})
            return
        reader = await artifacts.open(name, version)
        summary = _summary(reader.manifest)
        if as_json:
            data = bytearray()
            async for piece in reader.stream:
                data += piece
            try:
                emit_json({**summary, "text": data.decode("utf-8")})
            except UnicodeDecodeError:
                emit_json({**summary, "data_base64": base64.b64encode(data).decode()})
            return
        out = sys.stdout.buffer
        async for piece in reader.stream:
            out.write(piece)
        out.flush()

    _run(state, store_url, work)


def _summary(manifest: Manifest) -> dict[str, Any]:
    data = manifest.model_dump(mode="json", exclude={"chunks", "schema_version", "checksum"})
    data["chunks"] = len(manifest.chunks) if manifest.chunks is not None else None
    return data


@artifact.command()
@click.argument("name")
@_store_option
@json_option
@click.pass_obj
def log(state: CliState, name: str, store_url: str | None, as_json: bool) -> None:
    """The versions of NAME, newest first."""

    async def work(artifacts: ArtifactsClient) -> None:
        manifests = await artifacts.log(name)
        if as_json:
            emit_json([_summary(manifest) for manifest in manifests])
            return
        for m in manifests:
            tags = f"  [{', '.join(m.tags)}]" if m.tags else ""
            emit_line(
                f"v{m.version}  {m.created_at:%Y-%m-%d %H:%M:%S}  {m.digest[:19]}  "
                f"{m.size} B  {m.media_type}{tags}"
            )

    _run(state, store_url, work)


@artifact.command()
@click.argument("name")
@click.argument("old", type=int)
@click.argument("new", type=int)
@_store_option
@json_option
@click.pass_obj
def diff(
    state: CliState, name: str, old: int, new: int, store_url: str | None, as_json: bool
) -> None:
    """A unified diff between versions OLD and NEW of NAME (text only)."""

    async def work(artifacts: ArtifactsClient) -> None:
        text = await artifacts.diff(name, old, new)
        if as_json:
            emit_json({"name": name, "from": old, "to": new, "diff": text})
        else:
            click.echo(text, nl=False)

    _run(state, store_url, work)


@artifact.command()
@click.argument("query", default="")
@click.option("--filter", "filters", multiple=True, metavar="K<OP>V", help="(repeatable)")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--latest", is_flag=True, help="only the newest matching version of each")
@_store_option
@json_option
@click.pass_obj
def search(
    state: CliState,
    query: str,
    filters: tuple[str, ...],
    limit: int,
    latest: bool,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Find versions by their text (words, "phrases") and metadata filters."""
    conditions = [parse_filter(item) for item in filters]

    async def work(artifacts: ArtifactsClient) -> None:
        hits = await artifacts.search(query, filters=conditions, limit=limit, latest=latest)
        if as_json:
            emit_json([hit.model_dump(mode="json") for hit in hits])
            return
        for hit in hits:
            snippet = "  " + " ".join(hit.snippet.split()) if hit.snippet else ""
            emit_line(f"{hit.score:9.4g}  {hit.name} v{hit.version}  {hit.digest[:19]}{snippet}")

    _run(state, store_url, work)


@artifact.command()
@_store_option
@json_option
@click.pass_obj
def stats(state: CliState, store_url: str | None, as_json: bool) -> None:
    """Bytes as readers see them, bytes stored, and what deduplication saved."""

    async def work(artifacts: ArtifactsClient) -> None:
        result = await artifacts.stats()
        if as_json:
            emit_json(result.model_dump(mode="json"))
            return
        for key, value in result.model_dump().items():
            emit_line(f"{key}: {value}")

    _run(state, store_url, work)


@artifact.command()
@click.option("--repair", is_flag=True, help="first rebuild what an intact copy can rebuild")
@_store_option
@json_option
@click.pass_obj
def verify(state: CliState, repair: bool, store_url: str | None, as_json: bool) -> None:
    """Re-hash every blob and check every manifest against its blobs; list what is corrupt,
    missing or at odds (exit 1 if any). --repair: rebuild blobs from an intact copy first."""

    async def work(artifacts: ArtifactsClient) -> None:
        report = await artifacts.verify(repair=repair)
        if as_json:
            emit_json({**report.model_dump(mode="json"), "ok": report.ok})
        else:
            emit_line(f"checked {report.checked_blobs} blobs, {report.checked_versions} versions")
            for digest in report.repaired:
                emit_line(f"repaired: {digest}")
            for digest in report.corrupt:
                emit_line(f"corrupt: {digest}")
            for gone in report.missing:
                emit_line(f"missing: {gone.digest} (needed by {gone.name} v{gone.version})")
            for bad in report.bad_manifests:
                emit_line(f"bad manifest: {bad.name} v{bad.version}: {bad.problem}")
            if report.unsealed_manifests:
                emit_line(
                    f"note: {report.unsealed_manifests} manifests predate manifest checksums; "
                    "they were checked against their blobs instead"
                )
        if not report.ok:
            left = "could not be repaired" if repair else "found"
            raise IntegrityError(
                f"verify: {len(report.corrupt)} corrupt, {len(report.missing)} missing blobs, "
                f"{len(report.bad_manifests)} bad manifests {left}",
                corrupt=list(report.corrupt),
            )

    _run(state, store_url, work)


@artifact.command()
@_store_option
@json_option
@click.pass_obj
def reindex(state: CliState, store_url: str | None, as_json: bool) -> None:
    """Rebuild the search index from the stored manifests and content."""

    async def work(artifacts: ArtifactsClient) -> None:
        report = await artifacts.reindex()
        if as_json:
            emit_json(report.model_dump(mode="json"))
        else:
            emit_line(f"indexed {report.indexed} versions of {report.artifacts} artifacts")

    _run(state, store_url, work)
