"""Every request has an id: a trusted proxy's ``X-Request-ID`` or a generated one, echoed, in problems and logs."""

from __future__ import annotations

import io
import json
import logging
import os
import re

import pytest
from blacksheep import Response, text

from sheepfold import SettingsError, create_app, current_request_id, problem
from sheepfold.http.request_id import RequestIdGenerator
from sheepfold.logs import JsonLogFormatter
from sheepfold.testing.apps import started_app
from tests.kernel.plugins_for_tests import plugin

GENERATED = re.compile(r"[0-9a-f]{17,32}")  # 16 random hex digits, then a counter
logger = logging.getLogger("sheepfold.tests.request_id")


def routes(router):
    async def logged() -> Response:
        logger.warning("handling the logged route")
        return text(current_request_id() or "")

    async def refused() -> Response:
        return problem(409, "taken")

    async def crash() -> Response:
        raise RuntimeError("boom")

    router.add_get("/logged", logged)
    router.add_get("/refused", refused)
    router.add_get("/crash", crash)


ROUTES = plugin("request-id-routes", sheepfold_register_routes=routes)
TRUSTING_THE_TEST_CLIENT = {"request_id": {"trusted_proxies": ["127.0.0.0/8"]}}  # TestClient's peer: 127.0.0.1


def echoed(response) -> str:
    return response.headers.get_first(b"x-request-id").decode()


async def test_a_request_without_an_id_gets_a_generated_one_echoed_and_seen_by_the_handler():
    async with started_app(plugins=[ROUTES]) as served:
        first, second = await served.client.get("/logged"), await served.client.get("/logged")
        assert GENERATED.fullmatch(echoed(first)) and GENERATED.fullmatch(echoed(second))
        assert echoed(first) != echoed(second)
        assert await first.text() == echoed(first)


async def test_an_offered_id_is_ignored_unless_the_peer_is_trusted():
    async with started_app(plugins=[ROUTES]) as served:
        response = await served.client.get("/logged", headers={"X-Request-ID": "from-the-client"})
        assert GENERATED.fullmatch(echoed(response))
    async with started_app({"request_id": {"trusted_proxies": ["10.0.0.0/8"]}}, plugins=[ROUTES]) as served:
        response = await served.client.get("/logged", headers={"X-Request-ID": "from-the-client"})
        assert GENERATED.fullmatch(echoed(response))


async def test_a_trusted_peers_valid_id_is_taken_echoed_and_seen_by_the_handler():
    async with started_app(TRUSTING_THE_TEST_CLIENT, plugins=[ROUTES]) as served:
        offered = "req-42_a.b:c+d/e=f@g"
        response = await served.client.get("/logged", headers={"X-Request-ID": offered})
        assert echoed(response) == offered
        assert await response.text() == offered


@pytest.mark.parametrize(
    "offered",
    ["x" * 129, "has space", 'quote"d', "semi;colon", "caf\u00e9", "new\tline"],
    ids=["too-long", "space", "quote", "semicolon", "non-ascii", "tab"],
)
async def test_a_trusted_peers_invalid_id_is_replaced_by_a_generated_one(offered):
    async with started_app(TRUSTING_THE_TEST_CLIENT, plugins=[ROUTES]) as served:
        response = await served.client.get("/logged", headers={"X-Request-ID": offered})
        assert response.status == 200
        assert GENERATED.fullmatch(echoed(response))


async def test_problem_bodies_carry_the_request_id_of_handlers_errors_crashes_and_unknown_routes():
    async with started_app(plugins=[ROUTES]) as served:
        for path, status in (("/refused", 409), ("/crash", 500), ("/nowhere", 404)):
            response = await served.client.get(path)
            assert response.status == status
            body = await response.json()
            assert body["request_id"] == echoed(response), path


def test_problem_outside_a_request_has_no_request_id():
    assert b"request_id" not in problem(400, "no request here").content.body


async def test_log_records_made_during_a_request_carry_its_id():
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(JsonLogFormatter())
    logger.addHandler(handler)
    try:
        async with started_app(TRUSTING_THE_TEST_CLIENT, plugins=[ROUTES]) as served:
            await served.client.get("/logged", headers={"X-Request-ID": "trace-me-1"})
            generated = echoed(await served.client.get("/logged"))
    finally:
        logger.removeHandler(handler)
    records = [json.loads(line) for line in written.getvalue().splitlines()]
    assert [(record["message"], record["request_id"]) for record in records] == [
        ("handling the logged route", "trace-me-1"),
        ("handling the logged route", generated),
    ]


def test_trusted_proxies_must_be_networks():
    with pytest.raises(SettingsError, match=r"request_id\.trusted_proxies"):
        create_app({"request_id": {"trusted_proxies": ["10.0.0.0/8", "not-a-network"]}}, load_entry_points=False)
    with pytest.raises(SettingsError, match=r"request_id\.trusted_proxies"):
        create_app({"request_id": {"trusted_proxies": "10.0.0.0/8"}}, load_entry_points=False)


def test_generated_ids_are_unique_and_a_forked_child_gets_ids_of_its_own():
    generator = RequestIdGenerator()
    ids = {generator.new() for _ in range(1000)}
    assert len(ids) == 1000
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child: write one id and leave at once
        os.write(writer, generator.new())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    from_child = os.read(reader, 64)
    os.close(reader)
    assert from_child[:16] != generator.new()[:16]  # another prefix, so no id of the parent's repeats
