"""Use the Pit from Python: a graph built in code, artifacts, a grant, a cleanup plan.

    pit dev                                  # one terminal: the embedded server and a worker
    python examples/python/use_the_pit.py    # another, in the same directory

`PitClient.connect()` reads the settings as `pit` does (`PIT_*` environment, `pit.toml`): with
no Temporal address it attaches to the server `pit dev` runs in this directory. Prints one
JSON document.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pit import PitClient
from pit.arbitration import ArbiterConfig
from pit.arbitration.protocol import ArbiterInput
from pit.dag import DagSpec, NodeSpec

POLICY = """
keep:   {keep_last: 1}
delete: {max_age: 30d}
"""


def graph() -> DagSpec:
    """A graph built at run time: one echo per name, then a node that gathers them."""
    names = ["ada", "grace", "linus"]
    greets = [
        NodeSpec(id=f"greet_{name}", activity="pit.echo", inputs={"hello": name}) for name in names
    ]
    gather = NodeSpec(
        id="gather",
        activity="pit.echo",
        inputs={"said": [f"${{nodes.greet_{name}.output.hello}}" for name in names]},
    )
    return DagSpec(name="greetings", nodes=(*greets, gather))


async def main() -> dict[str, Any]:
    async with await PitClient.connect() as pit:
        handle = await pit.runs.start(graph())
        status = await handle.result()

        stored = await pit.artifacts.put(
            "tour/notes.md",
            b"# Notes\nthe greetings ran",
            media_type="text/markdown",
            tags=["tour"],
            meta={"team": "ml"},
        )
        text = (await pit.artifacts.get("tour/notes.md")).decode()
        hits = await pit.artifacts.search("greetings", filters=["team=ml"])

        await pit.arbiter.ensure(
            ArbiterInput(domain="tour", config=ArbiterConfig(resources={"gpu": 2}))
        )
        async with pit.arbiter.hold("tour", {"gpu": 1}, tenant="tour") as grant:
            held = (await pit.arbiter.status("tour")).holders

        plan = await pit.stale.plan(POLICY)
    return {
        "run": {"status": status.status.value, "said": status.nodes["gather"].output["said"]},
        "artifact": {"version": stored.version, "text": text, "found": [h.name for h in hits]},
        "grant": {"action": grant.action, "held": [h.request for h in held]},
        "plan": {"id": plan.plan_id, "counts": plan.counts},
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), indent=2))
