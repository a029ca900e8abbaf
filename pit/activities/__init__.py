"""Temporal activities: thin, I/O-owning wrappers over the domain and the adapters."""

from pit.activities.builtin import BUILTIN_ACTIVITIES

__all__ = ["BUILTIN_ACTIVITIES"]
