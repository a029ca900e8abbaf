"""Configuration: one `Settings` object, read once at start-up and passed down.

Sources, highest first: CLI flags > `PIT_*` environment > `pit.toml` (from `--config`, else
the working directory) > defaults. Nested keys use `__` in the environment:
`PIT_TEMPORAL__ADDRESS=host:7233` sets `[temporal] address`. A bad or unknown key fails at
start-up with one line naming the key, where it came from, the value and the rule.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from pit.common.errors import ConfigError, InvalidInputError
from pit.common.files import (
    MAX_DEPTH,
    MAX_INT_DIGITS,
    check_depth,
    parse_json,
    read_text,
    shown,
)
from pit.common.validation import ByteSize, Duration

ENV_PREFIX = "PIT_"
ENV_NESTED = "__"
CONFIG_FILE_NAME = "pit.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TemporalSettings(_Section):
    """Where Temporal is. No address: `pit` starts an embedded dev server."""

    address: str | None = Field(
        default=None, description="host:port of a Temporal frontend; unset = embedded"
    )
    namespace: str = Field(default="default", min_length=1)
    task_queue: str = Field(default="pit", min_length=1)
    tls: bool = False
    tls_server_ca: Path | None = None
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None
    tls_server_name: str | None = None
    api_key: SecretStr | None = None
    connect_timeout: Duration = timedelta(seconds=5)
    reconnect_timeout: Duration = Field(
        default=timedelta(minutes=5),
        description="how long a command waiting on a run retries a server that went away",
    )
    ui_port: int | None = Field(default=None, ge=1, le=65535)
    port: int | None = Field(default=None, ge=1, le=65535)
    graceful_shutdown: Duration = timedelta(seconds=30)
    max_concurrent_activities: int = Field(default=100, ge=1)
    embedded_sync: Literal["normal", "full"] = Field(
        default="normal",
        description="the embedded server's SQLite sync: normal survives a crash of pit or "
        "the server; full also survives a power cut (slower; docs/performance.md)",
    )

    @field_validator("address")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        match = _ADDRESS.fullmatch(value) if value is not None else None
        if value is not None and (match is None or not 0 < int(match.group(1)) < 65536):
            raise ValueError(
                "must be HOST:PORT (a host name, an IPv4 address or [IPv6], port 1-65535)"
            )
        return value


_ADDRESS = re.compile(
    r"(?:\[[0-9A-Fa-f:.]+\]"  # [IPv6]
    r"|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"  # a host name or IPv4 address
    r":(\d{1,5})"
)


class StorageSettings(_Section):
    """Where artifact bytes and manifests live."""

    url: str | None = Field(default=None, description="file:///path, a path, or s3://bucket/prefix")
    s3_endpoint: str | None = None
    s3_region: str | None = None


class CodecSettings(_Section):
    """`pit codec-server`: Temporal's codec endpoints for the web UI and the `temporal` CLI."""

    host: str = Field(default="127.0.0.1", min_length=1)
    """Loopback unless told otherwise; another address needs a `token`."""
    port: int = Field(default=8234, ge=0, le=65535)
    origins: list[str] = Field(default_factory=list)
    """The web UI origins it answers (e.g. `https://temporal-ui.example.com`); `pit dev`
    adds its own UI's."""
    token: SecretStr | None = None
    """The bearer token every request must carry (the UI forwards its access token)."""


class SearchSettings(_Section):
    """Where the artifact index lives (derived data, rebuildable)."""

    url: str | None = Field(default=None, description="sqlite:///path or https://opensearch:9200")
    index_prefix: str = "pit"


class PoolSettings(_Section):
    """The models this worker hosts. No `models_file`: it hosts none."""

    models_file: Path | None = Field(
        default=None, description="YAML list of {id, memory_bytes, load_seconds, loader}"
    )
    host: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
        description="this host's name in the registry; default: the machine's hostname",
    )
    memory_budget: ByteSize = Field(default=8 * 1024**3, ge=0)
    host_memory_budget: ByteSize = Field(
        default=0, ge=0, description="host memory for models a runtime put to sleep; 0: none"
    )
    capacity_wait: Duration = timedelta(0)
    health_interval: Duration = timedelta(milliseconds=250)
    prewarm: bool = True
    publish_interval: Duration = Field(default=timedelta(seconds=2), gt=timedelta(0))


class ArbitrationSettings(_Section):
    strategy: Literal["priority", "round_robin", "weighted_fair", "collaborative"] = "priority"
    aging_interval: Duration = timedelta(seconds=10)
    memory_pressure: float = Field(default=0.9, gt=0, le=1)


class StaleSettings(_Section):
    grace_period: Duration = timedelta(days=7)
    half_life: Duration = timedelta(days=14)


class TelemetrySettings(_Section):
    """What a worker tells operators: Prometheus metrics, OpenTelemetry traces."""

    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="serve Prometheus metrics here; unset = none"
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="the address the metrics endpoint binds (an IP address)"
    )
    otlp_endpoint: str | None = Field(
        default=None, description="http(s)://host:port of an OTLP/HTTP collector; unset = no traces"
    )
    service_name: str = Field(default="pit", min_length=1, max_length=100)

    @field_validator("metrics_host")
    @classmethod
    def _an_ip_address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("must be an IP address (127.0.0.1, 0.0.0.0, ::1)") from None
        return value

    @field_validator("otlp_endpoint")
    @classmethod
    def _an_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        url = urllib.parse.urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
            raise ValueError("must be an http:// or https:// URL of an OTLP/HTTP collector")
        try:
            url.port  # noqa: B018  (parses the port: raises on one out of range)
        except ValueError:
            raise ValueError("must be an http:// or https:// URL with a port 1-65535") from None
        return value.rstrip("/")


