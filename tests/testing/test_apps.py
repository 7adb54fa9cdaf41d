"""The kit's apps: built by create_app, started, stopped after; sign-in with roles; eager jobs; served on a port."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from blacksheep import Response, Router, json
from blacksheep.server.websocket import WebSocket

from sheepfold import Identity, Jobs, Platform, SettingsError
from sheepfold.jobs import JobContext, JobDefinition, JobStatus
from sheepfold.testing import started_app
from tests.support.plugins import needs

SECRET = "kit-test-secret-0123456789abcdefghijkl"


def _routes(router: Router, platform: Platform) -> None:
    async def whoami(identity: Identity) -> Response:
        return json({"subject": identity.subject, "roles": sorted(identity.roles)})

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text((await websocket.receive_text()).upper())
        await websocket.close()

    router.add_get("/whoami", whoami)
    router.add_ws("/echo", echo)


async def double(ctx: JobContext, value: int) -> int:
    return value * 2


routes = SimpleNamespace(
    name="kit-test-routes", sheepfold_register_routes=_routes, sheepfold_jobs=lambda: [JobDefinition(double)]
)


async def test_an_app_of_the_factory_serves_its_plugins_and_is_stopped_after(sheepfold_app):
    kit = await sheepfold_app(plugins=[routes])
    assert kit.app.started
    assert (await kit.client.get("/whoami")).status == 200


async def test_started_app_stops_the_app_on_exit():
    async with started_app(plugins=[routes]) as kit:
        assert kit.app.started
    assert not kit.app.started


async def test_sign_in_without_sessions_makes_the_request_that_user_with_roles(sheepfold_app):
    kit = await sheepfold_app(plugins=[routes])
    headers = await kit.sign_in("alice", roles=["admin", "moderator"])
    answer = await (await kit.client.get("/whoami", headers=headers)).json()
    assert answer == {"subject": "alice", "roles": ["admin", "moderator"]}
    assert (await (await kit.client.get("/whoami")).json())["subject"] is None


@needs("sheepfold_sessions")
async def test_sign_in_with_sessions_goes_through_the_session_cookie(sheepfold_app):
    import sheepfold_sessions.plugin as sessions

    kit = await sheepfold_app({"sessions": {"secret": SECRET}}, plugins=[sessions, routes])
    headers = await kit.sign_in("bob", roles=["editor"])
    assert set(headers) == {"cookie"}
    answer = await (await kit.client.get("/whoami", headers=headers)).json()
    assert answer == {"subject": "bob", "roles": ["editor"]}


async def test_eager_jobs_are_done_when_enqueue_returns(sheepfold_app):
    kit = await sheepfold_app(plugins=[routes], eager_jobs=True)
    jobs = kit.platform.require(Jobs)
    job_id = await jobs.enqueue("double", (21,))
    assert await jobs.status(job_id) is JobStatus.COMPLETE
    assert (await jobs.result(job_id)).value == 42


async def test_a_served_app_answers_http_and_websocket_on_a_real_port(sheepfold_served):
    served = await sheepfold_served(plugins=[routes])
    headers = await served.sign_in("carol")
    assert (await served.http.get("/whoami", headers=headers)).json()["subject"] == "carol"
    async with served.websocket("/echo") as connection:
        await connection.send("baa")
        assert await connection.recv() == "BAA"


async def test_bad_settings_fail_the_factory_naming_the_key(sheepfold_app):
    with pytest.raises(SettingsError, match=r"jobs\.eager"):
        await sheepfold_app({"jobs": {"eager": "sometimes"}})
