"""The two sides of a run: sheepfold's fleet and the bare app's, each behind its own nginx.

A side starts its instances (and, for sheepfold, a jobs worker), signs its
users in before the load starts, and hands the chaos schedule the processes
it may kill.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import redis

from benchmarks.fleet.nginx import Nginx
from benchmarks.fleet.scenario import Scenario
from benchmarks.fleet.services import HttpService, PostgresServer, RedisServer, Service, free_port

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_FOLDER = Path(__file__).resolve().parent / "platform_plugin"
#: The run's own admin token and session secret: public, for a harness on loopback only.
ADMIN_TOKEN = "fleet-harness-admin-token-0123456789abcdef"
SESSION_SECRET = "fleet-harness-session-secret-0123456789abcdef"
#: ``sessions.cookie_secure`` stays on, as in production: the cookie is ``__Host-session``.
COOKIE = "__Host-session"
_COOKIE_VALUE = re.compile(rf"{re.escape(COOKIE)}=([A-Za-z0-9_.\-]+)")


@dataclass
class SignedIn:
    """A user signed in before the load: ``cookie`` is the session cookie's value."""

    user: str
    cookie: str


@dataclass
class Side:
    """One side's processes; ``instances`` are reached directly by the sampler, the load goes to ``nginx``."""

    name: str
    instances: list[HttpService]
    nginx: Nginx
    worker: Service | None = None
    users: list[SignedIn] = field(default_factory=list)

    def start(self) -> None:
        for instance in self.instances:
            instance.start()
        if self.worker is not None:
            self.worker.start()
        self.nginx.start()

    def stop(self) -> None:
        for service in [self.nginx, *self.instances, *([self.worker] if self.worker else [])]:
            service.stop()


def _deep_merge(base: dict[str, object], extra: dict[str, object]) -> dict[str, object]:
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def platform_settings(scenario: Scenario, redis_server: RedisServer, postgres: PostgresServer) -> dict[str, object]:
    """Production-like settings: every capability on Redis with its fallback, PostgreSQL, the admin token."""
    on_redis = {"backend": "redis", "fallback": "memory"}
    settings: dict[str, object] = {
        "plugins": {"directory": str(PLUGIN_FOLDER)},
        "admin": {"token": ADMIN_TOKEN},
        "redis": {"url": redis_server.url, "prefix": "fleet", "pool_size": 64},
        "state": on_redis,
        "cache": on_redis,
        "sessions": {**on_redis, "secret": SESSION_SECRET},
        "ratelimit": {
            **on_redis,
            "default_policy": "fleet",
            "expected_instances": scenario.instances,
            # Every request is counted; the limit is far above the load so that a 429 means a bug.
            "policies": {"fleet": {"limit": "1000000/minute"}},
        },
        # High-priority jobs run in the enqueuing instance while Redis is down (queue time < 5 s).
        "jobs": {"backend": "arq", "fallback": "spool", "metrics_interval": 1.0, "spool": {"run_priorities": ["high"]}},
        "database": {
            "url": postgres.dsn.replace("postgresql://", "postgresql+asyncpg://"),
            "monitor": {"interval": 1.0},
        },
    }
    return _deep_merge(settings, scenario.settings)


def _executable(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def sheepfold_side(folder: Path, scenario: Scenario, redis_server: RedisServer, postgres: PostgresServer) -> Side:
    settings_file = folder / "settings.json"
    settings_file.write_text(json.dumps({"production": platform_settings(scenario, redis_server, postgres)}, indent=2))
    env = {**os.environ, "SHEEPFOLD_ENV": "production", "SHEEPFOLD_SETTINGS_FILE": str(settings_file)}
    instances = []
    for number in range(scenario.instances):
        port = free_port()
        command = [_executable("sheepfold"), "serve", "--port", str(port), "--log-level", "warning"]
        instances.append(HttpService(f"sheepfold-{number}", command, folder / f"sheepfold-{number}.log", env, port))
    worker = Service("worker", [_executable("sheepfold"), "worker", "--queue", "fleet"], folder / "worker.log", env)
    nginx = Nginx(folder, "sheepfold", [instance.port for instance in instances], COOKIE)
    return Side("sheepfold", instances, nginx, worker)


def bare_side(folder: Path, scenario: Scenario, redis_server: RedisServer, postgres: PostgresServer) -> Side:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FLEET_REDIS_URL": redis_server.url,
        "FLEET_DATABASE_DSN": postgres.dsn,
        "FLEET_COOKIE": COOKIE,
        "FLEET_PREFIX": "fleetbare",
    }
    instances = []
    for number in range(scenario.instances):
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "benchmarks.fleet.bare_app:create_app", "--factory"]
        command += ["--port", str(port), "--log-level", "warning", "--no-access-log", "--loop", "uvloop"]
        command += ["--http", "httptools"]
        instances.append(HttpService(f"bare-{number}", command, folder / f"bare-{number}.log", env, port))
    nginx = Nginx(folder, "bare", [instance.port for instance in instances], COOKIE)
    return Side("bare", instances, nginx)


def sign_in_sheepfold(side: Side, users: int) -> None:
    """Sign ``users`` users in through the example plugin's ``POST /example/login``, before the load."""
    for number in range(users):
        user = f"fleet-user-{number}"
        request = urllib.request.Request(
            side.instances[number % len(side.instances)].base + "/example/login",
            data=json.dumps({"user": user}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            found = _COOKIE_VALUE.search(response.headers.get("Set-Cookie", ""))
        if found is None:
            raise RuntimeError(f"POST /example/login set no {COOKIE} cookie")
        side.users.append(SignedIn(user, found.group(1)))
    _use_sessions_everywhere(side)


def _use_sessions_everywhere(side: Side) -> None:
    """Each signed-in user makes one request on every instance, as users active before the chaos have.

    An instance serves a session through a Redis outage from its near cache of sessions it read
    recently; one it never read cannot be known while Redis is down (docs/operations.md). The load
    alone would not do this: every connection walks the same URI list from its start, so most users
    are first requested seconds into the load, some only during the outage (#18's anonymous requests).
    """
    for signed_in in side.users:
        for instance in side.instances:
            request = urllib.request.Request(
                instance.base + "/fleet/work", headers={"Cookie": f"{COOKIE}={signed_in.cookie}"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                subject = response.headers.get("X-Fleet-Subject")
            if subject != signed_in.user:
                raise RuntimeError(f"GET /fleet/work served {signed_in.user}'s session as {subject!r}")


def sign_in_bare(side: Side, users: int, redis_url: str) -> None:
    """The bare app's sessions: a key per session holding the user, written by hand as such code does."""
    client = redis.Redis.from_url(redis_url)
    for number in range(users):
        user = f"fleet-user-{number}"
        token = os.urandom(24).hex()
        client.set(f"fleetbare:session:{token}", user, ex=3600)
        side.users.append(SignedIn(user, token))
    client.close()
