"""`pit arbitrate` as a user runs it: the JSON shape, identical bytes, examples, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pit.cli import run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "arbitration").glob("*.yaml"))


def _pit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONHASHSEED"] = "random"
    return subprocess.run(
        [sys.executable, "-m", "pit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_output_is_byte_identical_across_processes(tmp_path: Path) -> None:
    example = str(ROOT / "examples" / "arbitration" / "issue.yaml")
    first = _pit("arbitrate", example, "--json", cwd=tmp_path)
    second = _pit("arbitrate", example, "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_runs_and_prints_the_documented_shape(
    example: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["arbitrate", str(example), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report) == ["decisions", "conflicts", "tenants", "gini", "wait_seconds"]
    for decision in report["decisions"]:
        assert set(decision) == {"t", "request", "action", "rationale"}
        assert decision["action"] in {"grant", "wait", "reject", "preempt"}
        assert {"strategy", "reason", "conflict", "winner", "waiters", "numbers"} <= set(
            decision["rationale"]
        )
    for conflict in report["conflicts"]:
        assert set(conflict) == {"t", "type", "requests", "resources"}
    for tenant in report["tenants"].values():
        assert set(tenant) == {"granted", "resource_seconds", "share", "entitled_share"}
    assert all(set(g) == {"t", "value"} for g in report["gini"])
    assert all(set(w) == {"p50", "max"} for w in report["wait_seconds"].values())


def test_three_tenant_example_keeps_shares_within_ten_percent_of_entitlement(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    run(["arbitrate", str(ROOT / "examples" / "arbitration" / "three_tenants.yaml"), "--json"])
    tenants = json.loads(capsys.readouterr().out)["tenants"]
    for name, tenant in tenants.items():
        deviation = abs(tenant["share"] - tenant["entitled_share"]) / tenant["entitled_share"]
        assert deviation < 0.1, (name, tenant)


def test_every_request_grant_appears_at_its_logical_time(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    run(["arbitrate", str(ROOT / "examples" / "arbitration" / "issue.yaml"), "--json"])
    decisions = json.loads(capsys.readouterr().out)["decisions"]
    grants = {d["request"]: d["t"] for d in decisions if d["action"] == "grant"}
    assert grants["r1"] == 0 and grants["r4"] == 4  # r4 fits once r1 is released at t=4
    assert [d["t"] for d in decisions] == sorted(d["t"] for d in decisions)


BAD = [
    ("strategy: fastest\nresources: {gpu: 1}\nevents: []\n", "strategy", "'fastest'"),
    ("resources: {gpu: 8XB}\nevents: []\n", "resources.gpu.capacity", "'8XB'"),
    (
        "resources: {gpu: 1}\nevents:\n  - {t: 0, request: {id: a, tenant: x, demands: {cpu: 1}}}\n",
        "events[0].request.demands.cpu",
        "no resource 'cpu'",
    ),
    (
        "resources: {gpu: 1}\nevents:\n  - {t: 5, release: nobody}\n",
        "events[0].release",
        "'nobody'",
    ),
    (
        "resources: {gpu: 1}\nevents:\n  - {t: 0, request: {id: a, tenant: x, demands: {gpu: 1}, colour: red}}\n",
        "events[0].request.colour",
        "unknown field",
    ),
    (
        "resources: {gpu: 1}\nevents:\n  - {t: 3, request: {id: a, tenant: x, demands: {gpu: 1}}}\n"
        "  - {t: 1, request: {id: b, tenant: x, demands: {gpu: 1}}}\n",
        "events[1].t",
        "sorted by t",
    ),
    (
        "resources: {gpu: 1}\ntenants: {x: {}}\nevents:\n  - {t: 0, request: {id: a, tenant: y, demands: {gpu: 1}}}\n",
        "events[0].request.tenant",
        "no such tenant",
    ),
    ("resources: [gpu\n", "bad.yaml:", "not valid YAML"),
]


@pytest.mark.parametrize(("text", "field", "detail"), BAD, ids=[b[1] for b in BAD])
def test_bad_scenario_exits_2_with_one_line_naming_field_value_and_rule(
    text: str,
    field: str,
    detail: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(text)
    assert run(["arbitrate", str(scenario)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and captured.out == ""
    assert field in lines[0] and detail in lines[0], lines[0]
