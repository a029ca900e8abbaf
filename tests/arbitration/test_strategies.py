"""Each strategy's behaviour, deadlock breaking, quotas, max_wait and fairness corrections."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pit.arbitration import Arbiter, Decision, Release, Request, Submit, Tick, gini
from tests.arbitration.support import config, request


def _grants(decisions: list[Decision]) -> list[str]:
    return [d.request for d in decisions if d.action == "grant"]


def _fill_then_queue(arbiter: Arbiter, waiting: list[Request]) -> None:
    arbiter.apply(Submit(t=0, request=request("holder", "zed", slots=3)))
    for position, item in enumerate(waiting):
        arbiter.apply(Submit(t=1 + position, request=item))


def _serve_one_at_a_time(arbiter: Arbiter, count: int) -> list[str]:
    """Release the holder, then each grant in turn; return who got the slots in order."""
    order: list[str] = []
    released = ["holder"]
    t = 100.0
    while released and len(order) < count:
        result = arbiter.apply(Release(t=t, request=released.pop()))
        granted = _grants(result.decisions)
        order += granted
        released += granted
        t += 1
    return order


def test_priority_serves_the_highest_priority_first() -> None:
    arbiter = Arbiter(config("priority", aging_interval=None))
    _fill_then_queue(
        arbiter,
        [
            request("low", priority=1, slots=3),
            request("high", priority=9, slots=3),
            request("mid", priority=5, slots=3),
        ],
    )
    assert _serve_one_at_a_time(arbiter, 3) == ["high", "mid", "low"]


def test_priority_ties_break_by_arrival_then_id() -> None:
    arbiter = Arbiter(config("priority", aging_interval=None))
    arbiter.apply(Submit(t=0, request=request("holder", "zed", slots=3)))
    arbiter.apply(Submit(t=1, request=request("b", slots=3)))
    arbiter.apply(Submit(t=1, request=request("a", slots=3)))
    early = Request(id="c", tenant="alice", demands={"slots": 3}, arrival=0.5)
    arbiter.apply(Submit(t=1, request=early))
    assert _serve_one_at_a_time(arbiter, 3) == ["c", "a", "b"]


def test_aging_lets_an_old_low_priority_request_overtake_newer_high_priority_ones() -> None:
    arbiter = Arbiter(config("priority", aging_interval=1))
    arbiter.apply(Submit(t=0, request=request("holder", "zed", slots=3)))
    arbiter.apply(Submit(t=0, request=request("old-low", priority=0, slots=3)))
    arbiter.apply(Submit(t=50, request=request("new-high", priority=5, slots=3)))
    assert _serve_one_at_a_time(arbiter, 1) == ["old-low"]


def test_round_robin_alternates_between_tenants() -> None:
    arbiter = Arbiter(config("round_robin"))
    waiting = [request(f"a{i}", "alice", priority=9, slots=3) for i in range(3)]
    waiting += [request(f"b{i}", "bob", slots=3) for i in range(3)]
    _fill_then_queue(arbiter, waiting)
    order = _serve_one_at_a_time(arbiter, 6)
    assert [r[0] for r in order] == ["a", "b", "a", "b", "a", "b"]


def test_weighted_fair_gives_dominant_shares_in_proportion_to_weights() -> None:
    arbiter = Arbiter(
        config(
            "weighted_fair",
            tenants={"alice": {"weight": 2}, "bob": {"weight": 1}},
            resources={"gpu": {"capacity": 9}, "gpu.mem": {"capacity": 90}},
        )
    )
    arbiter.apply(Submit(t=0, request=request("holder", "zed", gpu=9)))
    for i in range(9):
        arbiter.apply(Submit(t=1, request=request(f"a{i}", "alice", gpu=1, gpu__mem=5)))
        arbiter.apply(Submit(t=1, request=request(f"b{i}", "bob", gpu=1, gpu__mem=5)))
    arbiter.apply(Release(t=2, request="holder"))
    held = {
        t: len([h for h in arbiter.ledger.granted.values() if h.request.tenant == t])
        for t in ("alice", "bob")
    }
    assert held == {"alice": 6, "bob": 3}
    grant = next(d for d in arbiter.apply(Release(t=3, request="a0")).decisions)
    assert grant.rationale.strategy == "weighted_fair"
    assert "weighted_dominant_share" in grant.rationale.numbers


def test_collaborative_grants_sharing_requests_together_on_one_instance() -> None:
    arbiter = Arbiter(
        config("collaborative", resources={"model": {"capacity": 1, "shareable": True}})
    )
    first = Request(id="c1", tenant="alice", demands={"model": 1}, share="coder")
    second = Request(id="c2", tenant="bob", demands={"model": 1}, share="coder")
    other = Request(id="x", tenant="bob", demands={"model": 1}, share="other")
    assert _grants(arbiter.apply(Submit(t=0, request=first)).decisions) == ["c1"]
    joined = arbiter.apply(Submit(t=1, request=second)).decisions
    assert _grants(joined) == ["c2"]
    assert "shares the grant" in joined[0].rationale.reason
    assert arbiter.ledger.used["model"] == 1
    assert [d.action for d in arbiter.apply(Submit(t=2, request=other)).decisions] == ["wait"]
    arbiter.apply(Release(t=3, request="c1"))
    assert arbiter.ledger.used["model"] == 1  # c2 still uses the instance
    assert _grants(arbiter.apply(Release(t=4, request="c2")).decisions) == ["x"]


def test_a_deadlock_is_reported_and_broken_by_preempting_the_lowest_ranked_holder() -> None:
    arbiter = Arbiter(
        config(
            "priority",
            resources={
                "lock1": {"capacity": 1, "exclusive": True},
                "lock2": {"capacity": 1, "exclusive": True},
            },
        )
    )

    def ask(rid: str, owner: str, lock: str, priority: int) -> Request:
        return Request(id=rid, tenant="t", owner=owner, priority=priority, demands={lock: 1})

    arbiter.apply(Submit(t=0, request=ask("a1", "A", "lock1", 5)))
    arbiter.apply(Submit(t=0, request=ask("b1", "B", "lock2", 1)))
    arbiter.apply(Submit(t=1, request=ask("a2", "A", "lock2", 5)))
    result = arbiter.apply(Submit(t=2, request=ask("b2", "B", "lock1", 1)))
    deadlocks = [c for c in result.conflicts if c.type == "deadlock"]
    assert deadlocks and set(deadlocks[0].requests) == {"a1", "a2", "b1", "b2"}
    assert deadlocks[0].resources == ["lock1", "lock2"]
    actions = [(d.action, d.request) for d in result.decisions]
    assert ("preempt", "b1") in actions and ("grant", "a2") in actions
    assert not arbiter.detector.cycles


def test_quota_rejects_what_can_never_fit_and_holds_back_what_cannot_fit_yet() -> None:
    arbiter = Arbiter(config(tenants={"bob": {"quota": {"gpu.mem": 50}}}))
    assert (
        arbiter.apply(Submit(t=0, request=request("big", "bob", gpu__mem=60))).decisions[0].action
        == "reject"
    )
    arbiter.apply(Submit(t=0, request=request("b1", "bob", gpu__mem=40)))
    result = arbiter.apply(Submit(t=1, request=request("b2", "bob", gpu__mem=20)))
    assert result.decisions[0].action == "wait"
    assert result.decisions[0].rationale.reason.startswith("quota:")
    assert [c.type for c in result.conflicts] == ["quota_breach"]
    # alice is not held back by bob's quota
    assert _grants(
        arbiter.apply(Submit(t=2, request=request("a1", "alice", gpu__mem=40))).decisions
    ) == ["a1"]


def test_a_request_still_waiting_at_its_max_wait_is_rejected() -> None:
    arbiter = Arbiter(config())
    arbiter.apply(Submit(t=0, request=request("holder", slots=3)))
    patient = Request(id="p", tenant="bob", demands={"slots": 1}, max_wait=5)
    arbiter.apply(Submit(t=1, request=patient))
    assert arbiter.next_timer() == 6
    assert arbiter.apply(Tick(t=5.9)).decisions == []
    decision = arbiter.apply(Tick(t=6)).decisions[0]
    assert (decision.action, decision.request) == ("reject", "p")


def test_an_over_served_tenant_is_corrected_and_the_rationale_says_so() -> None:
    arbiter = Arbiter(config(resources={"slots": {"capacity": 2}}))
    arbiter.apply(Submit(t=0, request=request("a1", "alice", slots=2)))
    arbiter.apply(Submit(t=1, request=request("b1", "bob", slots=1)))
    result = arbiter.apply(Submit(t=30, request=request("a2", "alice", slots=1)))
    assert "alice over-served" in " ".join(result.decisions[-1].rationale.corrections)
    assert arbiter.fairness.penalties == {"alice": 2}
    # with alice penalised, bob's older request and alice's new one compete: bob goes first
    assert _grants(arbiter.apply(Release(t=31, request="a1")).decisions) == ["b1", "a2"]


def test_a_flooding_tenant_is_penalised() -> None:
    arbiter = Arbiter(config())
    arbiter.apply(Submit(t=0, request=request("holder", "bob", slots=3)))
    for i in range(10):
        arbiter.apply(Submit(t=1, request=request(f"f{i}", "alice", slots=1)))
    arbiter.apply(Submit(t=2, request=request("c", "carol", slots=1)))
    result = arbiter.apply(Submit(t=3, request=request("f10", "alice", slots=1)))
    assert "alice flooding" in " ".join(result.decisions[-1].rationale.corrections)
    assert arbiter.fairness.penalties["alice"] == 2


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=20), st.floats(0.1, 100))
def test_gini_is_between_zero_and_one_and_ignores_scale(values: list[float], scale: float) -> None:
    value = gini(values)
    assert 0 <= value < 1
    assert abs(gini([v * scale for v in values]) - value) < 1e-9
    assert gini([values[0]] * len(values)) < 1e-9
