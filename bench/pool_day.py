"""A seeded generator of a mixed day of model traffic, for the pool simulator.

    .venv/bin/python -m bench.pool_traces        # writes day-1 and day-2 with the others

One day (86,400 s) of five kinds of traffic over 28 models whose load time grows with size:

- diurnal load: every arrival rate below follows `diurnal(t)`, 15% at 03:00, 100% at 15:00;
- interactive sessions (`chat-N`): a user runs turns of one of four assistants (RAG chat:
  embed -> rerank -> chat; coding; voice: asr -> chat -> tts; document Q&A: ocr -> embed ->
  chat), with think time between turns;
- periodic jobs (`job-K-N`): eight scheduled jobs of one to three models, every 10 min to
  4 h (+-1% jitter), all day;
- pipelines (`run-N`): five fixed 3- to 5-step pipelines started at the diurnal rate;
- bursts: six times a day one rarely used model is hammered for a few minutes (no session);
- ad-hoc calls: Zipf(1.0) over every model at the diurnal rate (no session).

The session prefix says which kind an event belongs to, so a report can be split by kind.
"""

from __future__ import annotations

import math
import random
from typing import Any

GIB = 1024**3
DAY = 86_400.0

# (name, GiB, count): families of models; load time grows with size (about 1.5-4 s per GiB)
FAMILIES = [
    ("chat", (8, 16), 3),
    ("code", (8, 16), 2),
    ("embed", (1, 2), 3),
    ("rerank", (1, 2), 2),
    ("asr", (2, 4), 2),
    ("tts", (1, 2), 2),
    ("ocr", (2, 4), 2),
    ("vision", (4, 8), 2),
    ("summarize", (4, 8), 2),
    ("classify", (1, 1), 2),
    ("translate", (2, 4), 2),
    ("guard", (1, 2), 2),
    ("tabular", (1, 1), 2),
]


def diurnal(t: float) -> float:
    """Relative load at second `t` of the day: a smooth day, lowest at 03:00, peak 15:00."""
    hours = (t % DAY) / 3600.0
    return 0.15 + 0.85 * (0.5 - 0.5 * math.cos(2 * math.pi * (hours - 3.0) / 24.0))


def _arrivals(rng: random.Random, peak_per_second: float) -> list[float]:
    """A non-homogeneous Poisson process with rate `peak * diurnal(t)` (by thinning)."""
    times, t = [], 0.0
    while True:
        t += rng.expovariate(peak_per_second)
        if t >= DAY:
            return times
        if rng.random() < diurnal(t):
            times.append(t)


def _models(rng: random.Random) -> list[dict[str, Any]]:
    models = []
    for family, (low, high), count in FAMILIES:
        for index in range(count):
            gib = rng.choice(range(low, high + 1))
            load = gib * rng.uniform(1.5, 4.0) + rng.uniform(1.0, 3.0)
            models.append(
                {
                    "id": f"{family}-{index}",
                    "memory_bytes": gib * GIB,
                    "load_seconds": round(load, 1),
                }
            )
    return models


def _event(t: float, model: str, session: str | None, hold: float) -> dict[str, Any]:
    event: dict[str, Any] = {"t": round(t, 3), "model": model}
    if session is not None:
        event["session"] = session
    event["hold"] = round(hold, 2)
    return event


def _sessions(rng: random.Random, ids: list[str]) -> list[dict[str, Any]]:
    pick = {family: [i for i in ids if i.startswith(family + "-")] for family, *_ in FAMILIES}
    assistants = [  # one user's turn, in order: (family, (min hold, max hold))
        [("embed", (0.1, 0.5)), ("rerank", (0.2, 1.0)), ("chat", (3.0, 20.0))],
        [("code", (3.0, 25.0))],
        [("asr", (1.0, 4.0)), ("chat", (2.0, 12.0)), ("tts", (1.0, 5.0))],
        [("ocr", (2.0, 8.0)), ("embed", (0.2, 1.0)), ("chat", (3.0, 20.0))],
    ]
    events = []
    for number, start in enumerate(_arrivals(rng, 1 / 240), start=1):
        session = f"chat-{number}"
        steps = rng.choice(assistants)
        # each user sticks to one model of each family for the whole session
        chosen = [(rng.choice(pick[family]), hold) for family, hold in steps]
        at = start
        for _ in range(rng.randint(2, 10)):
            for model, (low, high) in chosen:
                hold = rng.uniform(low, high)
                events.append(_event(at, model, session, hold))
                at += hold + rng.uniform(0.2, 1.0)
            at += rng.expovariate(1 / 40)  # think time
    return events


def _jobs(rng: random.Random, ids: list[str]) -> list[dict[str, Any]]:
    events = []
    for job in range(8):
        models = rng.sample(ids, rng.randint(1, 3))
        period = rng.choice([600.0, 900.0, 1800.0, 3600.0, 7200.0, 14_400.0])
        t, firing = rng.uniform(0, period), 0
        while t < DAY:
            firing += 1
            at = t
            for model in models:
                hold = rng.uniform(10, 60)
                events.append(_event(at, model, f"job-{job}-{firing}", hold))
                at += hold + rng.uniform(1, 3)
            t += period * rng.uniform(0.99, 1.01)
    return events


def _pipelines(rng: random.Random, ids: list[str]) -> list[dict[str, Any]]:
    templates = [rng.sample(ids, rng.randint(3, 5)) for _ in range(5)]
    events = []
    for number, start in enumerate(_arrivals(rng, 1 / 600), start=1):
        at = start
        for model in rng.choice(templates):
            hold = rng.uniform(20, 120)
            events.append(_event(at, model, f"run-{number}", hold))
            at += hold + rng.uniform(1, 5)
    return events


def _bursts(rng: random.Random, popularity: list[str]) -> list[dict[str, Any]]:
    events = []
    for _ in range(6):
        model = rng.choice(popularity[len(popularity) // 2 :])  # rarely used otherwise
        at = rng.uniform(0, DAY - 600)
        for _ in range(rng.randint(20, 80)):
            events.append(_event(at, model, None, rng.uniform(0.5, 3.0)))
            at += rng.expovariate(1 / 4)
    return events


def _adhoc(rng: random.Random, popularity: list[str]) -> list[dict[str, Any]]:
    weights = [1.0 / (rank + 1) for rank in range(len(popularity))]
    return [
        _event(t, rng.choices(popularity, weights)[0], None, rng.expovariate(1 / 5))
        for t in _arrivals(rng, 1 / 60)
    ]


def mixed_day(rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(models, events sorted by time): one day of the five kinds of traffic."""
    models = _models(rng)
    ids = [model["id"] for model in models]
    popularity = rng.sample(ids, len(ids))  # the ad-hoc Zipf order, most popular first
    events = _sessions(rng, ids) + _jobs(rng, ids) + _pipelines(rng, ids)
    events += _bursts(rng, popularity) + _adhoc(rng, popularity)
    events = [event for event in events if event["t"] < DAY]
    events.sort(key=lambda event: (event["t"], event["model"]))
    return models, events
