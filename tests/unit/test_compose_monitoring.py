"""The compose stack's Prometheus finds every worker replica, and its Grafana dashboard reads
the metrics Pit documents."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

PIT_METRICS = (
    "pit_dag_node_duration_seconds",
    "pit_pool_hits_total",
    "pit_pool_cold_starts_total",
    "pit_pool_memory_bytes",
    "pit_arbiter_wait_seconds",
    "pit_arbiter_waiting",
    "pit_artifact_bytes_total",
)
"""The metric names issue 14 documents for `pit worker --metrics-port`."""

SDK_METRICS = (
    "temporal_workflow_task_execution_latency_seconds",
    "temporal_workflow_task_schedule_to_start_latency_seconds",
    "temporal_activity_schedule_to_start_latency_seconds",
    "temporal_activity_execution_latency_seconds",
    "temporal_worker_task_slots_available",
)
"""As a Pit worker names them (seconds, `_total` counters: `pit.infra.telemetry.prometheus`);
tests/telemetry/test_metrics.py scrapes a worker for every name the dashboard reads."""


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def _jobs() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


def _dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (DEPLOY / "grafana/dashboards/pit-workers.json").read_text()
    )
    return document


def _expressions() -> list[str]:
    return [
        target["expr"] for panel in _dashboard()["panels"] for target in panel.get("targets", [])
    ]


def test_prometheus_discovers_every_worker_replica_on_the_telemetry_port() -> None:
    discovery = _jobs()["pit-worker"]["dns_sd_configs"]
    telemetry = _compose()["x-pit-telemetry"]
    # one DNS name answers with every replica: scaling needs no change in the config
    assert discovery == [
        {
            "names": ["worker"],
            "type": "A",
            "port": int(telemetry["PIT_TELEMETRY__METRICS_PORT"]),
            "refresh_interval": "15s",
        }
    ]
    assert telemetry["PIT_TELEMETRY__METRICS_HOST"] == "0.0.0.0"  # reachable from prometheus


def test_prometheus_scrapes_the_temporal_server_where_it_serves_metrics() -> None:
    endpoint = _compose()["services"]["temporal"]["environment"]["PROMETHEUS_ENDPOINT"]
    port = endpoint.rsplit(":", 1)[1]
    assert _jobs()["temporal"]["static_configs"] == [{"targets": [f"temporal:{port}"]}]
    assert port in _compose()["services"]["temporal"]["expose"]


def test_grafana_mounts_what_its_provisioning_points_at() -> None:
    grafana = _compose()["services"]["grafana"]
    mounts = dict(volume.split(":")[1::-1] for volume in grafana["volumes"])  # target -> source
    provisioning = "/etc/grafana/provisioning"
    assert (ROOT / mounts[f"{provisioning}/dashboards"] / "pit.yml").is_file()
    assert (ROOT / mounts[f"{provisioning}/datasources"] / "prometheus.yml").is_file()
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/pit.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert (ROOT / mounts[path] / "pit-workers.json").is_file()
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{path}/pit-workers.json"
    sources = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"


def test_dashboard_charts_every_documented_metric() -> None:
    expressions = "\n".join(_expressions())
    for metric in (*PIT_METRICS, *SDK_METRICS):
        assert re.search(rf"\b{metric}(_bucket|_count|_sum)?\{{", expressions), metric


def test_dashboard_queries_only_the_chosen_workers_through_the_chosen_source() -> None:
    dashboard = _dashboard()
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["instance"]["includeAll"] is True
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["description"], f"{panel['title']}: say what the panel shows"
        for target in panel["targets"]:
            expr = target["expr"]
            assert expr.count("(") == expr.count(")"), expr
            if "up{" not in expr:
                assert 'instance=~"$instance"' in expr, expr
            if "rate(" in expr:
                assert "[$__rate_interval]" in expr, expr


def test_dashboard_panels_sit_on_the_grid_without_overlapping() -> None:
    panels = _dashboard()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        box = panel["gridPos"]
        assert box["x"] >= 0 and box["x"] + box["w"] <= 24, panel["title"]
        covered = {
            (x, y)
            for x in range(box["x"], box["x"] + box["w"])
            for y in range(box["y"], box["y"] + box["h"])
        }
        assert not covered & cells, f"{panel['title']} overlaps another panel"
        cells |= covered


def test_durations_are_charted_in_seconds_as_workers_serve_them() -> None:
    for panel in _dashboard()["panels"]:
        expressions = " ".join(target["expr"] for target in panel.get("targets", []))
        if "_seconds_bucket" in expressions:
            assert panel["fieldConfig"]["defaults"]["unit"] == "s", panel["title"]
