"""The dashboards in a real browser: Debian's Chromium driven by Playwright, logged in as a user
would, every chart waited for and checked, one screenshot per dashboard in build/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest
import yaml
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from scoring import settings
from scoring.dashboards import service
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser

# Tall enough that every chart is on screen: Superset renders charts as they scroll into view.
VIEWPORT = {"width": 1600, "height": 2600}
CHART_TIMEOUT_MS = 90_000
KOI_NAME = re.compile(r"^K\d{5}\.\d{2}$")
TOI_NAME = re.compile(r"^TOI-\d+\.\d{2}$")
TOP_CANDIDATES = "Top candidates by P(planet)"


def charts_in_bundle(slug: str) -> list[str]:
    for path in (service.ASSETS_DIR / "dashboards").glob("*.yaml"):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        if config["slug"] == slug:
            return [
                node["meta"]["sliceName"]
                for node in config["position"].values()
                if isinstance(node, dict) and node.get("type") == "CHART"
            ]
    raise AssertionError(f"no dashboard {slug} in the bundle")


def log_in(page: Page, base_url: str, password: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("input#username", service.ADMIN_USERNAME)
    page.fill("input#password", password)
    page.press("input#password", "Enter")


@pytest.fixture(scope="module")
def session(browser: Browser, superset: service.ServerStatus) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    log_in(page, superset.url, settings.secret("superset_admin_password"))
    page.wait_for_url(re.compile(r"/superset/welcome/"))
    page.close()
    yield context
    context.close()


def chart(page: Page, title: str) -> Locator:
    return page.locator(f'[data-test="chart-grid-component"][data-test-chart-name="{title}"]')


def open_dashboard(context: BrowserContext, base_url: str, slug: str) -> Page:
    """Open a dashboard and wait until every chart has drawn (or failed)."""
    page = context.new_page()
    page.goto(f"{base_url}/superset/dashboard/{slug}/")
    expect(page.locator('[data-test="chart-grid-component"]')).to_have_count(
        len(charts_in_bundle(slug))
    )
    wait_for_charts(page, slug)
    return page


def wait_for_charts(page: Page, slug: str) -> None:
    for title in charts_in_bundle(slug):
        drawn = chart(page, title).locator(
            "canvas, table, .header-line, .ant-alert, :text('No results')"
        )
        expect(drawn.first).to_be_visible(timeout=CHART_TIMEOUT_MS)
    expect(page.locator('[data-test="loading-indicator"], .loading')).to_have_count(0)


def screenshot(page: Page, slug: str) -> None:
    """The whole dashboard in one picture. The window is made as tall as the page first: a
    full-page capture resizes it behind Superset's back, which redraws every chart and can
    capture a blank grid."""
    height = page.evaluate("document.documentElement.scrollHeight")
    if height > VIEWPORT["height"]:
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        page.wait_for_timeout(1000)  # let the grid notice the new size before waiting again
        wait_for_charts(page, slug)
    page.screenshot(path=SCREENSHOTS / f"{slug}.png")
    print(f"screenshot: {SCREENSHOTS / f'{slug}.png'}")


def test_anonymous_visit_is_sent_to_login(browser: Browser, superset: service.ServerStatus) -> None:
    page = browser.new_page()
    page.goto(f"{superset.url}/superset/dashboard/discoveries/")
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.locator("input#password")).to_be_visible()
    page.close()


def test_wrong_password_is_refused(browser: Browser, superset: service.ServerStatus) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, superset.url, "not-the-password")
    expect(
        page.get_by_text(re.compile("invalid username or password", re.IGNORECASE))
    ).to_be_visible()
    page.goto(f"{superset.url}/superset/dashboard/discoveries/")
    expect(page).to_have_url(re.compile(r"/login/"))
    context.close()


@pytest.mark.parametrize("slug", sorted(service.DASHBOARDS))
def test_every_chart_renders_data(
    session: BrowserContext, superset: service.ServerStatus, slug: str
) -> None:
    page = open_dashboard(session, superset.url, slug)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    screenshot(page, slug)
    for title in charts_in_bundle(slug):
        holder = chart(page, title)
        assert holder.locator(".ant-alert").count() == 0, f"{title}: {holder.inner_text()}"
        assert "No results" not in holder.inner_text(), title
    page.close()


def table_rows(holder: Locator) -> list[dict[str, str]]:
    """The rows of a table chart's first page, by column header."""
    table = holder.locator("table")
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    return [
        dict(zip(headers, (c.strip() for c in row.locator("td").all_inner_texts()), strict=False))
        for row in table.locator("tbody tr").all()
    ]


def test_anomaly_leaderboard_lists_the_mart_in_rank_order(
    session: BrowserContext, superset: service.ServerStatus, dashboard_warehouse: str
) -> None:
    page = open_dashboard(session, superset.url, "anomalies")
    rows = table_rows(chart(page, "Anomaly leaderboard"))
    assert len(rows) >= 10
    with psycopg.connect(dashboard_warehouse) as conn:
        expected = conn.execute(
            "select anomaly_rank, kepoi_name from marts.fct_anomalies"
            " order by anomaly_rank limit %s",
            (len(rows),),
        ).fetchall()
    assert [(int(row["rank"]), row["KOI"]) for row in rows] == expected
    page.close()


