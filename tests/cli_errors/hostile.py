"""Hostile files, and the commands that read each kind of file.

A reader is a command line with a `{}` where the file goes; a format says which hostile
documents make sense for it (YAML aliases mean nothing to TOML) and what the one line must
say about each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pit.common.files import (
    MAX_DEPTH,
    MAX_INT_DIGITS,
    MAX_JSON_BYTES,
    MAX_TRACE_BYTES,
    MAX_YAML_BYTES,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODELS = EXAMPLES / "pool" / "periodic.models.yaml"
TRACE = EXAMPLES / "pool" / "periodic.trace.jsonl"
POLICY = EXAMPLES / "stale" / "default.yaml"


def laughs(fanout: int = 10, levels: int = 9) -> bytes:
    lines = [f"l0: &l0 [{', '.join(['lol'] * fanout)}]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * fanout)}]")
    return ("\n".join(lines) + "\n").encode()


def deep_yaml(depth: int = 5000) -> bytes:
    return f"name: x\nnodes: {'[' * depth}{']' * depth}\n".encode()


def deep_json(depth: int = 5000) -> bytes:
    return f'{{"name": "x", "nodes": {"[" * depth}{"]" * depth}}}\n'.encode()


def deep_toml(depth: int = 5000) -> bytes:
    return f"state_dir = {'[' * depth}{']' * depth}\n".encode()


def long_int_yaml(digits: int = MAX_INT_DIGITS + 700) -> bytes:
    return f"name: x\nnodes: {'9' * digits}\n".encode()


def long_int_json(digits: int = MAX_INT_DIGITS + 700) -> bytes:
    return f'{{"t": {"9" * digits}, "model": "p-00"}}\n'.encode()


def long_int_toml(digits: int = MAX_INT_DIGITS + 700) -> bytes:
    return f"[temporal]\nport = {'9' * digits}\n".encode()


def bad_byte(offset: int = 9, byte: bytes = b"\xff") -> bytes:
    good = b'{"t": 1, "model": "p-00"}\n'
    return good[:offset] + byte + good[offset:]


def oversized(limit: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with path.open("wb") as handle:
            handle.truncate(limit + 1)  # sparse: no disk used

    return write


Content = bytes | Callable[[Path], None]


@dataclass(frozen=True)
class Hostile:
    name: str
    content: Content
    says: str
    """A fragment the one line must contain."""


YAML = [
    Hostile("billion-laughs", laughs(), "aliases expand to"),
    Hostile("deep", deep_yaml(), f"nested deeper than {MAX_DEPTH} levels"),
    Hostile("long-int", long_int_yaml(), f"more than {MAX_INT_DIGITS} digits"),
    Hostile("not-utf8", bad_byte(), "not UTF-8: byte 0xff at offset 9 (line 1)"),
    Hostile("oversized", oversized(MAX_YAML_BYTES), "larger than 1 MiB"),
]
JSON = [
    Hostile("deep", deep_json(), f"nested deeper than {MAX_DEPTH} levels"),
    Hostile("long-int", long_int_json(), f"more than {MAX_INT_DIGITS} digits"),
    Hostile("not-utf8", bad_byte(), "not UTF-8: byte 0xff at offset 9 (line 1)"),
    Hostile("oversized", oversized(MAX_JSON_BYTES), "larger than 16 MiB"),
]
TRACE_LINES = [
    Hostile("deep", deep_json(), f"nested deeper than {MAX_DEPTH} levels"),
    Hostile("long-int", long_int_json(), f"more than {MAX_INT_DIGITS} digits"),
    Hostile("not-utf8", bad_byte(), "not UTF-8: byte 0xff at offset 9 (line 1)"),
    Hostile("oversized", oversized(MAX_TRACE_BYTES), "larger than 64 MiB"),
]
TOML = [
    Hostile("deep", deep_toml(), f"nested deeper than {MAX_DEPTH} levels"),
    Hostile("deep-within-recursion", deep_toml(150), f"nested deeper than {MAX_DEPTH} levels"),
    Hostile("long-int", long_int_toml(), f"more than {MAX_INT_DIGITS} digits"),
    Hostile("not-utf8", bad_byte(), "not UTF-8: byte 0xff at offset 9 (line 1)"),
    Hostile("oversized", oversized(MAX_YAML_BYTES), "larger than 1 MiB"),
]


@dataclass(frozen=True)
class Reader:
    """A command that reads a user file: `argv` with "{}" where the file goes."""

    name: str
    argv: tuple[str, ...]
    suffix: str
    hostile: tuple[Hostile, ...]
    env_var: str | None = None
    """The file is given in this environment variable instead of on the command line."""
    file_name: str | None = None
    """The file is found by this name in the working directory (pit.toml)."""

    def path_in(self, directory: Path) -> Path:
        return directory / (self.file_name or f"input{self.suffix}")

    def command(self, path: Path) -> tuple[list[str], dict[str, str]]:
        if self.env_var is not None:
            return list(self.argv), {self.env_var: str(path)}
        return [str(path) if part == "{}" else part for part in self.argv], {}


READERS = [
    Reader("run", ("run", "{}"), ".yaml", tuple(YAML)),
    Reader("run-json", ("run", "{}"), ".json", tuple(JSON)),
    Reader("dag-resume", ("dag", "resume", "earlier-run", "--file", "{}"), ".yaml", tuple(YAML)),
    Reader("arbitrate", ("arbitrate", "{}"), ".yaml", tuple(YAML)),
    Reader("stale-plan", ("stale", "plan", "--policy", "{}"), ".yaml", tuple(YAML)),
    Reader("stale-plan-json", ("stale", "plan", "--policy", "{}"), ".json", tuple(JSON)),
    Reader("stale-score", ("stale", "score", "a/b", "--policy", "{}"), ".yaml", tuple(YAML)),
    Reader("stale-schedule", ("stale", "schedule", "--policy", "{}"), ".yaml", tuple(YAML)),
    Reader(
        "pool-models",
        ("pool", "simulate", "--models", "{}", "--trace", str(TRACE), "--budget", "24GiB"),
        ".yaml",
        tuple(YAML),
    ),
    Reader(
        "pool-trace",
        ("pool", "simulate", "--models", str(MODELS), "--trace", "{}", "--budget", "24GiB"),
        ".jsonl",
        tuple(TRACE_LINES),
    ),
    Reader("config", ("--config", "{}", "config", "show"), ".toml", tuple(TOML)),
    Reader("pit.toml", ("config", "show"), ".toml", tuple(TOML), file_name="pit.toml"),
    Reader("dev-models", ("dev", "--no-ui"), ".yaml", tuple(YAML), "PIT_POOL__MODELS_FILE"),
    Reader("worker-models", ("worker",), ".yaml", tuple(YAML), "PIT_POOL__MODELS_FILE"),
]


def write(path: Path, content: Content) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        content(path)
