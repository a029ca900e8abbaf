"""The Pit: the infrastructure layer of an AI development environment, on Temporal.

    from pit import PitClient, PitPlugin

`PitPlugin` puts the Pit into any Temporal client and its workers; `PitClient` is the public
async API (runs, artifacts, arbiter, pool, stale). Both are imported on first use, so
`import pit` (and every `pit` command) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pit.common.version import __version__

if TYPE_CHECKING:
    from pit.client import PitClient
    from pit.workers.plugin import PitPlugin

__all__ = ["PitClient", "PitPlugin", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "PitClient":
        from pit.client import PitClient

        return PitClient
    if name == "PitPlugin":
        from pit.workers.plugin import PitPlugin

        return PitPlugin
    raise AttributeError(f"module 'pit' has no attribute {name!r}")
