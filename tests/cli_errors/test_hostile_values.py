"""Hostile values that are not files: durations that overflow, times out of range, sizes,
addresses and paths, given on the command line, in the environment, in pit.toml or inside a
file. One line naming the field, exit code 2, nothing created."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pit.cli.dag import parse_inputs
from pit.common.validation import MAX_SECONDS
from tests.cli_errors.hostile import MODELS, POLICY, TRACE
from tests.cli_errors.support import assert_one_line, pit_in_process

_RANGE = "must be between 0s and 36500d (100 years)"

_DAG = "name: t\nnodes:\n  - id: a\n    activity: pit.echo\n    timeout: {}\n"
_POLICY = "delete: {{all: [{{max_age: {}}}]}}\n"
_SCENARIO = (
    "resources: {{gpu: 1}}\nevents:\n"
    "  - {{t: 0, request: {{id: r1, tenant: a, demands: {{gpu: 1}}, hold: {}}}}}\n"
)
_TOML = '[temporal]\nconnect_timeout = "{}"\n'


def _in_file(template: str, name: str, argv: tuple[str, ...]):  # type: ignore[no-untyped-def]
    def case(value: str, home: Path) -> tuple[list[str], dict[str, str]]:
        path = home / name
        path.write_text(template.format(value))
        return [str(path) if part == "{}" else part for part in argv], {}

    return case


def _flag(*argv: str):  # type: ignore[no-untyped-def]
    def case(value: str, home: Path) -> tuple[list[str], dict[str, str]]:
        return [value if part == "{}" else part for part in argv], {}

    return case


def _env(name: str):  # type: ignore[no-untyped-def]
    def case(value: str, home: Path) -> tuple[list[str], dict[str, str]]:
        return ["config", "show"], {name: value}

    return case


DURATION_PLACES = {
    "dag-timeout": (_in_file(_DAG, "dag.yaml", ("run", "{}")), "nodes[0].timeout"),
    "policy-max-age": (
        _in_file(_POLICY, "policy.yaml", ("stale", "plan", "--policy", "{}")),
        "delete.all[0].max_age",
    ),
    "scenario-hold": (
        _in_file(_SCENARIO, "scenario.yaml", ("arbitrate", "{}")),
        "events[0].request.hold",
    ),
    "pit.toml": (_in_file(_TOML, "pit.toml", ("config", "show")), "temporal.connect_timeout"),
    "env": (_env("PIT_STALE__GRACE_PERIOD"), "stale.grace_period"),
    "--every": (
        _flag("stale", "schedule", "--policy", str(POLICY), "--every", "{}"),
        "--every",
    ),
    "--confirm-within": (
        _flag("stale", "schedule", "--policy", str(POLICY), "--confirm-within", "{}"),
        "--confirm-within",
    ),
}

_overflowing = st.one_of(
    st.builds(
        lambda n, unit: f"{n}{unit}",
        st.integers(10**10, 10**40),  # 317 years at least
        st.sampled_from(["w", "d", "h", "m", "s"]),
    ),
    st.builds(lambda n: f"{n}w", st.integers(5219, 10**6)),  # just over 100 years
    st.builds(str, st.floats(MAX_SECONDS * 1.01, 1e308)),
    st.just("999999999w"),
    st.just("1e308"),
)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(DURATION_PLACES)), _overflowing)
def test_overflowing_durations_are_one_line_everywhere(place: str, value: str) -> None:
    build, field = DURATION_PLACES[place]
    with tempfile.TemporaryDirectory() as home:
        argv, env = build(value, Path(home))
        code, err = pit_in_process(argv, Path(home), env)
        assert_one_line(code, err, 2, field)
        assert _RANGE in err or "finite" in err, err
        assert not (Path(home) / ".pit").exists()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["stale", "plan", "--policy", str(POLICY), "--now", "0001-01-01"], "--now"),
        (["stale", "plan", "--policy", str(POLICY), "--now", "9999-12-31T23:59:59"], "--now"),
        (
            ["stale", "plan", "--policy", str(POLICY), "--now", "0001-01-01T00:00:00+23:59"],
            "--now",
        ),
        (["--temporal", "not a host", "ping"], "temporal.address (from --temporal)"),
        (["--temporal", "host:99999", "dag", "list"], "port 1-65535"),
        (["check", "--timeout", "1e308"], "--timeout"),
        (["check", "--timeout", "nan"], "--timeout"),
        (["dag", "list", "--limit", "9" * 30], "--limit"),
        (
            [
                "pool",
                "simulate",
                "--models",
                str(MODELS),
                "--trace",
                str(TRACE),
                "--budget",
                "9" * 400 + "TiB",
            ],
            "--budget",
        ),
    ],
    ids=[
        "now-year-1",
        "now-year-9999",
        "now-overflowing-zone",
        "temporal-not-a-host",
        "temporal-bad-port",
        "check-timeout-huge",
        "check-timeout-nan",
        "list-limit-huge",
        "budget-huge",
    ],
)
def test_hostile_flags_are_one_line(tmp_path: Path, argv: list[str], says: str) -> None:
    code, err = pit_in_process(argv, tmp_path)
    assert_one_line(code, err, 2, says)
    assert not (tmp_path / ".pit").exists()


@pytest.mark.parametrize(
    "line", ['{"t": 1e308, "model": "p-00"}', '{"t": 1, "model": "p-00", "hold": 1e308}']
)
def test_trace_times_beyond_a_century_are_refused(tmp_path: Path, line: str) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text(line + "\n")
    argv = ["pool", "simulate", "--models", str(MODELS), "--trace", str(trace), "--budget", "24GiB"]
    code, err = pit_in_process(argv, tmp_path)
    assert_one_line(code, err, 2, "t.jsonl:1", "less than or equal to")


def test_a_scenario_time_beyond_a_century_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "resources: {gpu: 1}\nevents:\n"
        "  - {t: 1e308, request: {id: r1, tenant: a, demands: {gpu: 1}}}\n"
    )
    code, err = pit_in_process(["arbitrate", str(path)], tmp_path)
    assert_one_line(code, err, 2, "events[0].t")


@pytest.mark.parametrize("where", ["file", "below-a-file"])
def test_a_state_dir_that_is_a_file_is_one_line(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    state = blocker if where == "file" else blocker / "state"
    code, err = pit_in_process(["--state-dir", str(state), "ping"], tmp_path)
    assert_one_line(code, err, 2, "state_dir (from --state-dir)", "is not a directory")


def test_an_unreadable_state_dir_is_one_line_naming_it(tmp_path: Path) -> None:
    # /proc refuses new directories whoever we are (root included): ENOENT from mkdir
    code, err = pit_in_process(
        ["--state-dir", "/proc/pit-state", "stale", "plan", "--policy", str(POLICY)], tmp_path
    )
    assert_one_line(code, err, 2, "/proc/pit-state", "(ENOENT)")


def test_deep_or_huge_input_values_stay_text() -> None:
    deep = "[" * 5000 + "]" * 5000
    long_int = "9" * 5000
    assert parse_inputs((f"a={deep}", f"b={long_int}", "c=[1, 2]")) == {
        "a": deep,
        "b": long_int,
        "c": [1, 2],
    }


def test_deep_json_in_the_environment_is_one_line(tmp_path: Path) -> None:
    deep = '{"a":' * 3000 + "1" + "}" * 3000
    code, err = pit_in_process(["config", "show"], tmp_path, {"PIT_STALE": deep})
    assert_one_line(code, err, 2, "stale (from PIT_STALE)", "characters")
