"""Activities the DAG tests run: they record what happened in a file, so a worker in another
process (the crash test) leaves the same evidence as one in the test's own process."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from pathlib import Path
from typing import Any

from temporalio import activity

from pit.common.errors import InvalidInputError


def _log(path: str, **entry: Any) -> None:
    with Path(path).open("a") as handle:
        handle.write(json.dumps(entry) + "\n")


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@activity.defn(name="test.record")
async def record(inputs: dict[str, Any]) -> dict[str, Any]:
    """Logs its start and end; sleeps `seconds` (heartbeating) in between."""
    node = inputs["node"]
    _log(inputs["log"], node=node, event="start", at=time.time(), attempt=activity.info().attempt)
    remaining = float(inputs.get("seconds", 0))
    while remaining > 0:
        await asyncio.sleep(min(remaining, 0.2))
        activity.heartbeat()
        remaining -= 0.2
    _log(inputs["log"], node=node, event="end", at=time.time())
    return {"node": node, "value": inputs.get("value")}


@activity.defn(name="test.flaky")
async def flaky(inputs: dict[str, Any]) -> dict[str, Any]:
    """Fails until attempt `succeed_on` (0: always), with error type `kind`."""
    attempt = activity.info().attempt
    succeed_on = int(inputs.get("succeed_on", 0))
    if succeed_on and attempt >= succeed_on:
        return {"attempt": attempt}
    if inputs.get("kind") == "validation":
        raise InvalidInputError.for_field("x", attempt, "never valid")
    raise RuntimeError(f"flaky failure on attempt {attempt}")


@activity.defn(name="test.gate")
async def gate(inputs: dict[str, Any]) -> dict[str, Any]:
    """Fails while the file `blocker` exists; logs each time it really runs."""
    _log(inputs["log"], node=inputs["node"], event="ran")
    if Path(inputs["blocker"]).exists():
        raise RuntimeError("blocked")
    return {"node": inputs["node"], "value": inputs.get("value")}


@activity.defn(name="test.big")
async def big(inputs: dict[str, Any]) -> str:
    return "x" * int(inputs["bytes"])


@activity.defn(name="test.noise")
async def noise(inputs: dict[str, Any]) -> str:
    """`bytes` random bytes as text: an output no compression shrinks much."""
    return base64.b64encode(os.urandom(int(inputs["bytes"]))).decode()


@activity.defn(name="test.measure")
async def measure(inputs: dict[str, Any]) -> dict[str, int]:
    return {"length": len(inputs["value"])}


ACTIVITIES = [record, flaky, gate, big, noise, measure]
