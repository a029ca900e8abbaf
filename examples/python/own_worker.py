"""The Pit inside your own Temporal worker: your activity next to the Pit's built-ins.

    python examples/python/own_worker.py 127.0.0.1:7233     # the address `pit dev` prints

Connects with `PitPlugin()`, serves `mine.shout` on the task queue "mine" beside every Pit
workflow and activity, runs a DAG that mixes them, resumes it, and stores and finds an
artifact, all through `PitClient`. Prints one JSON document.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from pit import PitClient, PitPlugin

QUEUE = "mine"
DAG = {
    "name": "mixed",
    "nodes": [
        {"id": "greet", "activity": "pit.echo", "inputs": {"who": "${inputs.who}"}},
        {
            "id": "shout",
            "activity": "mine.shout",
            "inputs": {"text": "hello ${nodes.greet.output.who}"},
        },
        {
            "id": "check",
            "activity": "pit.shell",
            "inputs": {"command": "echo 'not yet' >&2; exit 3"},
            # a failed command is not worth trying again: one attempt, then skip the node
            "retry": {"max_attempts": 3, "non_retryable_errors": ["command_failed"]},
            "on_failure": "skip",
        },
    ],
}


@activity.defn(name="mine.shout")
async def shout(inputs: dict[str, Any]) -> dict[str, Any]:
    return {"text": str(inputs["text"]).upper()}


def summary(status: Any) -> dict[str, Any]:
    return {
        node_id: {
            "state": node.state.value,
            "attempts": node.attempts,
            "error_type": node.error_type,
            "output": node.output,
        }
        for node_id, node in status.nodes.items()
    }


async def main(address: str) -> dict[str, Any]:
    client = await Client.connect(address, plugins=[PitPlugin()])
    pit = PitClient(client)
    try:
        async with Worker(client, task_queue=QUEUE, activities=[shout]):
            run_id = f"mixed-{uuid.uuid4().hex[:8]}"
            handle = await pit.runs.start(DAG, inputs={"who": "world"}, id=run_id, task_queue=QUEUE)
            first = await handle.result()
            again = await pit.runs.resume(handle.id, task_queue=QUEUE)
            second = await again.result()
        stored = await pit.artifacts.put(
            "notes/mixed.md", b"# Mixed run\nshouted at the world", media_type="text/markdown"
        )
        hits = await pit.artifacts.search("shouted", filters=["name^=notes/"])
    finally:
        await pit.close()
    return {
        "run": {"id": first.run_id, "status": first.status.value, "nodes": summary(first)},
        "resumed": {
            "id": second.run_id,
            "status": second.status.value,
            "reused": [n for n, s in second.nodes.items() if (s.reason or "").startswith("reused")],
        },
        "artifact": {"version": stored.version, "found": [hit.name for hit in hits]},
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1])), indent=2))
