"""The console over plain HTTP: sign-in, read-only mode, confirmation before an action, and the action's
effect in the databases the MCP servers use."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.console.conftest import seed, serve
from tests.support import free_port, script

pytestmark = pytest.mark.slow

TOKEN = "console-s3cret"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("console-http")
    data_dir = tmp / "data"
    data_dir.mkdir()
    seed(data_dir, tmp)
    return data_dir


@pytest.fixture(scope="module")
def base(data: Path) -> Iterator[str]:
    with serve(data, "--auth-token", TOKEN) as url:
        yield url


def _labels(data: Path) -> dict[str, str]:
    with sqlite3.connect(data / "prompts.db") as conn:
        rows = conn.execute("SELECT label, version FROM labels WHERE name = 'SummarizeSupportTicket'").fetchall()
    return dict(rows)


def _form_key(html: str) -> str:
    match = re.search(r'name="form_key" value="([0-9a-f]+)"', html)
    assert match, "the page offers no action form"
    return match.group(1)


def test_every_page_needs_the_token_once(base: str) -> None:
    with httpx.Client(base_url=base) as browser:
        first = browser.get("/console/memory/")
        assert first.status_code == 303 and first.headers["location"] == "/console/login?next=/console/memory/"
        wrong = browser.post("/console/login?next=/console/memory/", data={"token": "nope"})
        assert wrong.status_code == 401 and "not the token" in wrong.text
        signed = browser.post("/console/login?next=/console/memory/", data={"token": TOKEN})
        assert signed.status_code == 303 and signed.headers["location"] == "/console/memory/"
        cookie = browser.cookies.get("mcp_suite_console")
        assert cookie and TOKEN not in cookie  # the cookie is derived from the token, not the token
        for page in ("/console/", "/console/memory/", "/console/retrieval/", "/console/prompts/"):
            assert browser.get(page).status_code == 200, page
    # The MCP endpoints' bearer header works too (scripts, curl).
    authed = httpx.get(f"{base}/console/prompts/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert authed.status_code == 200 and "SummarizeSupportTicket" in authed.text
    # Only ever redirected back into the console.
    with httpx.Client(base_url=base) as browser:
        away = browser.post("/console/login?next=https://evil.example/", data={"token": TOKEN})
        assert away.headers["location"] == "/console/"


def test_stored_markup_is_escaped(base: str) -> None:
    page = httpx.get(f"{base}/console/memory/", headers={"Authorization": f"Bearer {TOKEN}"})
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy  # no CDN, no framing
    assert page.headers["referrer-policy"] == "same-origin"
    assert "&lt;script&gt;document.title=&#39;owned&#39;&lt;/script&gt;" in page.text
    assert "<script>" not in page.text


def test_label_move_needs_the_form_key_and_a_confirmation(base: str, data: Path) -> None:
    before = _labels(data)
    with httpx.Client(base_url=base) as browser:
        browser.post("/console/login", data={"token": TOKEN})
        page = browser.get("/console/prompts/prompt", params={"name": "SummarizeSupportTicket"})
        key = _form_key(page.text)
        move = {"name": "SummarizeSupportTicket", "label": "staging", "version": "1"}

        forged = browser.post("/console/prompts/label", data={**move, "confirm": "yes"})
        assert forged.status_code == 403 and "form key" in forged.text
        asked = browser.post("/console/prompts/label", data={**move, "form_key": key})
        assert asked.status_code == 200 and "Point label" in asked.text and 'name="confirm" value="yes"' in asked.text
        assert _labels(data) == before  # asking changed nothing

        done = browser.post("/console/prompts/label", data={**move, "form_key": key, "confirm": "yes"})
        assert done.status_code == 303
        assert _labels(data) == {**before, "staging": "1"}
        shown = browser.get(done.headers["location"])
        assert "label &#39;staging&#39; of SummarizeSupportTicket now points at 1" in shown.text

        unknown = browser.post(
            "/console/prompts/label", data={**move, "version": "9", "form_key": key, "confirm": "yes"}
        )
        assert unknown.status_code == 400 and "version" in unknown.text  # the service's own advice
        assert _labels(data) == {**before, "staging": "1"}


def test_foreign_origin_cannot_post(base: str) -> None:
    with httpx.Client(base_url=base) as browser:
        browser.post("/console/login", data={"token": TOKEN})
        refused = browser.post(
            "/console/prompts/label", data={"name": "x"}, headers={"Origin": "http://evil.example.com"}
        )
        assert refused.status_code == 403


def test_without_a_token_the_console_is_read_only(tmp_path: Path, data: Path) -> None:
    assert _labels(data)["production"] == "1"
    with serve(data, "memory", "prompts") as url:
        page = httpx.get(f"{url}/console/prompts/prompt", params={"name": "SummarizeSupportTicket"})
        assert page.status_code == 200 and "read-only" in page.text.lower()
        assert 'name="form_key"' not in page.text
        refused = httpx.post(
            f"{url}/console/prompts/label",
            data={"name": "SummarizeSupportTicket", "label": "production", "version": "2", "confirm": "yes"},
        )
        assert refused.status_code == 403 and "--auth-token" in refused.text
        assert _labels(data)["production"] == "1"  # as seeded: nothing moved


@contextmanager
def _signed_in(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base) as browser:
        browser.post("/console/login", data={"token": TOKEN})
        yield browser


def test_rollout_starts_and_ends_through_the_page(base: str, data: Path) -> None:
    def rollouts() -> list[tuple[str, str]]:
        with sqlite3.connect(data / "prompts.db") as conn:
            return conn.execute("SELECT label, splits FROM rollouts WHERE name = 'SummarizeSupportTicket'").fetchall()

    with _signed_in(base) as browser:
        key = _form_key(browser.get("/console/prompts/prompt", params={"name": "SummarizeSupportTicket"}).text)
        form = {"name": "SummarizeSupportTicket", "label": "staging", "form_key": key, "confirm": "yes"}
        browser.post("/console/prompts/label", data={**form, "version": "1"})
        bad = browser.post("/console/prompts/rollout", data={**form, "splits": "1=ninety"})
        assert bad.status_code == 400 and "VERSION=PERCENT" in bad.text
        started = browser.post("/console/prompts/rollout", data={**form, "splits": "1=90, 2=10"})
        assert started.status_code == 303
        assert [(label, json.loads(splits)) for label, splits in rollouts()] == [("staging", {"1": 90.0, "2": 10.0})]
        ended = browser.post("/console/prompts/rollout", data={**form, "splits": ""})
        assert ended.status_code == 303 and "ended" in browser.get(ended.headers["location"]).text
        assert rollouts() == []


def test_delete_source_through_the_page(base: str, data: Path) -> None:
    def sources() -> list[str]:
        with sqlite3.connect(data / "retrieval.db") as conn:
            return [row[0] for row in conn.execute("SELECT source FROM documents")]

    (source,) = sources()
    with _signed_in(base) as browser:
        key = _form_key(browser.get("/console/retrieval/").text)
        asked = browser.post("/console/retrieval/delete", data={"source": source, "form_key": key})
        assert asked.status_code == 200 and "Remove" in asked.text and sources() == [source]
        done = browser.post("/console/retrieval/delete", data={"source": source, "form_key": key, "confirm": "yes"})
        assert done.status_code == 303 and sources() == []
        with sqlite3.connect(data / "retrieval.db") as conn:
            assert conn.execute("SELECT count(*) FROM chunks").fetchone() == (0,)
        assert "Nothing indexed yet" in browser.get("/console/retrieval/").text


def test_console_command_prints_a_link_that_signs_in(tmp_path: Path, data: Path) -> None:
    port = free_port()
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [script("mcp-suite"), "console", "--port", str(port), "--data-dir", str(data)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 60
        link = None
        while link is None:
            assert proc.poll() is None, stderr_path.read_text()
            assert time.monotonic() < deadline, stderr_path.read_text()
            found = re.search(r"open (http://\S+/console/login\?token=\S+)", stderr_path.read_text())
            link = found.group(1) if found else None
            time.sleep(0.1)
        with httpx.Client() as browser:
            for _ in range(100):  # the link is printed just before the port opens
                try:
                    signed = browser.get(link)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert signed.status_code == 303
            page = browser.get(f"http://127.0.0.1:{port}/console/memory/")
            assert page.status_code == 200 and "Ada Lovelace" in page.text
            assert "Sign out" in page.text  # signed in by the link: actions are offered
            # No MCP endpoints: the console command only serves the console.
            assert browser.post(f"http://127.0.0.1:{port}/memory/mcp").status_code == 404
        assert httpx.get(f"http://127.0.0.1:{port}/console/memory/").status_code == 303  # others need the link
    finally:
        proc.terminate()
        proc.wait(timeout=10)
