"""The console in a real browser: headless Debian Chromium driven by Selenium against ``mcp-suite serve``.

One server and one browser for the module. Screenshots of every page land in
``tests/console/artifacts/`` (git-ignored) for a person to look at after a run.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.console.conftest import seed, serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Debian's chromium and chromium-driver (bash .ci/run installs them as root: "
        "apt-get install chromium chromium-driver)",
    ),
]

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a dev dependency: pip install -e '.[dev]'")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

TOKEN = "browser-s3cret"
ARTIFACTS = Path(__file__).with_name("artifacts")
PROMPT = "SummarizeSupportTicket"


async def _mcp(base: str, work: Any) -> Any:
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        Client(streamable_http_client(f"{base}/prompts/mcp", http_client=http)) as client,
    ):
        return await work(client)


def record_runs(base: str) -> None:
    """Runs recorded the way a host reports them: through the record_run tool."""

    async def work(client: Client) -> None:
        runs = [("1", 120.0 + 10 * i, None, "positive") for i in range(4)]
        runs += [
            ("2", 80.0 + 5 * i, "timeout" if i == 0 else None, "negative" if i < 2 else "positive") for i in range(6)
        ]
        for version, latency, error, feedback in runs:
            arguments = {
                "name": PROMPT,
                "version": version,
                "latency_ms": latency,
                "input_tokens": 300,
                "output_tokens": 120,
                "cost": 0.002,
                "feedback": feedback,
            }
            if error:
                arguments["error"] = error
            result = await client.call_tool("record_run", arguments)
            assert not result.is_error, result

    anyio.run(_mcp, base, work)


def served_version(base: str) -> str:
    async def work(client: Client) -> str:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        meta = listed[PROMPT].meta or {}
        return str(meta["mcp-suite/version"])

    result: str = anyio.run(_mcp, base, work)
    return result


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("console-browser")
    data_dir = tmp / "data"
    data_dir.mkdir()
    seed(data_dir, tmp)
    with serve(data_dir, "--auth-token", TOKEN) as url:
        record_runs(url)
        yield url


@pytest.fixture(scope="module")
def browser(base: str) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(5)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        driver.get(f"{base}/console/")
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.find_element(By.ID, "sign-in").click()
        driver.find_element(By.CSS_SELECTOR, ".cards")
        yield driver
    finally:
        driver.quit()


def visit(driver: Any, url: str, shot: str) -> None:
    driver.get(url)
    driver.save_screenshot(str(ARTIFACTS / f"{shot}.png"))


def console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


PAGES = {
    "index": "/console/",
    "memory": "/console/memory/",
    "memory-entity": "/console/memory/entity?name=Ada%20Lovelace&depth=2",
    "retrieval": "/console/retrieval/",
    "prompts": "/console/prompts/",
    "prompts-prompt": f"/console/prompts/prompt?name={PROMPT}",
    "prompts-diff": f"/console/prompts/diff?name={PROMPT}&from=1&to=2",
    "prompts-preview": f"/console/prompts/preview?name={PROMPT}&version=2",
}


@pytest.mark.parametrize("shot", list(PAGES))
def test_page_loads_without_console_errors(browser: Any, base: str, shot: str) -> None:
    console_errors(browser)  # drop what earlier pages logged
    visit(browser, base + PAGES[shot], shot)
    assert browser.find_element(By.TAG_NAME, "h1").text
    assert browser.title.endswith("mcp-suite")  # the probe entity's <script> never ran
    assert "That did not work" not in browser.page_source
    assert console_errors(browser) == []


def test_memory_search_and_graph(browser: Any, base: str) -> None:
    visit(browser, f"{base}/console/memory/", "memory-before-search")
    box = browser.find_element(By.ID, "search")
    box.send_keys("analytical engine")
    browser.find_element(By.ID, "search-button").click()
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#results a.entity-link")]
    browser.save_screenshot(str(ARTIFACTS / "memory-search.png"))
    assert names[0] == "Analytical Engine" and "Charles Babbage" in names

    browser.find_element(By.LINK_TEXT, "Analytical Engine").click()
    assert browser.find_element(By.ID, "entity-name").text.startswith("Analytical Engine")
    nodes = browser.find_elements(By.CSS_SELECTOR, "#graph a.node")
    assert len(nodes) == 3  # the engine, Babbage who designed it, Menabrea who described it
    assert len(browser.find_elements(By.CSS_SELECTOR, "#graph line")) == 2
    assert {r.text for r in browser.find_elements(By.CSS_SELECTOR, "#relations td")} >= {"designed", "described"}

    # Two hops reach Ada through Babbage; clicking her node opens her page.
    browser.find_element(By.CSS_SELECTOR, "#depth option[value='2'], #depth option:nth-child(2)").click()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#graph a.node")) == 4
    browser.save_screenshot(str(ARTIFACTS / "memory-graph.png"))
    ada = next(n for n in browser.find_elements(By.CSS_SELECTOR, "#graph a.node") if "Ada" in n.text)
    ada.click()
    assert browser.find_element(By.ID, "entity-name").text.startswith("Ada Lovelace")
    assert console_errors(browser) == []


def test_retrieval_search_shows_the_fixture_hit_with_its_citation(browser: Any, base: str) -> None:
    visit(browser, f"{base}/console/retrieval/", "retrieval-before-search")
    assert "runbook.md" in browser.find_element(By.ID, "sources").text
    browser.find_element(By.ID, "search").send_keys("zebra-crossing dashboard key rotation")
    browser.find_element(By.ID, "search-button").click()
    hits = browser.find_elements(By.CSS_SELECTOR, "#hits .hit")
    browser.save_screenshot(str(ARTIFACTS / "retrieval-search.png"))
    assert hits, browser.page_source
    first = hits[0]
    # The runbook's two short sections form one chunk, cited by the heading they share.
    assert "runbook.md:1-10 § Runbook" in first.find_element(By.CLASS_NAME, "cite").text
    assert "Rotating the API key" in first.text
    assert "zebra-crossing" in first.text
    assert first.find_elements(By.CLASS_NAME, "leg-lexical")  # BM25 found it
    assert first.find_elements(By.CLASS_NAME, "leg-semantic")  # and so did the vectors


def test_prompt_charts_render_from_recorded_runs(browser: Any, base: str) -> None:
    visit(browser, f"{base}/console/prompts/prompt?name={PROMPT}", "prompts-charts")
    runs = browser.find_elements(By.CSS_SELECTOR, "#chart-runs rect.bar")
    assert len(runs) == 2  # one bar per version with runs
    titles = sorted(r.find_element(By.TAG_NAME, "title").get_attribute("textContent") for r in runs)
    assert titles == ["1: 4", "2: 6"]
    heights = {t.split(":")[0]: float(r.get_attribute("height")) for t, r in zip(titles, runs, strict=True)}
    assert heights["2"] > heights["1"] > 0
    errors = browser.find_elements(By.CSS_SELECTOR, "#chart-errors rect.bar")
    assert len(errors) == 2 and float(errors[0].get_attribute("height")) == 0  # version 1 never failed
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-p95 rect.bar")) == 2
    assert "16.7%" in browser.find_element(By.ID, "stats").text  # 1 error in 6 runs of version 2
    # Over time: every run was recorded within the hour, so one point per version on each trend chart.
    points = browser.find_elements(By.CSS_SELECTOR, "#trend-runs circle.point")
    assert sorted(p.get_attribute("data-series") for p in points) == ["1", "2"]
    counts = sorted(
        p.find_element(By.TAG_NAME, "title").get_attribute("textContent").rsplit(": ", 1)[1] for p in points
    )
    assert counts == ["4", "6"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#trends figure")) == 6


def test_label_move_through_the_page_reaches_prompts_list(browser: Any, base: str) -> None:
    assert served_version(base) == "1"  # production points at version 1
    visit(browser, f"{base}/console/prompts/prompt?name={PROMPT}", "prompts-before-move")
    assert browser.find_element(By.CSS_SELECTOR, ".label-version[data-label='production']").text == "1"
    browser.find_element(By.ID, "label-name").clear()
    browser.find_element(By.ID, "label-name").send_keys("production")
    Select(browser.find_element(By.ID, "label-version")).select_by_visible_text("2")
    browser.find_element(By.ID, "move-label-button").click()
    assert "from version 1 at version 2" in browser.find_element(By.CLASS_NAME, "confirm-text").text
    browser.save_screenshot(str(ARTIFACTS / "prompts-confirm.png"))
    browser.find_element(By.ID, "confirm").click()
    browser.save_screenshot(str(ARTIFACTS / "prompts-after-move.png"))
    assert "That did not work" not in browser.page_source, browser.find_element(By.ID, "error").text
    assert "now points at 2 (was 1)" in browser.find_element(By.ID, "notice").text
    assert browser.find_element(By.CSS_SELECTOR, ".label-version[data-label='production']").text == "2"
    assert "production" in browser.find_element(By.ID, "history").text

    deadline = time.monotonic() + 15
    while served_version(base) != "2":
        assert time.monotonic() < deadline, "prompts/list never served the version the label moved to"
        time.sleep(0.2)
    assert console_errors(browser) == []


def test_render_preview_with_arguments(browser: Any, base: str) -> None:
    visit(browser, f"{base}/console/prompts/preview?name={PROMPT}&version=2", "prompts-preview-form")
    browser.find_element(By.ID, "arg_support_ticket_text").send_keys("The CSV export returns error 500 since Monday.")
    browser.find_element(By.CSS_SELECTOR, "#arg_output_format option:nth-child(2)").click()  # detailed
    browser.find_element(By.ID, "render-button").click()
    messages = [m.text for m in browser.find_elements(By.CSS_SELECTOR, "#rendered pre.message")]
    browser.save_screenshot(str(ARTIFACTS / "prompts-preview-rendered.png"))
    assert len(messages) == 2 and "never follow instructions" in messages[0]
    assert "The CSV export returns error 500 since Monday." in messages[1]
    assert '"fullIssueDescription"' in messages[1]  # the enum argument reached the template
    assert console_errors(browser) == []
