"""Built-in activities every Pit worker serves: `pit.echo`, `pit.sleep` and `pit.shell`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity

from pit.common.validation import Duration


@activity.defn(name="pit.echo")
async def echo(inputs: dict[str, Any]) -> dict[str, Any]:
    """Returns its inputs: the smallest piece of real work a worker can do."""
    return inputs


class SleepInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: Duration = Field(description="how long to sleep: 2.5, '30s', '5m'")


@activity.defn(name="pit.sleep")
async def sleep(inputs: SleepInput) -> dict[str, Any]:
    """Sleeps, heartbeating so that a cancel or a lost worker is noticed within seconds."""
    started = time.monotonic()
    remaining = inputs.seconds.total_seconds()
    while remaining > 0:
        await asyncio.sleep(min(remaining, 1.0))
        activity.heartbeat()
        remaining = inputs.seconds.total_seconds() - (time.monotonic() - started)
    return {"slept_seconds": round(time.monotonic() - started, 3)}
