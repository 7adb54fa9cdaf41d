"""Sessions and cached responses across two real ``sheepfold serve`` processes sharing one Redis.

The instances run the example plugin's routes (``/example/login``, ``logout``,
``whoami`` cached per user, ``sessions``) with sessions and the cache on the
machine's Redis, under a key prefix of this module's own, removed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from sheepfold_sessions import CookieSigner
from tests.ratelimit.fleet import fleet
from tests.support.admin import ADMIN_TOKEN
from tests.support.plugins import disabled_except
from tests.support.redis_adapters import fresh_prefix
from tests.support.served_instance import ServedInstance

COOKIE = "__Host-session"
SECRET = "cross-instance-test-secret-0123456789abcdef"
NEEDED_PLUGINS = {"example", "ratelimit", "redis", "sessions"}


def served_settings(redis_url: str, prefix: str) -> str:
    return f"""
[testing.plugins]
disabled = {disabled_except(NEEDED_PLUGINS)}

[testing.redis]
url = "{redis_url}"
prefix = "{prefix}"

[testing.switch]
probe_interval = 0.2

[testing.sessions]
backend = "redis"
fallback = "memory"
secret = "{SECRET}"

[testing.cache]
backend = "redis"
fallback = "memory"

[testing.ratelimit]
default_policy = ""

[testing.admin]
token = "{ADMIN_TOKEN}"
"""


@pytest.fixture(scope="module")
def instances(redis_url: str) -> Iterator[list[ServedInstance]]:
    prefix = fresh_prefix()
    try:
        with fleet(served_settings(redis_url, prefix), size=2) as served:
            yield served
    finally:
        parts = urlsplit(redis_url)
        client = redis.Redis(host=parts.hostname or "127.0.0.1", port=parts.port or 6379)
        names = list(client.scan_iter(match=f"sheepfold:{prefix}:*", count=500))
        if names:
            client.unlink(*names)
        client.close()


def call(instance: ServedInstance, method: str, path: str, cookie: str | None = None, **kwargs) -> httpx.Response:
    """One request with the session cookie given by hand (the cookie is Secure; this is plain http)."""
    headers = {"cookie": f"{COOKIE}={cookie}"} if cookie else {}
    return httpx.request(method, instance.url + path, headers=headers, timeout=10, **kwargs)


def cookie_of(response: httpx.Response) -> str | None:
    """The session cookie the response sets ("" when it removes it), or None when it sets none."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == COOKIE:
            return rest.split(";")[0]
    return None


def login(instance: ServedInstance, user: str) -> str:
    response = call(instance, "POST", "/example/login", json={"user": user})
    assert response.status_code == 200, response.text
    cookie = cookie_of(response)
    assert cookie
    return cookie


def test_a_session_from_one_instance_is_valid_on_the_other_and_logout_on_either_ends_it(instances):
    a, b = instances
    cookie = login(a, "alice")
    assert call(b, "GET", "/example/whoami", cookie).json()["user"] == "alice"
    listed = call(b, "GET", "/example/sessions", cookie).json()
    assert listed["user"] == "alice" and [entry["current"] for entry in listed["sessions"]] == [True]
    logout = call(b, "POST", "/example/logout", cookie)
    assert logout.status_code == 200 and cookie_of(logout) == ""
    assert call(a, "GET", "/example/whoami", cookie).json()["user"] is None
    assert call(a, "GET", "/example/sessions", cookie).status_code == 401


def test_two_users_on_the_same_cached_route_each_get_their_own_data_on_either_instance(instances):
    a, b = instances
    cookies = {"carol": login(a, "carol"), "dave": login(b, "dave")}
    first_answers = {}
    for instance in (a, b, a, b):
        for user, cookie in cookies.items():
            response = call(instance, "GET", "/example/whoami", cookie)
            assert response.json()["user"] == user
            first_answers.setdefault(user, response.json())
            if instance is b:  # the shared cache answers with what was rendered first, on either instance
                assert response.headers["x-sheepfold-cache"] == "hit"
                assert response.json() == first_answers[user]
    anonymous = call(b, "GET", "/example/whoami")
    assert anonymous.json()["user"] is None


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda cookie: cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"), id="tampered"),
        pytest.param(lambda cookie: cookie[:60], id="truncated"),
        pytest.param(lambda cookie: cookie * 40, id="oversized"),
        pytest.param(
            lambda cookie: CookieSigner("a-secret-of-another-server-0123456789").sign(cookie[:43]), id="foreign"
        ),
        pytest.param(lambda cookie: "A" * 43, id="client-chosen"),
    ],
)
def test_a_cookie_the_server_did_not_issue_gets_a_fresh_session_and_a_2xx(instances, mangle):
    a, b = instances
    genuine = login(a, "erin")
    forged = mangle(genuine)
    whoami = call(b, "GET", "/example/whoami", forged)
    assert whoami.status_code == 200 and whoami.json()["user"] is None
    fresh = call(b, "POST", "/example/login", forged, json={"user": "mallory"})
    assert fresh.status_code == 200
    assert cookie_of(fresh).partition(".")[0] not in (genuine.partition(".")[0], forged.partition(".")[0])
    assert call(a, "GET", "/example/whoami", genuine).json()["user"] == "erin"