def test_uploads_table_ranks_the_light_curves_by_anomaly(
    session: BrowserContext, superset: service.ServerStatus, dashboard_warehouse: str
) -> None:
    page = open_dashboard(session, superset.url, "discoveries")
    rows = table_rows(chart(page, "Uploads"))
    with psycopg.connect(dashboard_warehouse) as conn:
        strangest = conn.execute(
            "select target_id from marts.fct_lightcurve_uploads where anomaly_rank = 1"
        ).fetchall()
    ranks = [int(row["anomaly rank"]) for row in rows]
    assert len(rows) >= 5 and ranks == sorted(ranks) and ranks[0] == 1
    assert rows[0]["target"] in {target for (target,) in strangest}
    page.close()


def test_discoveries_table_ranks_real_kois_by_p_planet(
    session: BrowserContext, superset: service.ServerStatus, dashboard_warehouse: str
) -> None:
    # Without a mission chosen, the table lists Kepler's ranking first (mission, then rank).
    page = open_dashboard(session, superset.url, "discoveries")
    rows = table_rows(chart(page, TOP_CANDIDATES))
    assert len(rows) >= 10
    names = [row["signal"] for row in rows]
    probabilities = [float(row["P(planet)"]) for row in rows]
    assert {row["mission"] for row in rows} == {"Kepler"}
    assert all(KOI_NAME.match(name) for name in names), names
    assert probabilities == sorted(probabilities, reverse=True)
    with psycopg.connect(dashboard_warehouse) as conn:
        expected = conn.execute(
            "select kepoi_name from marts.fct_discoveries where mission = 'Kepler'"
            " order by candidate_rank limit %s",
            (len(names),),
        ).fetchall()
    assert names == [name for (name,) in expected]
    page.close()


def choose_in_filter(page: Page, name: str, option: str) -> None:
    """Pick an option of a native select filter in the dashboard's filter bar and apply it."""
    control = page.locator(".ant-form-item").filter(
        has=page.locator('[data-test="filter-control-name"]', has_text=name)
    )
    control.locator(".ant-select-selector").click()
    page.locator(".ant-select-item-option", has_text=re.compile(f"^{option}$")).click()
    page.get_by_role("button", name="Apply filters").click()


def test_the_mission_filter_shows_the_tess_candidates(
    session: BrowserContext, superset: service.ServerStatus, dashboard_warehouse: str
) -> None:
    with psycopg.connect(dashboard_warehouse) as conn:
        kois = conn.execute("select count(*) from marts.fct_koi_predictions").fetchone()[0]
        n_pcs = conn.execute(
            "select count(*) from marts.fct_discoveries where mission = 'TESS'"
        ).fetchone()[0]
    assert n_pcs > 0, "the dashboards' warehouse has no scored TOI"
    page = open_dashboard(session, superset.url, "discoveries")
    table = chart(page, TOP_CANDIDATES)
    first_mission = table.locator("tbody tr").first.locator("td").first
    expect(first_mission).to_have_text("Kepler")
    candidates = chart(page, "Candidates").locator(".header-line")
    expect(candidates).not_to_have_text(f"{n_pcs:,}")

    choose_in_filter(page, "Mission", "TESS")
    expect(first_mission).to_have_text("TESS", timeout=CHART_TIMEOUT_MS)
    expect(candidates).to_have_text(f"{n_pcs:,}", timeout=CHART_TIMEOUT_MS)
    rows = table_rows(table)
    assert len(rows) >= 10
    assert {row["mission"] for row in rows} == {"TESS"}
    names = [row["signal"] for row in rows]
    assert all(TOI_NAME.match(name) for name in names), names
    assert [int(row["rank"]) for row in rows] == list(range(1, len(rows) + 1))
    with psycopg.connect(dashboard_warehouse) as conn:
        expected = conn.execute(
            "select signal_name from marts.fct_discoveries where mission = 'TESS'"
            " order by candidate_rank limit %s",
            (len(names),),
        ).fetchall()
    assert names == [name for (name,) in expected]
    # The KOI charts have no mission: the filter leaves them as they were.
    expect(chart(page, "KOIs").locator(".header-line")).to_have_text(f"{kois:,}")
    page.close()


def test_a_filter_changes_what_is_shown(
    session: BrowserContext, superset: service.ServerStatus, dashboard_warehouse: str
) -> None:
    with psycopg.connect(dashboard_warehouse) as conn:
        total, earth_size = conn.execute(
            "select count(*), count(*) filter (where radius_class = 'earth_size')"
            " from marts.fct_koi_predictions"
        ).fetchone()
    page = open_dashboard(session, superset.url, "discoveries")
    kois = chart(page, "KOIs").locator(".header-line")
    expect(kois).to_have_text(f"{total:,}")
    choose_in_filter(page, "Planet size", "earth_size")
    expect(kois).to_have_text(f"{earth_size:,}", timeout=CHART_TIMEOUT_MS)
    page.close()