class Settings(BaseSettings):
    """Everything the Pit reads at start-up. Build it with `load_settings`."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    state_dir: Path = Path(".pit")
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    temporal: TemporalSettings = TemporalSettings()
    storage: StorageSettings = StorageSettings()
    codec: CodecSettings = CodecSettings()
    search: SearchSettings = SearchSettings()
    pool: PoolSettings = PoolSettings()
    arbitration: ArbitrationSettings = ArbitrationSettings()
    stale: StaleSettings = StaleSettings()
    telemetry: TelemetrySettings = TelemetrySettings()

    @field_validator("state_dir")
    @classmethod
    def _a_directory(cls, value: Path) -> Path:
        # checked up front: a file in the way would otherwise surface in whichever command
        # first creates something there, as an OSError about some file inside it
        for place in (value, *value.parents):
            if place.exists():
                if not place.is_dir():
                    raise ValueError(f"{place} exists and is not a directory")
                break
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings merges the sources itself so that an error can name its source
        return (init_settings,)


# where each leaf value came from, e.g. ("temporal", "address") -> "PIT_TEMPORAL__ADDRESS"
_Origins = dict[tuple[str, ...], str]


def load_settings(
    *,
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    flags: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Merge defaults < pit.toml < PIT_* environment < `overrides` (CLI flags) and validate.

    `overrides` use dotted keys (`{"temporal.address": "host:7233"}`); a None value means
    the flag was not given. `flags` names the CLI flag of each override, for error messages.
    `cwd`: the directory the settings are for (default: the process's); its pit.toml is
    read, and a relative `state_dir` lies under it.
    """
    environ = os.environ if environ is None else environ
    under = cwd
    cwd = Path.cwd() if cwd is None else cwd
    merged: dict[str, Any] = {}
    origins: _Origins = {}

    toml_path = config_file if config_file is not None else cwd / CONFIG_FILE_NAME
    if config_file is not None and not config_file.is_file():
        raise ConfigError.for_field("--config", str(config_file), "must be an existing TOML file")
    if toml_path.is_file():
        _merge(merged, origins, _read_toml(toml_path), (), f"{toml_path}: ")

    for name in sorted(environ):
        if name.startswith(ENV_PREFIX):
            path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split(ENV_NESTED))
            _merge(merged, origins, _nest(path, _env_value(name, environ[name])), (), "")
            origins[path] = name

    for dotted, value in (overrides or {}).items():
        if value is not None:
            path = tuple(dotted.split("."))
            _merge(merged, origins, _nest(path, value), (), "")
            origins[path] = (flags or {}).get(dotted, "--" + dotted.replace("_", "-"))

    state_dir = merged.get("state_dir", Settings.model_fields["state_dir"].default)
    if (
        under is not None
        and isinstance(state_dir, str | Path)
        and not Path(state_dir).is_absolute()
    ):
        merged["state_dir"] = under / state_dir
    try:
        return Settings(**merged)
    except pydantic.ValidationError as error:
        raise _config_error(error, origins) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = read_text(path, "--config")
    except InvalidInputError as error:
        raise ConfigError(error.message, field=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}", field=str(path)) from None
    except ValueError:  # tomllib lets Python's own refusal of an over-long integer through
        problem = f"an integer of more than {MAX_INT_DIGITS} digits"
        raise ConfigError(f"{path}: not valid TOML: {problem}", field=str(path)) from None
    except RecursionError:
        problem = f"nested deeper than {MAX_DEPTH} levels"
        raise ConfigError(f"{path}: not valid TOML: {problem}", field=str(path)) from None
    try:
        check_depth(data, str(path), "not valid TOML: ")
    except InvalidInputError as error:
        raise ConfigError(error.message, field=str(path)) from None
    return data


def _env_value(name: str, raw: str) -> Any:
    # lists and tables may be given as JSON; everything else stays a string for pydantic
    if raw[:1] not in "[{":
        return raw
    try:
        return parse_json(raw, name)
    except InvalidInputError:  # left as text, pydantic says what it should have been
        return raw


def _nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    nested: Any = value
    for key in reversed(path):
        nested = {key: nested}
    result: dict[str, Any] = nested
    return result


def _merge(
    into: dict[str, Any], origins: _Origins, data: Mapping[str, Any], at: tuple[str, ...], src: str
) -> None:
    for key, value in data.items():
        path = (*at, key)
        if isinstance(value, Mapping):
            section = into.get(key)
            if not isinstance(section, dict):
                section = into[key] = {}
            _merge(section, origins, value, path, src)
            continue
        into[key] = value
        if src:
            origins[path] = src + ".".join(path)


def _config_error(error: pydantic.ValidationError, origins: _Origins) -> ConfigError:
    first = error.errors()[0]
    path = tuple(str(part) for part in first["loc"])
    key = ".".join(path)
    source = origins.get(path) or next(
        (origins[p] for p in origins if p[: len(path)] == path or path[: len(p)] == p), key
    )
    rule = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    rule = rule.removeprefix("Value error, ")
    where = key if source == key else f"{key} (from {source})"
    return ConfigError(
        f"config: {where}: {shown(first.get('input'))}: {rule}",
        field=key,
        source=source,
        value=shown(first.get("input")),
        rule=rule,
    )


def describe_sources(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain JSON data, secrets masked (for `pit config show`)."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    if settings.temporal.api_key is not None:
        data["temporal"]["api_key"] = "**********"
    return data
