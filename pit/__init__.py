"""The Pit: the infrastructure layer of an AI development environment, on Temporal.

    from pit import PitClient, PitPlugin

`PitPlugin` puts the Pit into any Temporal client and its workers; `PitClient` is the public
async API (runs, artifacts, arbiter, pool, stale). Both are imported on first use, so
`import pit` (and every `pit` command) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pit.client import PitClient
    from pit.common.version import __version__
    from pit.workers.plugin import PitPlugin

__all__ = ["PitClient", "PitPlugin", "__version__"]


def __getattr__(name: str) -> Any:
    # nothing of the package is imported with it: Temporal's workflow sandbox imports `pit`
    # afresh, and a submodule imported here would exist twice (once in the sandbox, once
    # passed through), with two classes of each exception (a `WorkFailedError` raised by one
    # would not be caught as the other)
    if name == "__version__":
        from pit.common.version import __version__

        return __version__
    if name == "PitClient":
        from pit.client import PitClient

        return PitClient
    if name == "PitPlugin":
        from pit.workers.plugin import PitPlugin

        return PitPlugin
    raise AttributeError(f"module 'pit' has no attribute {name!r}")
