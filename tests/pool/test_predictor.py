"""The online predictor: successors, inter-arrival windows, frequency, and its latency."""

from __future__ import annotations

import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from pit.pool.predictor import UsagePredictor


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abcde"), st.sampled_from(["s1", "s2", None])), max_size=80)
)
def test_successor_probabilities_are_ranked_and_never_sum_past_one(
    stream: list[tuple[str, str | None]],
) -> None:
    predictor = UsagePredictor()
    for t, (model, session) in enumerate(stream):
        predictor.observe(model, session, float(t))
    for model in "abcde":
        followers = predictor.successors(model, limit=5)
        probabilities = [p for _, p in followers]
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) < 1.0
        assert model not in {m for m, _ in followers}


@settings(max_examples=30, deadline=None)
@given(
    period=st.floats(min_value=300, max_value=7200),
    jitter=st.floats(min_value=0, max_value=0.02),
    seed=st.integers(0, 1000),
)
def test_a_periodic_model_gets_a_window_around_its_period(
    period: float, jitter: float, seed: int
) -> None:
    rng = random.Random(seed)
    predictor = UsagePredictor()
    t, gaps = 0.0, []
    for _ in range(12):
        predictor.observe("job", None, t)
        gaps.append(period * (1 + rng.uniform(-jitter, jitter)))
        t += gaps[-1]
    window = predictor.next_use_window("job")
    assert window is not None
    head, tail = window
    assert head <= min(gaps[:-1]) and max(gaps[:-1]) <= tail  # 11 gaps: 5%..95% spans them all
    assert tail - head <= max(3 * 60, 0.25 * tail)


def test_memoryless_arrivals_get_no_window() -> None:
    rng = random.Random(7)
    predictor = UsagePredictor()
    t = 0.0
    for _ in range(200):
        t += rng.expovariate(1 / 900)
        predictor.observe("poisson", None, t)
    assert predictor.next_use_window("poisson") is None
    assert 0.2 < predictor.use_probability("poisson", t, 300) < 0.4  # 1 - e^(-1/3) ~ 0.28


def test_a_pipeline_successor_is_predicted_from_sessions() -> None:
    predictor = UsagePredictor()
    for run in range(5):
        for step, model in enumerate(["a", "b", "c"]):
            predictor.observe(model, f"run-{run}", run * 100.0 + step)
    assert predictor.successors("a") == [("b", 5 / 6)]
    assert predictor.successors("c") == []


def test_observe_and_predict_take_well_under_a_millisecond() -> None:
    rng = random.Random(1)
    predictor = UsagePredictor()
    samples: list[float] = []
    t = 0.0
    for index in range(5000):
        t += rng.expovariate(1.0)
        model = f"m{rng.randrange(200)}"
        started = time.perf_counter()
        predictor.observe(model, f"s{index % 50}", t)
        predictor.successors(model)
        predictor.next_use_window(model)
        samples.append(time.perf_counter() - started)
    samples.sort()
    assert samples[int(0.99 * len(samples))] < 0.001


def _run_pipelines(predictor: UsagePredictor, runs: int = 6) -> None:
    for run in range(runs):
        for steps in (["a", "s", "b"], ["c", "s", "d"]):  # two pipelines share model s
            for step, model in enumerate(steps):
                predictor.observe(model, f"{steps[0]}-{run}", run * 100.0 + step * 10)


def test_the_two_models_before_tell_pipelines_that_share_a_model_apart() -> None:
    predictor = UsagePredictor()
    _run_pipelines(predictor)
    assert {model for model, _ in predictor.successors("s")} == {"b", "d"}  # first order: 50/50
    predictor.observe("a", "new", 1000.0)
    predictor.observe("s", "new", 1010.0)
    ((model, probability), *_) = predictor.next_in_session("new")
    assert model == "b" and probability == 6 / 7
    assert predictor.successor_gap("s", "b") == 10.0


def test_second_order_contexts_are_capped() -> None:
    predictor = UsagePredictor(max_contexts=1)
    _run_pipelines(predictor)
    predictor.observe("c", "new", 1000.0)
    predictor.observe("s", "new", 1010.0)
    assert len(predictor._pair_totals) == 1  # ("a", "s") only; ("c", "s") was never kept
    assert {model for model, _ in predictor.next_in_session("new")} == {"b", "d"}
