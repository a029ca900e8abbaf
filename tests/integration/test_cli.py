"""The `pit` command as a user runs it: real processes, a real embedded server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pit.infra.temporal.devserver import free_port

pytestmark = pytest.mark.integration


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}


def pit(*args: str, cwd: Path, timeout: float = 60, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "pit", *args],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _status(pid)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def test_dev_check_runs_real_work_and_exits_zero(tmp_path: Path) -> None:
    result = pit("dev", "--check", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["embedded"] is True
    assert report["echoed"] == "hello from the pit"
    assert (tmp_path / ".pit" / "temporal.db").exists()
    assert not (tmp_path / ".pit" / "temporal.json").exists()  # the server was stopped


def test_unknown_command_is_one_line_and_exit_2(tmp_path: Path) -> None:
    started = time.monotonic()
    result = pit("frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "frobnicate" in result.stderr
    assert time.monotonic() - started < 10


def test_bad_config_value_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "pit.toml").write_text('[temporal]\nconnect_timeout = "whenever"\n')
    result = pit("ping", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "temporal.connect_timeout" in result.stderr
    assert "'whenever'" in result.stderr
    assert not (tmp_path / ".pit").exists()  # nothing was started or written


def test_unreachable_temporal_is_exit_3_within_10_seconds(tmp_path: Path) -> None:
    closed = free_port()
    started = time.monotonic()
    result = pit("--temporal", f"127.0.0.1:{closed}", "check", cwd=tmp_path, timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1
    assert f"127.0.0.1:{closed}" in result.stderr
    assert elapsed < 10


def test_dev_serves_ui_and_other_shells_then_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "pit", "dev", "--json"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as dev:
        server_pid = _run_dev_session(dev, tmp_path)
    deadline = time.monotonic() + 10
    while _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(server_pid), "the embedded Temporal server outlived pit dev"


def _run_dev_session(dev: subprocess.Popen[str], tmp_path: Path) -> int:
    try:
        assert dev.stdout is not None
        ready = json.loads(dev.stdout.readline())
        server_pid = json.loads((tmp_path / ".pit" / "temporal.json").read_text())["pid"]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(ready["ui_url"], timeout=10) as response:
            assert response.status == 200

        other = tmp_path / "elsewhere"
        other.mkdir()
        checked = pit("--temporal", ready["address"], "check", "--json", cwd=other)
        assert checked.returncode == 0, checked.stderr
        assert json.loads(checked.stdout)["embedded"] is False
        assert not (other / ".pit").exists()  # it used the running server, not a new one

        dev.send_signal(signal.SIGINT)
        assert dev.wait(timeout=30) == 0
        return int(server_pid)
    finally:
        if dev.poll() is None:
            dev.kill()


def test_config_show_reports_precedence(tmp_path: Path) -> None:
    (tmp_path / "pit.toml").write_text('[temporal]\nnamespace = "toml"\naddress = "toml:1"\n')
    env = {**_env(), "PIT_TEMPORAL__NAMESPACE": "env"}
    result = pit("--temporal", "flag:2", "config", "show", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)["temporal"]
    assert shown["address"] == "flag:2"
    assert shown["namespace"] == "env"


def test_embedded_server_dies_with_a_killed_pit(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "pit", "dev", "--no-ui", "--json"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as dev:
        assert dev.stdout is not None
        json.loads(dev.stdout.readline())
        server_pid = json.loads((tmp_path / ".pit" / "temporal.json").read_text())["pid"]
        dev.kill()  # SIGKILL: pit gets no chance to stop the server itself
        dev.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(server_pid), "the embedded server outlived a killed pit"
