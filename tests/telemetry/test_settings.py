"""[telemetry] settings and `--metrics-port`: a bad value is one line naming it, exit 2, before
anything starts; a port another process holds is refused the same way."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pit.cli import run
from pit.common.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["worker", "--metrics-port", "abc"], {}, "telemetry.metrics_port (from --metrics-port)"),
        (["dev", "--metrics-port", "70000"], {}, "less than or equal to 65535"),
        (
            ["worker"],
            {"PIT_TELEMETRY__METRICS_HOST": "localhost"},
            "telemetry.metrics_host (from PIT_TELEMETRY__METRICS_HOST): 'localhost': must be "
            "an IP address",
        ),
        (
            ["worker"],
            {"PIT_TELEMETRY__OTLP_ENDPOINT": "ftp://collector:4318"},
            "telemetry.otlp_endpoint (from PIT_TELEMETRY__OTLP_ENDPOINT): 'ftp://collector:4318'",
        ),
        (["worker"], {"PIT_TELEMETRY__COLOUR": "red"}, "telemetry.colour"),
    ],
)
def test_bad_telemetry_settings_are_one_line_and_exit_2(
    args: list[str],
    env: dict[str, str],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert run(["--state-dir", str(tmp_path / "state"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    assert not (tmp_path / "state").exists()  # nothing started


def test_defaults_serve_nothing_and_bind_loopback_when_told_a_port(tmp_path: Path) -> None:
    telemetry = load_settings(environ={}, cwd=tmp_path).telemetry
    assert telemetry.metrics_port is None and telemetry.otlp_endpoint is None
    told = load_settings(environ={"PIT_TELEMETRY__METRICS_PORT": "9464"}, cwd=tmp_path)
    assert told.telemetry.metrics_host == "127.0.0.1"
    endpoint = {"PIT_TELEMETRY__OTLP_ENDPOINT": "http://collector:4318/"}
    assert load_settings(environ=endpoint, cwd=tmp_path).telemetry.otlp_endpoint == (
        "http://collector:4318"
    )


def test_a_metrics_port_in_use_is_refused_before_the_worker_connects(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pit",
                "--temporal",
                "127.0.0.1:1",
                "--state-dir",
                str(tmp_path),
                "worker",
                "--metrics-port",
                str(port),
            ],
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"pit: error: telemetry.metrics_port: {port}: cannot serve metrics on "
        f"127.0.0.1:{port}: Address already in use (os error 98)"
    )


def test_nothing_traced_loads_no_opentelemetry() -> None:
    probe = (
        "import sys, pit.workers, pit.client._client, pit.infra.temporal.session;"
        "from pit.infra.telemetry import tracing_interceptors;"
        "from pit.common.config import load_settings;"
        "assert tracing_interceptors(load_settings(environ={}).telemetry) == [];"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
