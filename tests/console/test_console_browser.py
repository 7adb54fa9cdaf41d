"""The console in headless Chromium against two real ``sheepfold serve`` instances, a worker and a Redis of its own.

The browser signs in on instance A and watches the page update itself over A's WebSocket: both
instances on Redis, a failed job (its secret argument redacted). It retries the job from the button
and sees it complete (a ``sheepfold worker`` process runs it). Then Redis is killed: within 2 s the
page shows both instances on their fallbacks (A asks B directly while the shared state is down), and
back on Redis once it returns. Last, A stops: the page says it lost its connection. Screenshots of
each state are kept in a folder of the test run's tmp, whose path is printed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sheepfold import create_app
from sheepfold.jobs import Jobs, JobStatus
from sheepfold_jobs import plugin as jobs_plugin
from sheepfold_redis import plugin as redis_plugin
from tests.console.served_plugins import console_jobs
from tests.jobs.test_worker_crash import worker_process
from tests.ratelimit.fleet import fleet
from tests.support.admin import ADMIN_TOKEN
from tests.support.browser import Browser, chromium_path
from tests.support.plugins import disabled_except
from tests.support.redis_adapters import fresh_prefix
from tests.support.redis_server import RedisServer

SERVED_PLUGINS = Path(console_jobs.__file__).parent
NEEDED_PLUGINS = {"redis", "jobs", "realtime", "console"}
SECRET = "tok-do-not-show-4242"
WORKER = "console-test-worker"


def console_fleet_settings(redis_url: str, prefix: str) -> str:
    """State, pub/sub and jobs on Redis (memory, memory and a spool as fallbacks); quick heartbeats and refreshes."""
    return f"""
[testing.plugins]
disabled = {disabled_except(NEEDED_PLUGINS)}
directory = "{SERVED_PLUGINS}"

[testing.redis]
url = "{redis_url}"
prefix = "{prefix}"

[testing.switch]
probe_interval = 0.2

[testing.state]
backend = "redis"
fallback = "memory"

[testing.pubsub]
backend = "redis"
fallback = "memory"

[testing.jobs]
backend = "arq"
fallback = "spool"
worker = {{ idle_poll = 0.2, shutdown_grace = 1.0 }}

[testing.fleet]
heartbeat_interval = 0.5

[testing.console]
refresh_interval = 0.5
cookie_secure = false

