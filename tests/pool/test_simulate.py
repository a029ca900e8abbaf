"""The simulator on the committed traces, and the CLI's answer to bad files."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.pool_traces import BUDGETS
from pit.cli import cli
from pit.cli._app import run
from pit.pool.loader import SimulatedLoader
from pit.pool.pool import ModelPool
from pit.pool.simulate import REPORT_KEYS, simulate
from pit.pool.spec import ModelSpec
from pit.pool.trace import TraceEvent, read_models, read_trace

from .support import make_pool, models

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pool"


def _load(name: str):  # type: ignore[no-untyped-def]
    models = read_models(EXAMPLES / f"{name}.models.yaml")
    return models, read_trace(EXAMPLES / f"{name}.trace.jsonl", {m.id for m in models})


@pytest.mark.parametrize("name", list(BUDGETS))
def test_each_committed_trace_replays_within_its_budget(name: str) -> None:
    models, trace = _load(name)
    report = simulate(models, trace, BUDGETS[name], prewarm=True)
    assert tuple(report) == REPORT_KEYS
    assert report["requests"] == len(trace) == report["hits"] + report["cold_starts"]
    assert report["peak_memory_bytes"] <= report["budget_bytes"] == BUDGETS[name]
    assert report["predict_p99_us"] < 1000


def test_prewarming_halves_cold_starts_on_the_periodic_trace() -> None:
    models, trace = _load("periodic")
    lru = simulate(models, trace, BUDGETS["periodic"], prewarm=False)
    warm = simulate(models, trace, BUDGETS["periodic"], prewarm=True)
    assert warm["cold_starts"] <= 0.5 * lru["cold_starts"]
    assert warm["prewarm_accuracy"] > 0.7
    assert lru["prewarms"] == 0


def test_the_same_trace_gives_the_same_counts() -> None:
    models, trace = _load("pipelines")
    first = simulate(models, trace[:300], BUDGETS["pipelines"])
    second = simulate(models, trace[:300], BUDGETS["pipelines"])
    for key in ("hits", "cold_starts", "prewarms", "peak_memory_bytes"):
        assert first[key] == second[key]


def test_cli_prints_exactly_the_issue_keys(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text(
        '{"t": 0, "model": "a", "session": "s", "hold": 5}\n{"t": 10, "model": "b", "session": "s"}\n'
    )
    models = tmp_path / "m.yaml"
    models.write_text(
        "- {id: a, memory_bytes: 4GiB, load_seconds: 3}\n- {id: b, memory_bytes: 2, load_seconds: 1}\n"
    )
    result = CliRunner().invoke(
        cli,
        [
            "pool",
            "simulate",
            "--models",
            str(models),
            "--trace",
            str(trace),
            "--budget",
            "8GiB",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert list(json.loads(result.output)) == list(REPORT_KEYS)


@pytest.mark.parametrize(
    ("models_text", "trace_text", "budget", "expected"),
    [
        (
            "- {id: a, memory_bytes: 1}\n",
            '{"t": 0, "model": "zz"}\n',
            "8",
            "t.jsonl:1: model: 'zz': not in the models file",
        ),
        (
            "- {id: a, memory_bytes: 1}\n",
            '{"t": 5, "model": "a"}\n{"t": 1, "model": "a"}\n',
            "8",
            "t.jsonl:2: t: 1.0: must be >= 5.0",
        ),
        (
            "- {id: a, memory_bytes: 1}\n",
            '{"t": 0, "model": "a", "holds": 1}\n',
            "8",
            "t.jsonl:1: holds: 1: unknown field",
        ),
        (
            "- {id: a, memory_bytes: 1}\n",
            "not json\n",
            "8",
            "t.jsonl:1: not valid JSON: Expecting value",
        ),
        (
            "- {id: a, memory_bytes: -3}\n",
            '{"t": 0, "model": "a"}\n',
            "8",
            "m.yaml: models.0.memory_bytes: -3",
        ),
        (
            "- {id: a, memory_bytes: 1, load_secs: 2}\n",
            '{"t": 0, "model": "a"}\n',
            "8",
            "models.0.load_secs: 2: unknown field",
        ),
        (
            "- {id: a, memory_bytes: 9}\n",
            '{"t": 0, "model": "a"}\n',
            "8",
            "--budget: 8: must be >= the largest model (a: 9 bytes)",
        ),
    ],
)
def test_bad_files_fail_with_one_line_naming_field_value_and_rule(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    models_text: str,
    trace_text: str,
    budget: str,
    expected: str,
) -> None:
    (tmp_path / "m.yaml").write_text(models_text)
    (tmp_path / "t.jsonl").write_text(trace_text)
    code = run(
        [
            "pool",
            "simulate",
            "--models",
            str(tmp_path / "m.yaml"),
            "--trace",
            str(tmp_path / "t.jsonl"),
            "--budget",
            budget,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert expected in err


def test_the_report_separates_the_hit_path_from_how_long_misses_waited() -> None:
    models = [
        ModelSpec(id="a", memory_bytes=1, load_seconds=3),
        ModelSpec(id="b", memory_bytes=1, load_seconds=7),
    ]
    trace = [TraceEvent(t=t, model=m) for t, m in [(0, "a"), (10, "a"), (20, "b"), (40, "b")]]
    report = simulate(models, trace, 1, policy="lru")
    assert (report["hits"], report["cold_starts"]) == (2, 2)
    assert report["miss_wait_p99_s"] == 7.0  # virtual seconds: b's load
    assert report["hit_p99_us"] is not None and report["hit_p99_us"] > 0  # wall clock
    assert report["acquire_p99_us"] >= 7e6  # the old key still mixes both


async def test_a_failed_load_logs_its_reason_even_when_the_error_has_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Mute(SimulatedLoader):
        async def load(self, model: ModelSpec) -> object:
            raise TimeoutError()  # str() is empty

    pool = ModelPool([ModelSpec(id="m", memory_bytes=1)], budget=1, loaders={"simulated": Mute()})
    with caplog.at_level(logging.INFO, logger="pit.pool"), pytest.raises(TimeoutError):
        await pool.warm("m")
    assert "model m failed to load: TimeoutError" in caplog.text
    assert pool.stats.load_failures == 1


async def test_a_prewarm_cut_short_by_closing_the_pool_says_so_and_is_no_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool, _, _ = make_pool(models(1, load_seconds=5), 1)
    pool.prewarm("m0")
    await asyncio.sleep(0)
    with caplog.at_level(logging.INFO, logger="pit.pool"):
        await pool.aclose()
    (record,) = [r for r in caplog.records if "failed to load" in r.getMessage()]
    assert record.getMessage() == (
        "model m0 failed to load: cancelled (the pool is closing or the caller gave up)"
    )
    assert record.levelno == logging.INFO and pool.stats.load_failures == 0


def test_a_replay_never_logs_a_failed_load_without_its_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    models = [
        ModelSpec(id="a", memory_bytes=1, load_seconds=1),
        ModelSpec(id="b", memory_bytes=1, load_seconds=50),
        ModelSpec(id="c", memory_bytes=2, load_seconds=1),
    ]
    trace = [
        TraceEvent(t=100.0 * run + step * 5, model=model, session=f"s{run}")
        for run in range(8)
        for step, model in enumerate("ab")
    ]
    trace += [TraceEvent(t=890, model="c"), TraceEvent(t=900, model="a", session="last")]
    with caplog.at_level(logging.INFO, logger="pit.pool"):
        report = simulate(models, trace, 2)  # a's successor b is still loading at the end
    assert report["prewarms"] >= 1
    failed = [r.getMessage() for r in caplog.records if "failed to load" in r.getMessage()]
    assert failed  # the prewarm of b cut short by the end of the replay
    assert all(message.split("failed to load: ", 1)[1].strip() for message in failed)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_cli_policy_chooses_the_eviction_and_whether_to_prewarm() -> None:
    name = "pipelines"
    args = ["pool", "simulate", "--models", str(EXAMPLES / f"{name}.models.yaml")]
    args += ["--trace", str(EXAMPLES / f"{name}.trace.jsonl"), "--budget", "20GiB", "--json"]
    reports = {}
    for policy in ("lru", "gdsf", "predictive"):
        result = CliRunner().invoke(cli, [*args, "--policy", policy])
        assert result.exit_code == 0, result.output
        reports[policy] = json.loads(result.output)
    assert reports["lru"]["prewarms"] == reports["gdsf"]["prewarms"] == 0
    assert reports["predictive"]["prewarms"] > 0
    assert reports["gdsf"]["cold_starts"] < reports["lru"]["cold_starts"]
    no_prewarm = json.loads(CliRunner().invoke(cli, [*args, "--no-prewarm"]).output)
    assert no_prewarm["cold_starts"] == reports["lru"]["cold_starts"]
