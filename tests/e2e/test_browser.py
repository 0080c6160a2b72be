"""A real browser's EventSource follows the live tail across a server restart: every event
exactly once, in order (headless Debian Chromium driven by Playwright; no downloaded browser)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from events.settings import Settings

from ..conftest import (
    ADMIN,
    BIN,
    Client,
    _wait_http,
    close_stores,
    consistently,
    free_port,
    service_env,
    spawn,
    stores_for,
)

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--headless=new"]


@pytest.fixture
def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("ORGHISTORY_REQUIRE_SERVICES"):
            pytest.fail("Debian chromium is not installed (.ci/run installs it)")
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def _serve(env, port, seed: bool = False):
    proc = spawn([str(BIN / "orghistory"), "serve", *([] if seed else ["--no-seed"]), "--port", str(port)], env=env,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


def test_event_source_reconnects_after_a_restart_without_gaps_or_duplicates(browser, tmp_path):
    settings = Settings(data_dir=tmp_path / "d", admin_token=ADMIN)
    env = service_env(settings, None)
    port = free_port()
    server = _serve(env, port)
    base = f"http://127.0.0.1:{port}"
    client = Client(base)
    try:
        client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme"}))
        page = browser.new_page()
        page.goto(base + "/openapi.json")  # same origin as the stream
        page.evaluate("""() => {
            window.received = []; window.opens = 0;
            const es = new EventSource('/v1/streams/all/live?org=acme&type=noted');
            es.onopen = () => { window.opens += 1; };
            es.addEventListener('noted', (m) => window.received.push([Number(m.lastEventId), JSON.parse(m.data).title]));
        }""")
        page.wait_for_function("window.opens >= 1", timeout=10000)
        for i in range(3):
            client.ok(client.post("/v1/orgs/acme/events", {"type": "noted", "title": f"a{i}", "effective": "2020"}))
        page.wait_for_function("window.received.length >= 3", timeout=10000)

        server.kill()  # the connection is lost
        server.wait(10)
        close_stores()
        app = stores_for(settings).app  # meanwhile another process appends to the store
        app.append("acme", [{"type": "noted", "title": "while down", "effective": "2020"}])
        close_stores()
        server = _serve(env, port)
        for i in range(2):
            client.ok(client.post("/v1/orgs/acme/events", {"type": "noted", "title": f"b{i}", "effective": "2020"}))
        page.wait_for_function("window.received.length >= 6", timeout=20000)
        consistently(lambda: page.evaluate("window.received.length") == 6, 1.5,
                     "exactly six events received (a duplicate would arrive now)")
        received = page.evaluate("window.received")
        assert [title for _, title in received] == ["a0", "a1", "a2", "while down", "b0", "b1"]
        ids = [i for i, _ in received]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert page.evaluate("window.opens") >= 2  # it really reconnected
    finally:
        server.kill()
        server.wait(10)


def test_names_are_shown_as_text_never_run_as_html(browser, tmp_path):
    """Stored XSS: names and sources are inserted as text; and the page's CSP would refuse an
    inline script even if one slipped through."""
    settings = Settings(data_dir=tmp_path / "d", admin_token=ADMIN)
    port = free_port()
    server = _serve(service_env(settings, None), port)
    base = f"http://127.0.0.1:{port}"
    client = Client(base)
    evil = '<img src=x onerror="window.pwned=1">'
    try:
        client.ok(client.post("/v1/orgs", {"slug": "acme", "name": "Acme " + evil}))
        client.ok(client.post("/v1/people", {"slug": "mallory", "name": "Mallory " + evil}))
        client.ok(client.post("/v1/orgs/acme/units", {"slug": "board", "name": "Board", "kind": "board",
                                                       "effective": "2010"}))
        client.ok(client.post("/v1/orgs/acme/events", {
            "type": "member_joined", "unit": "board", "person": "mallory", "effective": "2020",
            "sources": [{"publisher": '"><script>window.pwned=2</script>'}]}))
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/?org=acme&date=2021-01-01")
        page.wait_for_selector("#board tbody button.person", timeout=10000)
        assert page.inner_text("#board tbody button.person") == "Mallory " + evil  # shown as the text it is
        assert page.inner_text("#org option") == "Acme " + evil
        page.click("#board tbody button.person")
        page.wait_for_selector("#evidence-body .sources li", timeout=10000)
        assert page.inner_text("#evidence-body .sources li") == '"><script>window.pwned=2</script>'
        assert page.evaluate("window.pwned") is None and page.query_selector("img") is None
        assert not errors
    finally:
        server.kill()
        server.wait(10)
