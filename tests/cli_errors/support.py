"""Running `pit` the two ways these tests need, and the one assertion they all make."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from pit.cli import run

ROOT = Path(__file__).resolve().parents[2]


def pit_in_process(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """Run `pit` in this process (fast): its exit code and what it printed on stderr."""
    err = io.StringIO()
    saved = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("PIT_")}
    os.environ.update(env or {})
    try:
        with (
            contextlib.chdir(cwd),
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            code = run(list(argv))
    finally:
        for name in [name for name in os.environ if name.startswith("PIT_")]:
            del os.environ[name]
        os.environ.update(saved)
    return code, err.getvalue()


def pit_subprocess(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `pit` as a user does; `timeout` only guards against a hang."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pit", *argv],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line(code: int, stderr: str, expected_code: int, *fragments: str) -> str:
    """Exactly one line on stderr, no traceback, the expected exit code, and each fragment."""
    assert "Traceback" not in stderr, stderr
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert code == expected_code, (code, stderr)
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr)
    return stderr
