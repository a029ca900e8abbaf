"""Aging bounds the wait of the lowest priority under a continuous flood of higher priority.

The bound (docs/arbitration.md): with aging interval I, a request Δ priority levels below the
flood is overtaken only by flood requests that arrived before a + Δ·I; on a one-slot resource
with holds of h seconds it therefore waits at most h · (N + 1), N the number of those.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pit.arbitration.scenario import parse_scenario
from pit.arbitration.simulate import simulate


def _flood(gaps: list[float], low_at: float, gap: int, aging: float | None, hold: float) -> dict:
    events = []
    t = 0.0
    for index, step in enumerate(gaps):
        t += step
        events.append(
            {
                "t": t,
                "request": {
                    "id": f"h{index}",
                    "tenant": "t",
                    "priority": gap,
                    "demands": {"gpu": 1},
                    "hold": hold,
                },
            }
        )
    events.append(
        {
            "t": low_at,
            "request": {
                "id": "low",
                "tenant": "t",
                "priority": 0,
                "demands": {"gpu": 1},
                "hold": hold,
            },
        }
    )
    events.sort(key=lambda e: e["t"])
    return {
        "strategy": "priority",
        "resources": {"gpu": 1},
        "aging_interval": aging,
        "events": events,
    }


def _low_wait(data: dict) -> float:
    scenario = parse_scenario(data)
    report = simulate(scenario, scenario.config())
    grant = next(d for d in report["decisions"] if d["request"] == "low" and d["action"] == "grant")
    return (
        grant["t"] - data["events"][[e["request"]["id"] for e in data["events"]].index("low")]["t"]
    )


@settings(max_examples=40, deadline=None)
@given(
    gaps=st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=5, max_size=60),
    low_at=st.integers(0, 20),
    gap=st.integers(1, 5),
    aging=st.sampled_from([1.0, 2.0, 5.0]),
    hold=st.sampled_from([1.0, 2.0, 4.0]),
)
def test_lowest_priority_wait_is_bounded_under_a_flood(
    gaps: list[float], low_at: int, gap: int, aging: float, hold: float
) -> None:
    data = _flood(gaps, float(low_at), gap, aging, hold)
    arrivals = [e["t"] for e in data["events"] if e["request"]["id"] != "low"]
    overtaking = sum(1 for a in arrivals if a < low_at + gap * aging)
    assert _low_wait(data) <= hold * (overtaking + 1)


def test_without_aging_a_flood_starves_the_lowest_priority() -> None:
    gaps = [0.5] * 200  # a request every 0.5 s, each held 1 s: always someone ahead
    starving = _low_wait(_flood(gaps, 1.0, 1, None, 1.0))
    aged = _low_wait(_flood(gaps, 1.0, 1, 1.0, 1.0))
    assert aged <= 1.0 * (sum(1 for i in range(200) if 0.5 * (i + 1) < 2.0) + 1)
    assert starving > 90  # served only once the flood is over
