"""Placement across hosts: hot first, one warming host per cold model, gone hosts get nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pit.common.errors import CapacityError, NotFoundError
from pit.pool.placement import Assignment, HostModel, HostSnapshot, host_queue, place

NOW = 1_000_000.0
STATES = ["cold", "warming", "hot", "cooling", "failed"]


def host(
    name: str,
    *models: tuple[str, str, int] | tuple[str, str, int, int],
    budget: int = 1000,
    published: float = NOW,
    interval: float = 1.0,
) -> HostSnapshot:
    entries = [
        HostModel(
            id=m[0], state=m[1], memory_bytes=m[2], since=NOW, leases=m[3] if len(m) > 3 else 0
        )
        for m in models
    ]
    reserved = sum(e.memory_bytes for e in entries if e.state in ("warming", "hot", "cooling"))
    return HostSnapshot(
        host=name,
        queue=host_queue(name),
        budget_bytes=budget,
        reserved_bytes=reserved,
        interval=interval,
        published_at=published,
        models=tuple(entries),
    )


def test_a_hot_model_runs_where_it_is_hot() -> None:
    hosts = [host("a", ("m", "cold", 100)), host("b", ("m", "hot", 100))]
    chosen = place("m", hosts, NOW)
    assert (chosen.host, chosen.queue, chosen.reason) == ("b", "pit-pool-b", "hot")


def test_among_hot_hosts_the_least_leased_wins_then_the_name() -> None:
    hosts = [host("a", ("m", "hot", 100, 2)), host("b", ("m", "hot", 100, 1))]
    assert place("m", hosts, NOW).host == "b"
    hosts = [host("b", ("m", "hot", 100)), host("a", ("m", "hot", 100))]
    assert place("m", hosts, NOW).host == "a"


def test_a_warming_model_is_joined_rather_than_loaded_twice() -> None:
    hosts = [host("a", ("m", "cold", 100), budget=5000), host("b", ("m", "warming", 100))]
    assert place("m", hosts, NOW).reason == "warming"
    assert place("m", hosts, NOW).host == "b"


def test_a_cold_model_goes_to_the_host_with_most_free_memory() -> None:
    hosts = [
        host("a", ("m", "cold", 100), ("x", "hot", 600), budget=1000),
        host("b", ("m", "cold", 100), ("x", "hot", 300), budget=1000),
    ]
    chosen = place("m", hosts, NOW)
    assert (chosen.host, chosen.reason) == ("b", "room")


def test_when_nothing_fits_free_memory_the_host_that_can_evict_is_chosen() -> None:
    hosts = [
        host("a", ("m", "cold", 500), ("x", "hot", 900, 1), budget=1000),  # x is leased
        host("b", ("m", "cold", 500), ("y", "hot", 900), budget=1000),  # y is idle
    ]
    chosen = place("m", hosts, NOW)
    assert (chosen.host, chosen.reason) == ("b", "evict")


def test_an_assignment_keeps_concurrent_asks_on_one_host() -> None:
    hosts = [host(n, ("m", "cold", 100), interval=100) for n in ("a", "b")]
    assigned = {"m": Assignment(host="b", until=NOW + 10)}
    assert place("m", hosts, NOW, assigned).host == "b"
    assert place("m", hosts, NOW + 11, assigned).host == "a"  # expired: placed afresh


def test_a_host_that_stopped_publishing_gets_no_work() -> None:
    hosts = [host("a", ("m", "hot", 100), published=NOW - 10), host("b", ("m", "cold", 100))]
    assert place("m", hosts, NOW).host == "b"
    with pytest.raises(NotFoundError, match="no live pool host serves model 'm'"):
        place("m", hosts[:1], NOW)


def test_excluded_hosts_are_skipped() -> None:
    hosts = [host("a", ("m", "hot", 100)), host("b", ("m", "cold", 100))]
    assert place("m", hosts, NOW, exclude=["a"]).host == "b"


def test_a_model_larger_than_every_budget_is_a_capacity_error() -> None:
    with pytest.raises(CapacityError, match="needs 2000 bytes"):
        place("m", [host("a", ("m", "cold", 2000))], NOW)


def test_an_undeclared_model_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        place("nope", [host("a", ("m", "hot", 100))], NOW)


@st.composite
def fleets(draw: st.DrawFn) -> list[HostSnapshot]:
    count = draw(st.integers(1, 6))
    result = []
    for index in range(count):
        models = [
            (
                model,
                draw(st.sampled_from(STATES)),
                draw(st.integers(1, 800)),
                draw(st.integers(0, 3)),
            )
            for model in ("m", "n")
            if draw(st.booleans())
        ]
        age = draw(st.floats(0, 10))
        result.append(host(f"h{index}", *models, published=NOW - age, budget=1000))
    return result


@given(fleets(), st.lists(st.integers(0, 5), max_size=3), st.randoms(use_true_random=False))
def test_placement_is_deterministic_live_and_prefers_hot(
    hosts: list[HostSnapshot], excluded: list[int], shuffler: object
) -> None:
    exclude = [f"h{i}" for i in excluded]
    try:
        chosen = place("m", hosts, NOW, exclude=exclude)
    except (NotFoundError, CapacityError):
        eligible = [h for h in hosts if h.alive(NOW) and h.host not in exclude and h.model("m")]
        fits = [h for h in eligible if h.model("m").memory_bytes <= h.budget_bytes]  # type: ignore[union-attr]
        assert not fits
        return
    shuffled = list(hosts)
    shuffler.shuffle(shuffled)  # type: ignore[attr-defined]
    assert place("m", shuffled, NOW, exclude=exclude) == chosen  # order does not matter
    target = next(h for h in hosts if h.host == chosen.host)
    assert target.alive(NOW) and chosen.host not in exclude and target.model("m") is not None
    live_hot = [
        h
        for h in hosts
        if h.alive(NOW) and h.host not in exclude and (m := h.model("m")) and m.state == "hot"
    ]
    if live_hot:
        assert chosen.reason == "hot" and target in live_hot
