"""The Superset bundle in superset/assets is consistent on its own and with dbt: every link
by UUID resolves, no password is stored, dataset columns exist in the marts' contracts, and the
dbt exposures name exactly the marts each dashboard reads."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from scoring import settings
from scoring.dashboards import service

ASSETS = service.ASSETS_DIR


def load(kind: str) -> dict[str, dict[str, Any]]:
    return {
        path.relative_to(ASSETS).as_posix(): yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted((ASSETS / kind).rglob("*.yaml"))
    }


DATABASES, DATASETS = load("databases"), load("datasets")
CHARTS, DASHBOARDS = load("charts"), load("dashboards")


def by_uuid(configs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {config["uuid"]: config for config in configs.values()}


def chart_nodes(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        node
        for node in dashboard["position"].values()
        if isinstance(node, dict) and node.get("type") == "CHART"
    ]


def mart_contracts() -> dict[str, set[str]]:
    columns = {}
    for path in (settings.DBT_PROJECT_DIR / "models" / "marts").rglob("_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            columns[model["name"]] = {column["name"] for column in model.get("columns", [])}
    return columns


def test_metadata_declares_an_assets_bundle() -> None:
    metadata = yaml.safe_load((ASSETS / "metadata.yaml").read_text())
    assert metadata["version"] == "1.0.0" and metadata["type"] == "assets"


def test_uuids_are_unique_and_links_resolve() -> None:
    everything = [*DATABASES.values(), *DATASETS.values(), *CHARTS.values(), *DASHBOARDS.values()]
    uuids = [config["uuid"] for config in everything]
    assert len(uuids) == len(set(uuids))
    databases, datasets, charts = by_uuid(DATABASES), by_uuid(DATASETS), by_uuid(CHARTS)
    assert all(config["database_uuid"] in databases for config in DATASETS.values())
    assert all(config["dataset_uuid"] in datasets for config in CHARTS.values())
    placed = [node["meta"]["uuid"] for d in DASHBOARDS.values() for node in chart_nodes(d)]
    # Every CHART node carries its chart's uuid (or an export would duplicate charts), each
    # chart is placed once, and none is left out.
    assert sorted(placed) == sorted(charts)


def test_no_password_is_stored() -> None:
    for name, config in DATABASES.items():
        assert "password" not in config, name
        assert re.search(r"://[^:/@]+:X{10}@", config["sqlalchemy_uri"]), name


def test_dataset_columns_exist_in_the_mart_contracts() -> None:
    contracts = mart_contracts()
    for name, config in DATASETS.items():
        assert config["schema"] == "marts", name
        physical = {c["column_name"] for c in config["columns"] if not c.get("expression")}
        assert physical <= contracts[config["table_name"]], name


def test_every_chart_has_a_query_context_matching_its_params() -> None:
    # The stored query context is what GET /api/v1/chart/{id}/data/ runs (the benchmark, reports).
    for name, config in CHARTS.items():
        context = json.loads(config["query_context"])
        assert context["form_data"]["viz_type"] == config["viz_type"], name
        assert context["queries"], name


def test_every_dashboard_explains_itself() -> None:
    for name, config in DASHBOARDS.items():
        texts = [
            node["meta"]["code"]
            for node in config["position"].values()
            if isinstance(node, dict) and node.get("type") == "MARKDOWN"
        ]
        assert texts and len(texts[0]) > 200, f"{name}: a description box for non-astronomers"
        assert config["slug"] in service.DASHBOARDS, name


@pytest.mark.parametrize("slug", sorted(service.DASHBOARDS))
def test_dbt_exposures_name_the_marts_each_dashboard_reads(slug: str) -> None:
    exposures = yaml.safe_load(
        (settings.DBT_PROJECT_DIR / "models" / "marts" / "_marts__exposures.yml").read_text()
    )["exposures"]
    dashboard = next(d for d in DASHBOARDS.values() if d["slug"] == slug)
    exposure = next(e for e in exposures if e["url"].endswith(f"/superset/dashboard/{slug}/"))
    assert exposure["type"] == "dashboard"
    datasets, charts = by_uuid(DATASETS), by_uuid(CHARTS)
    read = {datasets[charts[node["meta"]["uuid"]]["dataset_uuid"]]["table_name"]
            for node in chart_nodes(dashboard)}  # fmt: skip
    assert {re.sub(r"ref\('(\w+)'\)", r"\1", ref) for ref in exposure["depends_on"]} == read
