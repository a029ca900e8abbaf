"""Every command that reads a user file, fed every kind of hostile file: one line on stderr
naming the file and the limit, exit code 2, nothing created."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pit.common.files import (
    MAX_ALIAS_VALUES,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    MAX_JSON_BYTES,
    MAX_TRACE_BYTES,
    MAX_YAML_BYTES,
)
from pit.common.validation import EARLIEST_NOW, LATEST_NOW, MAX_SECONDS, MAX_SIZE
from tests.cli_errors import hostile
from tests.cli_errors.hostile import READERS, Hostile, Reader
from tests.cli_errors.support import ROOT, assert_one_line, pit_in_process, pit_subprocess

CASES = [
    pytest.param(reader, bad, id=f"{reader.name}-{bad.name}")
    for reader in READERS
    for bad in reader.hostile
]


def _refused(reader: Reader, content: hostile.Content, says: str, home: Path) -> None:
    path = reader.path_in(home)
    hostile.write(path, content)
    argv, env = reader.command(path)
    code, err = pit_in_process(argv, home, env)
    assert_one_line(code, err, 2, says)
    if reader.file_name is None:  # pit.toml is found by its name; the line names its path
        assert str(path) in err or path.name in err
    assert not (home / ".pit").exists(), "a refused command created the state directory"


@pytest.mark.parametrize(("reader", "bad"), CASES)
def test_every_reader_refuses_every_hostile_file_in_one_line(
    reader: Reader, bad: Hostile, tmp_path: Path
) -> None:
    _refused(reader, bad.content, bad.says, tmp_path)


_YAML_READERS = [r for r in READERS if r.suffix == ".yaml"]
_documents = st.one_of(
    st.builds(
        lambda fanout, levels: (hostile.laughs(fanout, levels), "aliases expand to"),
        st.integers(10, 40),
        st.integers(5, 7),
    ),
    st.builds(
        lambda depth: (hostile.deep_yaml(depth), f"nested deeper than {MAX_DEPTH}"),
        st.integers(MAX_DEPTH + 1, 6000),
    ),
    st.builds(
        lambda digits: (hostile.long_int_yaml(digits), f"more than {MAX_INT_DIGITS} digits"),
        st.integers(MAX_INT_DIGITS + 1, 20_000),
    ),
    st.builds(
        lambda offset, byte: (hostile.bad_byte(offset, byte), f"at offset {offset} (line 1)"),
        st.integers(0, 20),
        st.sampled_from([b"\x80", b"\xc0", b"\xc3", b"\xed\xa0\x80", b"\xf8", b"\xff"]),
    ),
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(_YAML_READERS), _documents)
def test_generated_hostile_documents_are_refused_in_one_line(
    reader: Reader, document: tuple[bytes, str]
) -> None:
    content, says = document
    with tempfile.TemporaryDirectory() as home:
        _refused(reader, content, says, Path(home))


def test_the_readme_states_the_limits_the_code_enforces() -> None:
    readme = (ROOT / "README.md").read_text()
    limits = readme[readme.index("## Limits") :]
    assert f"| {MAX_YAML_BYTES // 1024**2} MiB |" in limits
    assert f"| {MAX_JSON_BYTES // 1024**2} MiB |" in limits
    assert f"| {MAX_TRACE_BYTES // 1024**2} MiB |" in limits
    assert f"| {MAX_DEPTH} levels |" in limits
    assert f"at most {MAX_ALIAS_VALUES:,} values" in limits
    assert f"| {MAX_INT_DIGITS} digits" in limits
    assert f"0 to {MAX_SECONDS // 86400}d (100 years)" in limits
    assert f"from {EARLIEST_NOW.year} to {LATEST_NOW.year - 1}" in limits
    assert MAX_SIZE == 8 * 1024**6 - 1 and "0 to 8 EiB" in limits


@pytest.mark.integration
@pytest.mark.parametrize(
    ("argv_file", "content", "says"),
    [
        (("run", "{}"), hostile.laughs(), "aliases expand to"),
        (("run", "{}"), hostile.deep_yaml(), "nested deeper"),
        (("arbitrate", "{}"), hostile.long_int_yaml(), "digits"),
        (("stale", "plan", "--policy", "{}"), hostile.bad_byte(), "not UTF-8"),
        (("--config", "{}", "ping"), hostile.deep_toml(), "nested deeper"),
    ],
    ids=["laughs", "deep", "long-int", "not-utf8", "deep-toml"],
)
def test_as_a_process_no_traceback_reaches_stderr(
    tmp_path: Path, argv_file: tuple[str, ...], content: bytes, says: str
) -> None:
    path = tmp_path / ("input.toml" if "--config" in argv_file else "input.yaml")
    path.write_bytes(content)
    argv = [str(path) if part == "{}" else part for part in argv_file]
    result = pit_subprocess(argv, tmp_path, timeout=60)  # a spin would time out
    assert_one_line(result.returncode, result.stderr, 2, says)
    assert not (tmp_path / ".pit").exists()
