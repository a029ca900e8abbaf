"""The simulator on the committed traces, and the CLI's answer to bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.pool_traces import BUDGETS
from pit.cli import cli
from pit.cli._app import run
from pit.pool.simulate import REPORT_KEYS, simulate
from pit.pool.trace import read_models, read_trace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pool"


def _load(name: str):  # type: ignore[no-untyped-def]
    models = read_models(EXAMPLES / f"{name}.models.yaml")
    return models, read_trace(EXAMPLES / f"{name}.trace.jsonl", {m.id for m in models})


@pytest.mark.parametrize("name", ["zipf", "periodic", "pipelines"])
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
