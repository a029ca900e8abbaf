"""Text of artifacts: which media types are text, extraction for the index, and diffs."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping

from pit.common.errors import InvalidInputError

MAX_INDEXED_BYTES = 1024 * 1024
"""Only this much of the start of an artifact is read for full-text indexing."""
MAX_DIFF_BYTES = 16 * 1024 * 1024

_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/x-ndjson",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/xml",
        "application/javascript",
        "application/x-python",
        "application/x-sh",
        "application/sql",
        "application/csv",
    }
)

Extractor = Callable[[bytes], str | None]
"""Turns the first bytes of an artifact into text to index; None when it has none."""


def is_text_media_type(media_type: str) -> bool:
    """text/*, JSON, YAML, TOML, XML and the other formats that are text by definition."""
    base = media_type.split(";", 1)[0].strip()
    return (
        base.startswith("text/") or base in _TEXT_TYPES or base.endswith(("+json", "+xml", "+yaml"))
    )


def decode_text(data: bytes) -> str | None:
    """`data` as UTF-8 text, or None when it is not (NUL bytes or invalid UTF-8)."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        # a multi-byte character cut at the end of a truncated head is still text
        if error.start >= len(data) - 3 and error.reason == "unexpected end of data":
            return data[: error.start].decode("utf-8")
        return None


def extract_text(
    media_type: str, head: bytes, extractors: Mapping[str, Extractor] | None = None
) -> str | None:
    """Text to index for content of `media_type` starting with `head`.

    An extractor registered for the exact media type (or its `type/*`) wins; otherwise text
    media types are decoded as UTF-8 and everything else has no text.
    """
    base = media_type.split(";", 1)[0].strip()
    hooks = extractors or {}
    hook = hooks.get(base) or hooks.get(base.split("/", 1)[0] + "/*")
    if hook is not None:
        return hook(head)
    if is_text_media_type(base):
        return decode_text(head)
    return None


def unified_diff(name: str, old: tuple[int, bytes, str], new: tuple[int, bytes, str]) -> str:
    """A unified diff between two versions, each given as (version, content, media type).

    Refuses (InvalidInputError) content that is not text: a binary diff means nothing here.
    """
    texts: list[list[str]] = []
    for version, content, media_type in (old, new):
        if len(content) > MAX_DIFF_BYTES:
            raise InvalidInputError.for_field(
                "version", version, f"content over {MAX_DIFF_BYTES // 2**20} MiB is not diffed"
            )
        text = decode_text(content)
        if text is None:
            raise InvalidInputError.for_field(
                "version",
                version,
                f"{name} v{version} is binary ({media_type}): only text content can be diffed",
            )
        texts.append(text.splitlines(keepends=True))
    lines = difflib.unified_diff(
        texts[0], texts[1], fromfile=f"{name}@v{old[0]}", tofile=f"{name}@v{new[0]}"
    )
    return "".join(_terminated(line) for line in lines)


def _terminated(line: str) -> str:
    # as diff(1) says it, so the output stays a valid patch
    return line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
