"""Hypothesis strategies for the Stale Manager: small stores of versions and random policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from pit.stale import Policy, Tier, VersionFacts, parse_policy, with_ranks
from pit.stale.facts import window_key

NOW = datetime(2026, 6, 1, tzinfo=UTC)
WINDOWS = (timedelta(days=7), timedelta(days=30))
NAMES = ("alpha", "beta", "models/gamma")
TAGS = ("release", "pinned", "dev")
DURATIONS = ("1d", "7d", "10d", "30d", "60d")


@st.composite
def version_facts(draw: st.DrawFn, name: str, version: int) -> VersionFacts:
    age = draw(st.integers(min_value=0, max_value=120 * 86400))
    created = NOW - timedelta(seconds=age)
    last_access = None
    if draw(st.booleans()):
        last_access = created + timedelta(seconds=draw(st.integers(min_value=0, max_value=age)))
    in_7 = draw(st.integers(min_value=0, max_value=6))
    in_30 = in_7 + draw(st.integers(min_value=0, max_value=6))
    total = in_30 + draw(st.integers(min_value=0, max_value=50))
    metadata: dict[str, Any] = {}
    if draw(st.booleans()):
        metadata["quality"] = draw(st.floats(min_value=0, max_value=1))
    if draw(st.booleans()):
        metadata["stage"] = draw(st.sampled_from(["prod", "dev"]))
    return VersionFacts(
        name=name,
        version=version,
        digest=f"sha256:{name}-{version}",
        size=draw(st.integers(min_value=0, max_value=10**9)),
        media_type=draw(st.sampled_from(["text/csv", "application/json", "image/png"])),
        created_at=created,
        tags=tuple(draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2))),
        metadata=metadata,
        tier=draw(st.sampled_from(list(Tier))),
        last_access=last_access,
        access_count=total,
        access_counts={window_key(WINDOWS[0]): in_7, window_key(WINDOWS[1]): in_30},
    )


@st.composite
def stores(draw: st.DrawFn, max_versions: int = 4) -> list[VersionFacts]:
    """A few artifacts with 1..max_versions versions each, ranks consistent."""
    facts: list[VersionFacts] = []
    for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, unique=True)):
        count = draw(st.integers(min_value=1, max_value=max_versions))
        facts += [draw(version_facts(name, number)) for number in range(1, count + 1)]
    return with_ranks(draw(st.permutations(facts)))


leaf_rules = st.one_of(
    st.builds(lambda d: {"max_age": d}, st.sampled_from(DURATIONS)),
    st.builds(lambda d: {"idle_for": d}, st.sampled_from(DURATIONS)),
    st.builds(
        lambda c, w: {"min_access_count": {"count": c, "window": w}},
        st.integers(min_value=1, max_value=6),
        st.sampled_from(["7d", "30d"]),
    ),
    st.builds(lambda n: {"keep_last": n}, st.integers(min_value=1, max_value=3)),
    st.builds(
        lambda tags: {"keep_tagged": tags},
        st.lists(st.sampled_from(TAGS), min_size=1, unique=True),
    ),
    st.builds(
        lambda size, scope: {"max_total_size": {"size": size, "scope": scope}},
        st.integers(min_value=0, max_value=3 * 10**9),
        st.sampled_from(["all", "artifact"]),
    ),
    st.builds(lambda v: {"min_value": v}, st.floats(min_value=-0.1, max_value=0.9)),
    st.builds(lambda glob: {"match": {"name": glob}}, st.sampled_from(["a*", "models/*", "*"])),
    st.builds(lambda stage: {"match": {"metadata": {"stage": stage}}}, st.sampled_from(["prod"])),
    st.builds(lambda media: {"match": {"media_type": media}}, st.sampled_from(["text/*"])),
)

rules = st.recursive(
    leaf_rules,
    lambda children: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, children),
    ),
    max_leaves=6,
)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    data: dict[str, Any] = {}
    for section in ("keep", "delete"):
        if draw(st.booleans()):
            data[section] = draw(rules)
    if draw(st.booleans()):
        demote: dict[str, Any] = {}
        for tier in ("warm", "cold"):
            if draw(st.booleans()):
                demote[tier] = draw(rules)
        data["demote"] = demote
    data["keep_coldest_tier"] = draw(st.sampled_from(["hot", "warm", "cold"]))
    return parse_policy(data)
