"""Config precedence (flags > PIT_* env > pit.toml > defaults) and errors that name the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pit.common.config import load_settings
from pit.common.errors import ConfigError


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pit.toml"
    path.write_text(text)
    return path


def test_defaults_without_any_source(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.temporal.address is None
    assert settings.temporal.namespace == "default"
    assert settings.state_dir == tmp_path / ".pit"
    assert load_settings(environ={}).state_dir == Path(".pit")  # the process's own cwd


def test_a_relative_state_dir_lies_under_the_directory_the_settings_are_for(
    tmp_path: Path,
) -> None:
    _toml(tmp_path, 'state_dir = "state/here"\n')
    assert load_settings(environ={}, cwd=tmp_path).state_dir == tmp_path / "state" / "here"
    elsewhere = tmp_path / "abs"
    settings = load_settings(environ={"PIT_STATE_DIR": str(elsewhere)}, cwd=tmp_path)
    assert settings.state_dir == elsewhere


def test_toml_in_working_dir_beats_defaults(tmp_path: Path) -> None:
    _toml(tmp_path, '[temporal]\naddress = "toml:7233"\nnamespace = "from-toml"\n')
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.temporal.address == "toml:7233"
    assert settings.temporal.namespace == "from-toml"


def test_env_beats_toml_and_keeps_other_toml_keys(tmp_path: Path) -> None:
    _toml(tmp_path, '[temporal]\naddress = "toml:7233"\nnamespace = "from-toml"\n')
    settings = load_settings(environ={"PIT_TEMPORAL__ADDRESS": "env:7233"}, cwd=tmp_path)
    assert settings.temporal.address == "env:7233"
    assert settings.temporal.namespace == "from-toml"


def test_flags_beat_env_and_toml(tmp_path: Path) -> None:
    _toml(tmp_path, '[temporal]\naddress = "toml:7233"\n')
    settings = load_settings(
        environ={"PIT_TEMPORAL__ADDRESS": "env:7233"},
        overrides={"temporal.address": "flag:7233", "temporal.namespace": None},
        cwd=tmp_path,
    )
    assert settings.temporal.address == "flag:7233"
    assert settings.temporal.namespace == "default"  # a flag not given changes nothing


def test_explicit_config_file_replaces_the_working_dir_one(tmp_path: Path) -> None:
    _toml(tmp_path, '[temporal]\nnamespace = "cwd"\n')
    other = tmp_path / "other.toml"
    other.write_text('[temporal]\nnamespace = "explicit"\n')
    settings = load_settings(config_file=other, environ={}, cwd=tmp_path)
    assert settings.temporal.namespace == "explicit"


def test_durations_and_sizes_parse_from_every_source(tmp_path: Path) -> None:
    _toml(tmp_path, '[pool]\nmemory_budget = "2GiB"\n')
    settings = load_settings(environ={"PIT_TEMPORAL__CONNECT_TIMEOUT": "1m30s"}, cwd=tmp_path)
    assert settings.pool.memory_budget == 2 * 1024**3
    assert settings.temporal.connect_timeout == timedelta(seconds=90)


def test_bad_env_value_names_variable_value_and_rule(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"PIT_TEMPORAL__CONNECT_TIMEOUT": "soon"}, cwd=tmp_path)
    message = caught.value.message
    assert "temporal.connect_timeout" in message
    assert "PIT_TEMPORAL__CONNECT_TIMEOUT" in message
    assert "'soon'" in message
    assert "duration" in message


def test_unknown_toml_key_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[temporal]\nadress = "typo:7233"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, cwd=tmp_path)
    assert "temporal.adress" in caught.value.message
    assert str(path) in caught.value.message
    assert "unknown key" in caught.value.message


def test_unknown_env_variable_under_prefix_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PIT_TEMPORAL__ADRESS"):
        load_settings(environ={"PIT_TEMPORAL__ADRESS": "x"}, cwd=tmp_path)


def test_bad_flag_value_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--namespace"):
        load_settings(
            environ={},
            overrides={"temporal.namespace": ""},
            flags={"temporal.namespace": "--namespace"},
            cwd=tmp_path,
        )


def test_invalid_toml_is_refused_with_its_path(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[temporal\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(environ={}, cwd=tmp_path)
    assert path.exists()


def test_missing_explicit_config_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config"):
        load_settings(config_file=tmp_path / "absent.toml", environ={}, cwd=tmp_path)


def test_unrelated_environment_is_ignored(tmp_path: Path) -> None:
    settings = load_settings(environ={"PATH": "/bin", "PITFALL": "x"}, cwd=tmp_path)
    assert settings.temporal.address is None
