"""The console in one app: who may open it, signing a browser in, the JSON twin, and the failed-job actions."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from blacksheep.contents import JSONContent

from sheepfold import create_app
from sheepfold.jobs import Jobs, JobStatus
from sheepfold_console import ConsolePass
from tests.console.apps import FIXED, PLUGINS, QUEUE, SETTINGS
from tests.support.admin import ADMIN_HEADERS, ADMIN_TOKEN

BROWSER = {"Accept": "text/html,application/xhtml+xml"}


async def signed_in(kit) -> dict[str, str]:
    response = await kit.client.post("/console/sign-in", content=JSONContent({"token": ADMIN_TOKEN}))
    assert response.status == 204
    cookie = response.headers.get_first(b"set-cookie").decode()
    return {"Cookie": cookie.split(";", 1)[0]}


async def failed_charge(kit, account: str) -> str:
    jobs = kit.platform.require(Jobs)
    job_id = await jobs.enqueue(
        "charge", (account,), {"api_key": "sk-live-123", "options": {"password": "hunter2", "amount": 5}}
    )
    async with asyncio.timeout(10):
        while await jobs.status(job_id) is not JobStatus.FAILED:
            await asyncio.sleep(0.01)
    return job_id


async def test_the_console_is_an_admin_page_and_a_browser_is_sent_to_sign_in(sheepfold_app):
    kit = await sheepfold_app(SETTINGS, PLUGINS)
    assert (await kit.client.get("/-/console/api/snapshot")).status == 401
    redirected = await kit.client.get("/-/console", headers=BROWSER)
    assert redirected.status == 303
    assert redirected.headers.get_first(b"location") == b"/console/sign-in?next=%2F-%2Fconsole"
    page = await kit.client.get("/-/console", headers=ADMIN_HEADERS)
    assert page.status == 200 and b"<main>" in await page.read()
    policy = page.headers.get_first(b"content-security-policy").decode()
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    sign_in_page = await kit.client.get("/console/sign-in")
    assert sign_in_page.status == 200 and b'type="password"' in await sign_in_page.read()


async def test_the_admin_token_is_exchanged_for_an_http_only_strict_cookie_that_opens_the_console(
    sheepfold_app, caplog
):
    kit = await sheepfold_app(SETTINGS, PLUGINS)
    with caplog.at_level(logging.INFO, logger="sheepfold.audit"):
        wrong = await kit.client.post("/console/sign-in", content=JSONContent({"token": "guess"}))
        assert wrong.status == 401
        response = await kit.client.post("/console/sign-in", content=JSONContent({"token": ADMIN_TOKEN}))
    assert response.status == 204
    cookie = response.headers.get_first(b"set-cookie").decode()
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert cookie.startswith("sheepfold_console=") and {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower() and ADMIN_TOKEN not in cookie
    outcomes = [record.outcome for record in caplog.records if record.name == "sheepfold.audit"]
    assert outcomes == ["refused", "signed in"]
    headers = {"Cookie": cookie.split(";", 1)[0]}
    assert (await kit.client.get("/-/console", headers=headers)).status == 200
    assert (await kit.client.get("/-/console/api/snapshot", headers=headers)).status == 200
    assert (await kit.client.get("/-/plugins", headers=headers)).status == 200  # the admin surface, as the token


async def test_a_console_sign_in_grants_the_admin_surface_only(sheepfold_app):
    kit = await sheepfold_app(SETTINGS, PLUGINS)
    console_pass = kit.platform.require(ConsolePass)
    value, sign_in = console_pass.issue()
    identity = console_pass.identity_of(_request("/-/console", value))
    assert identity is not None and identity.subject == f"console:{sign_in}"
    assert kit.platform.allowed(identity, "admin")
    assert not kit.platform.allowed(identity, "realtime.admin") and not kit.platform.allowed(identity, "example.edit")
    assert console_pass.identity_of(_request("/example/page", value)) is None  # not on application pages
    assert console_pass.identity_of(_request("/-/console", value[:-1] + "0")) is None  # tampered
    expired, _ = console_pass.issue(now=time.time() - console_pass.ttl - 1)
    assert console_pass.identity_of(_request("/-/console", expired)) is None
    other = ConsolePass("another-admin-token-0123456789abcdef", ttl=60, secure=False)
    assert other.identity_of(_request("/-/console", value)) is None  # a new admin token signs everyone out


@pytest.mark.parametrize(
    "value",
    [
        "\u00b2.aaaaaaaaaaaa.x",  # a digit to str.isdigit, not to int(): was a ValueError, a 500
        "\u0661\u0662\u0663.aaaaaaaaaaaa.x",  # Arabic-Indic digits, which int() reads
        "9" * 5000 + ".aaaaaaaaaaaa.x",  # more digits than int() converts: was a ValueError
        "99999999999.aaaaaaaaaaaa.\u00e9\u00e9",  # compare_digest refuses non-ASCII text: was a TypeError
        "99999999999.aaaaaaaaaaa\u00e9." + "0" * 64,
        "",
        ".",
        "..",
        "-1.aaaaaaaaaaaa.x",
        "99999999999.aaaaaaaaaaaa",
    ],
)
def test_a_forged_console_cookie_is_no_sign_in_and_raises_nothing(value):
    assert ConsolePass("edge-tests-admin-token-0123456789abcdef", ttl=60, secure=False).verify(value) is None


async def test_sign_in_is_refused_from_another_site_and_without_a_token_to_sign_in_with(sheepfold_app):
    kit = await sheepfold_app(SETTINGS, PLUGINS)
    foreign = {"Origin": "https://evil.example", "Host": "console.example"}
    refused = await kit.client.post("/console/sign-in", content=JSONContent({"token": ADMIN_TOKEN}), headers=foreign)
    assert refused.status == 403
    open_kit = await sheepfold_app({**SETTINGS, "admin": {"token": "", "open": True}}, PLUGINS)
    assert (await open_kit.client.post("/console/sign-in", content=JSONContent({"token": "x"}))).status == 409
    assert (await open_kit.client.get("/console/sign-in")).status == 303  # nothing to sign in to: the console


async def test_a_secure_cookie_carries_the_host_prefix_and_sign_out_removes_it(sheepfold_app):
    kit = await sheepfold_app({**SETTINGS, "console": {"cookie_secure": True}}, PLUGINS)
    response = await kit.client.post("/console/sign-in", content=JSONContent({"token": ADMIN_TOKEN}))
    cookie = response.headers.get_first(b"set-cookie").decode()
    assert cookie.startswith("__Host-sheepfold_console=") and "secure" in cookie.lower()
    out = await kit.client.post("/-/console/sign-out", headers={"Cookie": cookie.split(";", 1)[0]})
    assert out.status == 204 and "max-age=0" in out.headers.get_first(b"set-cookie").decode().lower()


async def test_the_snapshot_has_the_fleet_every_statistics_section_and_the_jobs_with_secrets_redacted(sheepfold_app):
    kit = await sheepfold_app(SETTINGS, PLUGINS)
    job_id = await failed_charge(kit, "acme")
    snapshot = await (await kit.client.get("/-/console/api/snapshot", headers=ADMIN_HEADERS)).json()
    assert [record["instance"] for record in snapshot["fleet"]["instances"]] == [kit.platform.instance_id]
    assert snapshot["statistics"]["limiter"] == {
        "counters": {"allowed": 10, "limited": 2},
        "gauges": {"penalties": 1},
        "tables": {"most_limited": [{"key": "ip:192.0.2.1", "limited": 2}]},
    }
    billing = snapshot["jobs"]["queues"][QUEUE]
    assert billing["failed"] == 1 and set(billing["priorities"]) == {"high", "normal", "low"}
    [failed] = snapshot["jobs"]["failed"]
    assert failed["job_id"] == job_id and failed["tries"] == 1 and "account acme is closed" in failed["error"]
    assert failed["args"] == ["'acme'"] and failed["kwargs"]["api_key"] == "<redacted>"
    assert "hunter2" not in failed["kwargs"]["options"] and "'amount': 5" in failed["kwargs"]["options"]
    assert snapshot["lines"] == {"database_pool_warning_percent": 80.0, "database_pool_error_percent": 95.0}
    assert snapshot["live"] == {"websocket": None, "interval": 2.0}
    for part in ("fleet", "statistics", "jobs"):  # each figure's own twin
        assert (await kit.client.get(f"/-/console/api/{part}", headers=ADMIN_HEADERS)).status == 200
    status = await (await kit.client.get(f"/-/console/api/jobs/{job_id}", headers=ADMIN_HEADERS)).json()
    assert status == {"job_id": job_id, "status": "failed"}


async def test_retry_and_discard_act_on_the_failed_list_and_are_audit_logged_with_the_actor(sheepfold_app, caplog):
    kit = await sheepfold_app(SETTINGS, PLUGINS)
    jobs = kit.platform.require(Jobs)
    retried, discarded = await failed_charge(kit, "retry-me"), await failed_charge(kit, "drop-me")
    browser = await signed_in(kit)
    FIXED.add("retry-me")
    with caplog.at_level(logging.INFO, logger="sheepfold.audit"):
        response = await kit.client.post(f"/-/console/api/jobs/failed/{retried}/retry", headers=browser)
        assert response.status == 202
        response = await kit.client.post(f"/-/console/api/jobs/failed/{discarded}/discard", headers=ADMIN_HEADERS)
        assert response.status == 200
    async with asyncio.timeout(10):
        while await jobs.status(retried) is not JobStatus.COMPLETE:
            await asyncio.sleep(0.01)
    assert await jobs.failed_job(discarded) is None
    actions = [(r.action, r.job_id, r.actor) for r in caplog.records if r.name == "sheepfold.audit"]
    sign_in = browser["Cookie"].split("=", 1)[1].split(".")[1]
    assert actions == [("jobs.retry", retried, f"console:{sign_in}"), ("jobs.discard", discarded, "admin token")]
    for action in ("retry", "discard"):
        assert (await kit.client.post(f"/-/console/api/jobs/failed/nope/{action}", headers=ADMIN_HEADERS)).status == 404
    foreign = {**ADMIN_HEADERS, "Origin": "https://evil.example"}
    assert (await kit.client.post(f"/-/console/api/jobs/failed/{discarded}/discard", headers=foreign)).status == 403


async def test_assets_are_package_data_with_etags_and_reference_no_other_host(sheepfold_app):
    kit = await sheepfold_app(SETTINGS, PLUGINS)
    for name, media in [
        ("console.js", b"text/javascript"),
        ("console.css", b"text/css"),
        ("sign-in.js", b"text/javascript"),
    ]:
        response = await kit.client.get(f"/console/assets/{name}")
        assert response.status == 200 and response.headers.get_first(b"content-type").startswith(media)
        body = (await response.read()).decode()
        assert "http://" not in body.replace("http://www.w3.org/2000/svg", "") and "https://" not in body
        etag = response.headers.get_first(b"etag")
        assert (await kit.client.get(f"/console/assets/{name}", headers={"If-None-Match": etag.decode()})).status == 304
    assert (await kit.client.get("/console/assets/secrets.toml")).status == 404


@pytest.mark.parametrize(("environment", "status"), [("development", 307), ("testing", 404)])
def test_the_root_redirects_to_the_console_in_development_only(monkeypatch, environment, status):
    monkeypatch.setenv("SHEEPFOLD_ENV", environment)
    app = create_app(SETTINGS, plugins=PLUGINS, load_entry_points=False)
    assert any(route.pattern == b"/" for route in app.router.iter_all()) is (status == 307)


async def test_the_console_can_be_disabled_like_any_plugin(sheepfold_app):
    kit = await sheepfold_app({**SETTINGS, "plugins": {"disabled": ["console"]}}, load_entry_points=True)
    assert (await kit.client.get("/-/console", headers=ADMIN_HEADERS)).status == 404
    assert (await kit.client.get("/-/fleet", headers=ADMIN_HEADERS)).status == 200  # the kernel's fleet stays


@pytest.mark.parametrize(
    ("settings", "key"),
    [({"refresh_interval": 0}, "console.refresh_interval"), ({"cookie_secure": "yes"}, "console.cookie_secure")],
)
def test_bad_console_settings_stop_start_up_naming_the_key(settings, key):
    from sheepfold import SettingsError

    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        create_app({"console": settings}, plugins=PLUGINS, load_entry_points=False)


def _request(path: str, cookie_value: str):
    from blacksheep import Request

    request = Request("GET", path.encode(), [(b"cookie", f"sheepfold_console={cookie_value}".encode())])
    request.scope = {"type": "http"}
    return request
