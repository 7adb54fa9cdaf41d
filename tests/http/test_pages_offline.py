"""Every HTML page the platform serves loads nothing from another host: ``/docs`` works offline.

The pages are found by requesting every GET route of an app with every
installed plugin (so a plugin's page, the console's included, is covered as
soon as it exists), then read as text (:mod:`tests.http.offline`) and opened
in headless Chromium, whose every request must stay on the app's own origin.
"""

from __future__ import annotations

import httpx
from blacksheep.server.openapi.ui import SwaggerUIProvider, UIOptions

from sheepfold.testing.served import serving
from tests.http.offline import foreign_references, html_pages, script_urls
from tests.support.browser import Browser, chromium_path
from tests.support.full_app import ADMIN_TOKEN, full_app
from tests.support.plugins import installed

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SERVED_NAME = "sheepfold.test"


def admin_client(address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://{address}", headers=ADMIN)


async def test_every_page_and_what_it_loads_names_no_other_host():
    app = full_app()
    async with serving(app) as address, admin_client(address) as client:
        pages = await html_pages(client, app.router)
        assert f"http://{address}/docs/" in pages
        if installed("sheepfold_example"):
            assert f"http://{address}/example/realtime" in pages
        found = [reference for page in pages for reference in await foreign_references(client, page)]
    assert found == []


async def test_the_check_finds_what_blacksheeps_own_swagger_page_loads_from_a_cdn():
    # The page /docs served before: the reason for this test. Its script and stylesheet come from a CDN.
    provider = SwaggerUIProvider("/docs")
    html = provider.get_openapi_ui_html(UIOptions(spec_url="/openapi.json", page_title="t"))
    assert "cdn.jsdelivr.net" in html

    class Served:
        """Answers the page and nothing else, as httpx would."""

        async def get(self, url: str) -> httpx.Response:
            return httpx.Response(200, text=html, request=httpx.Request("GET", url))

    found = await foreign_references(Served(), "http://127.0.0.1:1/docs/")
    assert any("<link href>: https://cdn.jsdelivr.net/" in entry for entry in found)
    assert any("<script src>: https://cdn.jsdelivr.net/" in entry for entry in found)
    assert script_urls('fetch("https://tracker.example/beacon")', "http://127.0.0.1:1") == [
        "https://tracker.example/beacon"
    ]


async def test_in_chromium_every_page_stays_on_its_origin_and_docs_renders():
    chromium_path()  # skip before starting anything when there is no browser
    app = full_app()
    async with serving(app) as address:
        async with admin_client(address) as client:
            pages = await html_pages(client, app.router)
        # Served under a name, as operators reach it: Swagger UI treats specs on localhost apart (its validator).
        origin = f"http://{SERVED_NAME}:{address.rpartition(':')[2]}/"
        async with Browser(loopback_names=(SERVED_NAME,)) as browser:
            await browser.command("Network.enable")
            await browser.command("Network.setExtraHTTPHeaders", headers=ADMIN)
            for page in pages:
                await browser.open(page.replace(f"http://{address}/", origin))
                if page.endswith("/docs/"):
                    # Swagger UI rendered the spec: its title and the operations (the validator badge would be beside).
                    title = ".swagger-ui .info .title"
                    await browser.wait_until(f"document.querySelector('{title}')?.textContent.includes('sheepfold')")
                    await browser.wait_until("document.querySelectorAll('.opblock').length > 5")
            await browser.evaluate("1")  # collect the events still in flight
            requested = [event["params"]["request"]["url"] for event in browser.events_of("Network.requestWillBeSent")]
    assert any(url.endswith("/docs/swagger-ui-bundle.js") for url in requested)
    assert [url for url in requested if not url.startswith((origin, "data:", "blob:"))] == []
