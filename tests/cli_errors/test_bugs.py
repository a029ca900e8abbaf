"""A bug (an exception nobody planned for) is one line with the path of its traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_errors.support import ROOT, assert_one_line

_BROKEN_PIT = """
import sys
import pit.cli.config_cmd as config_cmd

def broken(settings):
    return {"x": 1} / 0

config_cmd.describe_sources = broken
from pit.cli import main
sys.argv = ["pit", "config", "show"]
main()
"""


@pytest.mark.integration
def test_a_bug_prints_one_line_and_keeps_the_traceback_in_a_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _BROKEN_PIT],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = assert_one_line(result.returncode, result.stderr, 1, "pit: internal error: TypeError")
    match = re.search(r"the traceback is in (\S+\.log)\)$", line.strip())
    assert match is not None, line
    saved = Path(match.group(1))
    try:
        text = saved.read_text()
    finally:
        saved.unlink()
    assert "Traceback (most recent call last)" in text
    assert "def broken" not in line and "in broken" in text
