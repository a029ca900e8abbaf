"""docker-compose.yml wires a worker that the Pit's own config accepts."""

from __future__ import annotations

from pathlib import Path

import yaml

from pit.common.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_dependency_names_a_service() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_stack_has_the_production_pieces() -> None:
    services = _compose()["services"]
    assert {"temporal", "temporal-ui", "postgresql", "minio", "opensearch", "worker"} <= set(
        services
    )
    assert services["worker"]["build"] == "."
    assert services["temporal"]["environment"]["DB"].startswith("postgres")


def test_worker_environment_is_valid_pit_config(tmp_path: Path) -> None:
    environment = _compose()["services"]["worker"]["environment"]
    settings = load_settings(environ=environment, cwd=tmp_path)
    assert settings.temporal.address == "temporal:7233"
    assert settings.storage.url is not None and settings.storage.url.startswith("s3://")
    assert settings.search.url == "http://opensearch:9200"
    services = _compose()["services"]
    for host in ("temporal", "minio", "opensearch"):
        assert host in services
