"""Which activities a worker serves: the Pit's own, `--activities module:attribute`, and the
`pit.activities` entry-point group of installed packages."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import entry_points
from typing import Any

from pit.common.errors import ConfigError
from pit.common.logging import get_logger

log = get_logger("pit.worker")

ENTRY_POINT_GROUP = "pit.activities"
_SPEC_RULE = "must be module:attribute naming an activity, a list of them, or an object with them"

ActivityFn = Callable[..., Any]


def activity_name(fn: ActivityFn) -> str | None:
    """The registered name of an `@activity.defn` callable; None for anything else."""
    definition = getattr(fn, "__temporal_activity_definition", None)
    name = getattr(definition, "name", None)
    return name if isinstance(name, str) else None


def activities_in(target: object) -> list[ActivityFn]:
    """The activities `target` holds: itself, the items of a list, or an object's methods."""
    if callable(target) and activity_name(target) is not None:
        return [target]
    if isinstance(target, Iterable) and not isinstance(target, str | bytes):
        return [fn for item in target for fn in activities_in(item)]
    if inspect.isclass(target) or inspect.ismodule(target):
        return []  # a class needs its adapters: export an instance, not the class
    found = [
        member
        for _, member in inspect.getmembers(target, callable)
        if activity_name(member) is not None
    ]
    return found


def load_spec(spec: str, field: str = "--activities") -> list[ActivityFn]:
    """Import `module:attribute` and return the activities it names."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError.for_field(field, spec, _SPEC_RULE)
    try:
        target: object = importlib.import_module(module_name)
    except Exception as error:  # any import-time failure of user code is a config problem
        raise ConfigError.for_field(field, spec, f"cannot import {module_name}: {error}") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError.for_field(field, spec, f"{module_name} has no {attribute}") from None
    found = activities_in(target)
    if not found:
        raise ConfigError.for_field(field, spec, _SPEC_RULE)
    return found


def entry_point_activities() -> list[ActivityFn]:
    """Activities that installed packages add through the `pit.activities` group."""
    found: list[ActivityFn] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found += load_spec(entry.value, field=f"entry point {ENTRY_POINT_GROUP}:{entry.name}")
    return found


def collect_activities(
    builtin: Iterable[ActivityFn], specs: Sequence[str], *, use_entry_points: bool = True
) -> list[ActivityFn]:
    """Builtins, then entry points, then `--activities`; two activities may not share a name."""
    chosen: dict[str, ActivityFn] = {}
    sources = [*builtin]
    if use_entry_points:
        sources += entry_point_activities()
    for spec in specs:
        sources += load_spec(spec)
    for fn in sources:
        name = activity_name(fn)
        assert name is not None
        if name in chosen and chosen[name] is not fn:
            raise ConfigError.for_field(
                "--activities", name, "another activity is already registered under this name"
            )
        chosen[name] = fn
    return list(chosen.values())
