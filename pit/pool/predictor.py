"""An online predictor of the next acquisitions: successors per session (first order, and
second order where the two models before tell pipelines that share a model apart), per-model
inter-arrival histograms (the hybrid-histogram idea of "Serverless in the Wild", ATC 2020),
and plain frequency. Every update and query is O(1) or O(bins)."""

from __future__ import annotations

import math
from collections import OrderedDict
from operator import itemgetter


class UsagePredictor:
    """Learns from `observe(model, session, now)`; answers in well under a millisecond.

    Gaps shorter than one bin are not recorded: the model is still hot for them, and a burst
    of calls would otherwise hide the period between bursts.
    """

    def __init__(
        self,
        *,
        bin_seconds: float = 60.0,
        bins: int = 240,
        min_samples: int = 4,
        head: float = 0.05,
        tail: float = 0.95,
        max_sessions: int = 10_000,
        max_contexts: int = 100_000,
    ) -> None:
        self.bin_seconds = bin_seconds
        self.bins = bins
        self.min_samples = min_samples
        self.head = head
        self.tail = tail
        self.max_sessions = max_sessions
        self.max_contexts = max_contexts
        """Second-order contexts (pairs of models) remembered at most; new ones past it
        fall back to first order."""
        self._counts: dict[str, int] = {}
        self._first_seen: dict[str, float] = {}
        self._last_seen: dict[str, float] = {}
        self._histograms: dict[str, list[int]] = {}
        self._out_of_range: dict[str, int] = {}
        self._windows: dict[str, tuple[float, float] | None] = {}
        self._successors: dict[str, dict[str, int]] = {}
        self._successor_totals: dict[str, int] = {}
        self._pair_successors: dict[tuple[str, str], dict[str, int]] = {}
        self._pair_totals: dict[tuple[str, str], int] = {}
        self._gaps: dict[tuple[str, str], float] = {}
        self._recent_gap: dict[str, float] = {}
        self._session_last: OrderedDict[str, tuple[str | None, str, float]] = OrderedDict()

    def observe(self, model_id: str, session: str | None, now: float) -> None:
        """Record one acquisition of `model_id` at `now` (seconds, monotonic)."""
        self._counts[model_id] = self._counts.get(model_id, 0) + 1
        self._first_seen.setdefault(model_id, now)
        last = self._last_seen.get(model_id)
        self._last_seen[model_id] = now
        if last is not None:
            known = self._recent_gap.get(model_id)
            gap = now - last
            self._recent_gap[model_id] = gap if known is None else 0.7 * known + 0.3 * gap
        if last is not None and now - last >= self.bin_seconds:
            index = int((now - last) / self.bin_seconds)
            if index >= self.bins:
                self._out_of_range[model_id] = self._out_of_range.get(model_id, 0) + 1
            else:
                histogram = self._histograms.get(model_id)
                if histogram is None:
                    histogram = self._histograms[model_id] = [0] * self.bins
                histogram[index] += 1
            self._windows.pop(model_id, None)
        if session is not None:
            self._observe_session(model_id, session, now)

    def _observe_session(self, model_id: str, session: str, now: float) -> None:
        last = self._session_last.get(session)
        if last is not None and last[1] == model_id:
            self._session_last[session] = (last[0], model_id, now)
            self._session_last.move_to_end(session)
            return
        before, previous, previous_at = last if last is not None else (None, None, now)
        self._session_last[session] = (previous, model_id, now)
        self._session_last.move_to_end(session)
        if len(self._session_last) > self.max_sessions:
            self._session_last.popitem(last=False)
        if previous is None:
            return
        followers = self._successors.setdefault(previous, {})
        followers[model_id] = followers.get(model_id, 0) + 1
        self._successor_totals[previous] = self._successor_totals.get(previous, 0) + 1
        pair = (previous, model_id)
        gap = now - previous_at
        known = self._gaps.get(pair)
        self._gaps[pair] = gap if known is None else 0.8 * known + 0.2 * gap
        if before is not None and (
            len(self._pair_totals) < self.max_contexts or (before, previous) in self._pair_totals
        ):
            context = (before, previous)
            pair_followers = self._pair_successors.setdefault(context, {})
            pair_followers[model_id] = pair_followers.get(model_id, 0) + 1
            self._pair_totals[context] = self._pair_totals.get(context, 0) + 1

    def successors(self, model_id: str, limit: int = 3) -> list[tuple[str, float]]:
        """Models that followed `model_id` in a session, with a smoothed probability
        (count / (total + 1), so one sighting is never certainty), most likely first."""
        followers = self._successors.get(model_id)
        if not followers:
            return []
        total = self._successor_totals[model_id] + 1
        ranked = sorted(followers.items(), key=itemgetter(1), reverse=True)[:limit]
        return [(follower, count / total) for follower, count in ranked]

    def next_in_session(self, session: str, limit: int = 3) -> list[tuple[str, float]]:
        """What the session will acquire next, with a smoothed probability: from the two
        models it used last when that pair was seen at least twice, else from the last."""
        last = self._session_last.get(session)
        if last is None:
            return []
        before, current, _ = last
        if before is not None:
            context = (before, current)
            total = self._pair_totals.get(context, 0)
            if total >= 2:
                followers = self._pair_successors[context].items()
                ranked = sorted(followers, key=itemgetter(1), reverse=True)[:limit]
                return [(model, count / (total + 1)) for model, count in ranked]
        return self.successors(current, limit)

    def successor_gap(self, model_id: str, follower: str) -> float | None:
        """Seconds from `model_id`'s acquisition to `follower`'s in a session (a moving
        average); None when never seen."""
        return self._gaps.get((model_id, follower))

    def last_seen(self, model_id: str) -> float | None:
        return self._last_seen.get(model_id)

    def next_use_window(self, model_id: str) -> tuple[float, float] | None:
        """(head, tail) seconds after the last use within which the next use falls, from the
        histogram's head and tail percentiles; None when the pattern is not regular enough
        (too few samples, too many gaps out of range, a window wider than a quarter of its
        end, or one opening within two bins: memoryless arrivals look like that)."""
        if model_id in self._windows:
            return self._windows[model_id]
        window = self._compute_window(model_id)
        self._windows[model_id] = window
        return window

    def _compute_window(self, model_id: str) -> tuple[float, float] | None:
        histogram = self._histograms.get(model_id)
        if histogram is None:
            return None
        in_range = sum(histogram)
        total = in_range + self._out_of_range.get(model_id, 0)
        if in_range < self.min_samples or in_range < 0.9 * total:
            return None
        head_rank, tail_rank = self.head * in_range, self.tail * in_range
        head_bin = tail_bin = -1
        seen = 0
        for index, count in enumerate(histogram):
            seen += count
            if head_bin < 0 and seen > head_rank:
                head_bin = index
            if seen >= tail_rank:
                tail_bin = index
                break
        head = head_bin * self.bin_seconds
        tail = (tail_bin + 1) * self.bin_seconds
        if tail - head > max(3 * self.bin_seconds, 0.25 * tail):
            return None
        if head < 2 * self.bin_seconds:
            return None  # memoryless gaps cut off below one bin look like this
        return head, tail

    def use_probability(self, model_id: str, now: float, horizon: float) -> float:
        """Chance of at least one use within `horizon` seconds if arrivals were Poisson at
        the model's rate: its long-run rate, or its recent one (a moving average of its
        last gaps) while it is in a burst (its last use less than three recent gaps ago),
        whichever is higher."""
        count = self._counts.get(model_id, 0)
        if count < 2:
            return 0.0
        span = now - self._first_seen[model_id]
        rate = (count - 1) / span if span > 0 else 0.0
        recent = self._recent_gap.get(model_id)
        if recent is not None and now - self._last_seen[model_id] < 3 * recent:
            rate = max(rate, 1 / max(recent, 1e-9))
        return 1.0 - math.exp(-rate * horizon)
