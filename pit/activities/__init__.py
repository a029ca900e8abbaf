"""Temporal activities: thin, I/O-owning wrappers over the domain and the adapters."""

from pit.activities.arbiter import ARBITER_ACTIVITIES
from pit.activities.builtin import echo, sleep
from pit.activities.pool import place
from pit.activities.shell import shell

BUILTIN_ACTIVITIES = (echo, sleep, place, *ARBITER_ACTIVITIES)
"""What every Pit worker serves besides the activities over its stores (`pit.shell` keeps
outputs over its limit in the artifact store: `ShellActivities`)."""

__all__ = ["BUILTIN_ACTIVITIES", "echo", "shell", "sleep"]