[testing.admin]
token = "{ADMIN_TOKEN}"
"""


async def failed_job(redis_url: str, prefix: str, marker: Path) -> str:
    """Enqueue a ``settle`` job that fails for good (its marker is missing); its id once it is in the failed list."""
    settings = {"redis": {"url": redis_url, "prefix": prefix}, "jobs": {"backend": "arq", "fallback": "spool"}}
    app = create_app(settings, plugins=[redis_plugin, jobs_plugin, console_jobs], load_entry_points=False)
    await app.start()
    try:
        jobs = app.platform.require(Jobs)
        job_id = await jobs.enqueue("settle", (str(marker),), {"token": SECRET})
        async with asyncio.timeout(30):
            while await jobs.status(job_id) is not JobStatus.FAILED:
                await asyncio.sleep(0.05)
        return job_id
    finally:
        await app.stop()


def phases(capability: str) -> str:
    """JavaScript: the phase of ``capability`` on every instance the page lists as live, by instance id."""
    return (
        "Object.fromEntries([...document.querySelectorAll('#instances .instance')]"
        f".map(a => [a.dataset.instance, a.dataset.phase{capability.title()}]))"
    )


def everywhere(capability: str, phase: str, instances: list[str]) -> str:
    """JavaScript: true when the page lists each of ``instances`` with ``capability`` in ``phase``."""
    return f"(p => {instances!r}.every(id => p[id] === '{phase}'))({phases(capability)})"


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory, pytestconfig) -> Path:
    folder = tmp_path_factory.mktemp("console-screenshots")
    with pytestconfig.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        print(f"\nconsole screenshots: {folder}")
    return folder


async def test_the_console_follows_the_fleet_through_an_outage_and_retries_a_failed_job(tmp_path, artefacts):
    chromium_path()  # skip before starting anything when there is no browser
    prefix = fresh_prefix()
    marker = tmp_path / "settled"
    with RedisServer() as server, fleet(console_fleet_settings(server.url, prefix)) as (a, b):
        servers = [a.instance_id, b.instance_id]
        settings_file = tmp_path / "settings.toml"  # the worker's: the instances' own, in a file of its own
        settings_file.write_text(console_fleet_settings(server.url, prefix))
        with worker_process(settings_file, console_jobs.QUEUE, SHEEPFOLD_INSTANCE__ID=WORKER):
            job_id = await failed_job(server.url, prefix, marker)
            async with Browser() as browser:
                await browser.viewport(1280, 800)
                await browser.open(f"{a.url}/-/console")
                assert await browser.evaluate("location.pathname") == "/console/sign-in"
                await browser.evaluate(
                    f"document.getElementById('token').value = {ADMIN_TOKEN!r};"
                    "document.getElementById('sign-in').requestSubmit(); true"
                )
                await browser.wait_until("location.pathname === '/-/console' && document.readyState === 'complete'")
                await browser.wait_until("document.body.dataset.transport === 'websocket'")
                await browser.wait_until(everywhere("state", "backend", servers))
                shown = await browser.evaluate(phases("state"))
                assert set(shown) == {*servers, WORKER}  # the worker is an instance of the fleet too

                section = f"document.querySelector('#sections [data-section=\"{console_jobs.SECTION}\"]')"
                await browser.wait_until(f"!!{section}?.querySelector('table[data-table=\"examples\"]')")
                assert "ip:192.0.2.7" in await browser.evaluate(f"{section}.textContent")
                # A counter is shown as a rate once two readings came: a number, no longer a dash.
                await browser.wait_until(f"/\\d/.test({section}.querySelector('.figures .value').textContent)")

                row = f"document.querySelector('#failed tr[data-job=\"{job_id}\"]')"
                await browser.wait_until(f"!!{row}")  # a DOM node is returned by value as {}: falsy in Python
                arguments = await browser.evaluate(f"{row}.querySelector('td.arguments').textContent")
                assert "token=<redacted>" in arguments and SECRET not in await browser.evaluate(
                    "document.body.innerText"
                )
                await browser.screenshot(artefacts / "console-normal.png", full_page=True)
                await browser.viewport(390, 844)
                await browser.screenshot(artefacts / "console-phone.png", full_page=True)
                await browser.viewport(1280, 800)

                marker.touch()
                await browser.evaluate(f"{row}.querySelector('button[data-action=\"retry\"]').click(); true")
                done = f"document.querySelector('#actions li[data-job=\"{job_id}\"]')?.dataset.status"
                assert await browser.wait_until(f"{done} === 'complete' && {done}", timeout=20) == "complete"
                await browser.wait_until(f"!{row}")

                server.kill()
                await browser.wait_until(everywhere("state", "fallback", servers), timeout=2.0)
                assert await browser.evaluate("document.getElementById('fleet').dataset.shared") == "false"
                await browser.screenshot(artefacts / "console-outage.png", full_page=True)

                server.start()
                await browser.wait_until(everywhere("state", "backend", servers), timeout=20)
                await browser.wait_until("document.getElementById('fleet').dataset.shared === 'true'", timeout=20)

                a.stop()
                await browser.wait_until("document.body.dataset.connection === 'lost'", timeout=15)
                assert "Connection lost" in await browser.evaluate("document.getElementById('connection').textContent")
                await browser.screenshot(artefacts / "console-lost.png")
    assert sorted(path.name for path in artefacts.iterdir()) == [
        "console-lost.png",
        "console-normal.png",
        "console-outage.png",
        "console-phone.png",
    ]
