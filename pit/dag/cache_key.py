"""The cross-run cache's pure parts: a node's cache key, the artifact name its output is stored
under, and whether a stored output is still fresh (docs/dag.md#cache).

The key is the SHA-256 of canonical JSON (sorted keys, no spaces, integral floats written as
integers, other floats in their shortest round-trip form, NaN and infinities refused) of the
step (activity, and model if any), the node's `cache.version` and its resolved inputs, only
the ones `cache.key` names. The same document always gives the same key, on any machine.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pit.common.errors import InvalidInputError

CACHE_PREFIX = "pit/cache"
"""Every cached output is an artifact under this prefix: Stale Manager policies on it (or on
`pit/cache/<dag>/`) govern the cache like any other artifacts."""
KEY_FORMAT = 1
"""Part of every key: a change to the canonical form changes it, so old entries just miss."""
_EXACT_FLOAT_INTS = 2**53
_PLAIN_SEGMENT = re.compile(r"[a-z0-9][a-z0-9._-]*")
_READABLE_CHARS = 60


class CacheKeyError(InvalidInputError):
    """Inputs that have no canonical JSON form (NaN, infinity, a non-JSON value)."""


def canonical_json(value: Any) -> bytes:
    """`value` as canonical JSON bytes (see the module)."""
    try:
        text = json.dumps(
            _canonical(value),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except (TypeError, ValueError) as error:
        rule = f"has no canonical JSON form: {error}"
        raise CacheKeyError.for_field("inputs", value, rule) from None
    return text.encode()


def counted_inputs(inputs: Any, key: tuple[str, ...] | None) -> Any:
    """The resolved inputs that count for the key: all of them, or the ones `key` names."""
    if key is None:
        return inputs
    assert isinstance(inputs, Mapping), "cache.key needs inputs given as a mapping"
    return {name: inputs[name] for name in key if name in inputs}


def cache_key(step: str, version: str, inputs: Any, key: tuple[str, ...] | None = None) -> str:
    """The node's cache key (64 hex digits): same step, version and counted inputs, same key."""
    document = {
        "format": KEY_FORMAT,
        "step": step,
        "version": version,
        "inputs": counted_inputs(inputs, key),
    }
    return hashlib.sha256(canonical_json(document)).hexdigest()


def cache_artifact_name(dag_name: str, node_id: str, key_hex: str) -> str:
    """`pit/cache/<dag>/<node>/<key>`: the artifact a cached output is stored under. A DAG
    name or node id that is not already a plain artifact-name segment (lowercase a-z 0-9 . _ -)
    is written readable, lowercased, with a digest of the exact name (`Review` ->
    `review-<12 hex>`), so that different names never share entries."""
    assert re.fullmatch(r"[0-9a-f]{64}", key_hex), "a key is 64 hex digits"
    return f"{CACHE_PREFIX}/{_segment(dag_name)}/{_segment(node_id)}/{key_hex}"


def cache_prefix(dag_name: str, node_id: str | None = None) -> str:
    """What `pit dag cache clear` removes: a DAG's entries, or one node's."""
    prefix = f"{CACHE_PREFIX}/{_segment(dag_name)}/"
    return prefix if node_id is None else f"{prefix}{_segment(node_id)}/"


def cache_metadata(run_id: str, node_id: str, key_hex: str, item: int | None) -> dict[str, str]:
    """What a cached output is stored with: the run (and node, item) that produced it, which
    status shows beside `cached` when another run reuses it."""
    metadata = {"pit.cache.run": run_id, "pit.cache.node": node_id, "pit.cache.key": key_hex}
    if item is not None:
        metadata["pit.cache.item"] = str(item)
    return metadata


def is_fresh(stored_at: datetime, ttl: timedelta, now: datetime) -> bool:
    """A stored output may be reused while younger than the ttl the reading run's file gives
    (so shortening the ttl takes effect at once). One stored "in the future" (clocks apart)
    counts as just stored."""
    return now - stored_at < ttl


def _canonical(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a JSON number")
        if value.is_integer() and abs(value) < _EXACT_FLOAT_INTS:
            return int(value)
        return value
    if isinstance(value, Mapping):
        for name in value:
            if not isinstance(name, str):
                raise TypeError(f"an object key must be text, not {type(name).__name__}")
        return {name: _canonical(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value  # str, int, bool, None; anything else: json.dumps refuses it


def _segment(name: str) -> str:
    if _PLAIN_SEGMENT.fullmatch(name) and name not in (".", ".."):
        return name
    readable = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip(".-")[:_READABLE_CHARS] or "x"
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{readable}-{digest}"
