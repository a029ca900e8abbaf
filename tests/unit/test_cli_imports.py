"""A command imports only what it uses: `pit --help` and local work never load Temporal, S3 or
the search server's client (checked by `sys.modules`, not by timing)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pit.cli._app import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("temporalio", "aiobotocore", "botocore", "opensearchpy", "aiohttp", "rich")
PROBE = """
import json, sys
from pit.cli import run
code = run(sys.argv[1:])
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(HEAVY)))
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def heavy_modules(args: list[str], cwd: Path) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.replace("HEAVY", repr(json.dumps(HEAVY))), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], report["loaded"]


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["--help"], []),
        (["artifact", "--help"], []),
        (["artifact", "put", "doc", "doc.txt", "--store", "store"], []),
        (["artifact", "get", "doc", "--store", "store"], []),
        (["arbitrate", str(ROOT / "examples/arbitration/issue.yaml")], []),
        (
            [
                "pool",
                "simulate",
                "--models",
                str(ROOT / "examples/pool/zipf.models.yaml"),
                "--trace",
                str(ROOT / "examples/pool/zipf.trace.jsonl"),
                "--budget",
                "24GiB",
            ],
            [],
        ),
        (["config", "show"], []),
    ],
    ids=[
        "help",
        "artifact-help",
        "artifact-put",
        "artifact-get",
        "arbitrate",
        "simulate",
        "config",
    ],
)
def test_a_local_command_loads_no_backend_client(
    args: list[str], allowed: list[str], tmp_path: Path
) -> None:
    (tmp_path / "doc.txt").write_text("some text")
    if args[:2] == ["artifact", "get"]:
        heavy_modules(["artifact", "put", "doc", "doc.txt", "--store", "store"], tmp_path)
    code, loaded = heavy_modules(args, tmp_path)
    assert code == 0
    assert loaded == allowed


def test_a_temporal_command_loads_temporal_only_when_it_runs(tmp_path: Path) -> None:
    code, loaded = heavy_modules(["dag", "status", "--help"], tmp_path)
    assert code == 0 and "aiobotocore" not in loaded


def test_the_command_table_names_every_command_of_the_modules() -> None:
    for modules, _ in COMMANDS.values():
        for module in modules:
            importlib.import_module(module)
    assert set(cli.commands) == set(COMMANDS)
    for name, (_, shown) in COMMANDS.items():
        full = " ".join((cli.commands[name].help or "").split())
        assert full.startswith(shown.removesuffix("...")), (name, shown, full[:80])
