"""`pit dev` gives the web UI it starts a codec server: the UI's own settings name it, and it
answers that UI's origin and no other."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _get(
    url: str, headers: dict[str, str], method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _pit(cwd: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    return subprocess.Popen(
        [sys.executable, "-m", "pit", *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_pit_dev_wires_a_codec_server_into_the_ui_it_starts(tmp_path: Path) -> None:
    with _pit(tmp_path, "dev", "--json") as dev:
        try:
            assert dev.stdout is not None
            ready = json.loads(dev.stdout.readline())
            ui, codec = ready["ui_url"], ready["codec_url"]
            assert codec.startswith("http://127.0.0.1:")
            _, _, settings = _get(f"{ui}/api/v1/settings", {})
            preflight = _get(
                f"{codec}/decode",
                {"Origin": ui, "Access-Control-Request-Method": "POST"},
                "OPTIONS",
            )
            elsewhere = _get(
                f"{codec}/decode",
                {"Origin": "http://127.0.0.1:1", "Access-Control-Request-Method": "POST"},
                "OPTIONS",
            )
        finally:
            dev.send_signal(signal.SIGINT)
            dev.wait(timeout=60)
    assert json.loads(settings)["Codec"]["Endpoint"] == codec
    assert preflight[0] == 204 and preflight[1]["Access-Control-Allow-Origin"] == ui
    assert elsewhere[0] == 403


def test_pit_codec_server_says_where_it_listens_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    with _pit(
        tmp_path, "codec-server", "--port", "0", "--origin", "http://ui:1", PIT_CODEC__TOKEN="t0ken"
    ) as server:
        assert server.stdout is not None and server.stderr is not None
        first = server.stdout.readline()
        url = first.split()[2].rstrip(";")
        unauthorized = _get(f"{url}/decode", {"X-Namespace": "default"}, "POST")
        server.send_signal(signal.SIGINT)
        code = server.wait(timeout=30)
        err = server.stderr.read()
    assert first.startswith("pit codec-server: http://127.0.0.1:")
    assert "namespace 'default'" in first and "http://ui:1" in first and "token: required" in first
    assert unauthorized[0] == 401
    assert code == 0 and "Traceback" not in err
