"""``sheepfold check`` and ``sheepfold serve`` give one verdict over one corpus of bad settings.

Each case is a settings file and environment variables (production unless it
says otherwise), with every installed plugin. ``check`` runs as the CLI
command; ``serve`` runs as the CLI command too, with uvicorn replaced by what
uvicorn does with the factory: build the app and start it (lifespan). Both
must accept or refuse, list the same problems, and never print a secret.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from sheepfold.cli import cli
from sheepfold.jobs import JobRegistry
from tests.support.plugins import needs

#: The corpus checks the settings of these plugins (where plugins are installed alone, it is skipped).
pytestmark = [
    needs(package)
    for package in (
        "sheepfold_redis",
        "sheepfold_ratelimit",
        "sheepfold_sessions",
        "sheepfold_jobs",
        "sheepfold_example",
    )
]

SESSION_SECRET = "corpus-sessions-secret-0123456789abcdefghij"
ADMIN_TOKEN = "corpus-admin-token-0123456789abcdefghijklmn"
#: Values that must never reach the output, whatever the verdict.
SECRETS = (
    SESSION_SECRET,
    ADMIN_TOKEN,
    "short-admin-QZX",
    "short-sessions-QZX",
    "old-secret-QZX",
    "hunter2-redis-QZX",
)
NO_ADMIN = f'[production]\nsessions = {{ secret = "{SESSION_SECRET}" }}\n'
GOOD = NO_ADMIN + f'admin = {{ token = "{ADMIN_TOKEN}" }}\n'


@dataclass
class Case:
    name: str
    settings: str = GOOD
    env: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # a fragment of each expected problem; none: the settings are valid
    environment: str = "production"


CORPUS = [
    Case("valid"),
    Case(
        "admin token missing",
        "[production]\nsessions = { secret = '" + SESSION_SECRET + "' }\n",
        problems=("admin.token: required",),
    ),
    Case(
        "admin token short",
        env={"SHEEPFOLD_ADMIN__TOKEN": "short-admin-QZX"},
        problems=("admin.token: expected at least 32",),
    ),
    Case(
        "admin open on purpose",
        "[production]\nsessions = { secret = '" + SESSION_SECRET + "' }\nadmin = { open = true }\n",
    ),
    Case("admin open is not a boolean", env={"SHEEPFOLD_ADMIN__OPEN": "'yes'"}, problems=("admin.open",)),
    Case(
        "sessions secret missing",
        "[production]\nadmin = { token = '" + ADMIN_TOKEN + "' }\n",
        problems=("sessions.secret: required outside development",),
    ),
    Case(
        "unknown plugin does not hide the rest",
        env={
            "SHEEPFOLD_PLUGINS__DISABLED": '["nope"]',
            "SHEEPFOLD_SESSIONS__SECRET": "short-sessions-QZX",
            "SHEEPFOLD_HTTP__MAX_BODY_SIZE": "0",
        },
        problems=("unknown plugin 'nope'", "sessions.secret: expected at least 32", "http.max_body_size"),
    ),
    Case(
        "a kernel plugin and timeouts out of order",
        GOOD + "plugins = { disabled = ['sheepfold.core'] }\n",
        env={"SHEEPFOLD_SESSIONS__IDLE_TIMEOUT": "600", "SHEEPFOLD_SESSIONS__ABSOLUTE_TIMEOUT": "60"},
        problems=("cannot be disabled", "sessions.absolute_timeout"),
    ),
    Case(
        "plugins.disabled is not a list", GOOD + "plugins = { disabled = 'example' }\n", problems=("plugins.disabled",)
    ),
    Case("plugin names ignore case", GOOD + "plugins = { disabled = ['EXAMPLE'] }\n"),
    Case(
        "a policy defined by an environment variable is found",
        GOOD + "[production.ratelimit]\nroutes = { '/api/*' = 'example' }\n",
        env={"SHEEPFOLD_RATELIMIT__POLICIES__EXAMPLE__LIMIT": "5/minute"},
    ),
    Case(
        "a bad limit from an environment variable",
        env={"SHEEPFOLD_RATELIMIT__POLICIES__EXAMPLE__LIMIT": "banana"},
        problems=("ratelimit.policies.example",),
    ),
    Case(
        "unknown policies by default and by route",
        GOOD + "[production.ratelimit]\ndefault_policy = 'nope'\nroutes = { '/login' = 'Ghost' }\n",
        problems=("ratelimit.default_policy: no rate-limit policy named 'nope'", "no rate-limit policy named 'ghost'"),
    ),
    Case(
        "a worker queue no one declares",
        GOOD + "jobs = { worker = { queues = ['nope'] } }\n",
        problems=("jobs.worker.queues",),
    ),
    Case(
        "a queue configured by an environment variable",
        GOOD + "[production.jobs.queues.audit]\nconcurrency = 1\n[production.jobs]\nworker = { queues = ['audit'] }\n",
        env={"SHEEPFOLD_JOBS__QUEUES__AUDIT__CONCURRENCY": "3"},
    ),
    Case(
        "an unknown adapter and a bad bound",
        env={"SHEEPFOLD_CACHE__BACKEND": "nosuch", "SHEEPFOLD_STATE__MAX_ENTRIES": "-3"},
        problems=("cache.backend: no cache adapter named 'nosuch'", "state.max_entries"),
    ),
    Case(
        "every secret wrong at once",
        "[production]\nsessions = { secret = 'short-sessions-QZX', previous_secrets = ['old-secret-QZX'] }\n",
        env={"SHEEPFOLD_ADMIN__TOKEN": "short-admin-QZX", "SHEEPFOLD_REDIS__URL": "@int 7"},
        problems=(
            "sessions.secret: expected at least 32",
            "sessions.previous_secrets: expected at least 32",
            "admin.token: expected at least 32",
            "redis.url",
        ),
    ),
    Case(
        "both sentinel and cluster",
        GOOD + "redis = { sentinel = { hosts = ['127.0.0.1:26379'] }, cluster = { nodes = ['127.0.0.1:7000'] } }\n"
        "state = { backend = 'redis' }\n",
        problems=("redis: set either",),
    ),
    Case("development needs no secrets", "", environment="development"),
    Case(
        "testing is closed like production",
        "[testing]\nsessions = { secret = '" + SESSION_SECRET + "' }\n",
        problems=("admin.token: required",),
        environment="testing",
    ),
    Case(
        "a password in a URL is never printed",
        env={"SHEEPFOLD_DATABASE__URL": "postgresql+asyncpg://u:hunter2-redis-QZX@h/db", "SHEEPFOLD_ADMIN__TOKEN": ""},
        problems=("admin.token: required",),
    ),
]


def _problems(output: str) -> list[str]:
    return sorted(line[4:] for line in output.splitlines() if line.startswith("  - "))


def _run(command: str, case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    settings = tmp_path / "settings.toml"
    settings.write_text(case.settings)
    env = {"SHEEPFOLD_ENV": case.environment, "SHEEPFOLD_SETTINGS_FILE": str(settings), **case.env}

    def uvicorn_run(target: str, *, factory: bool, **_options: Any) -> None:
        # What uvicorn does with the factory in each worker: import, build, run the lifespan start-up.
        assert target == "sheepfold.app:create_app" and factory
        from sheepfold.app import create_app

        async def lifespan() -> None:
            app = create_app()
            await app.start()
            await app.stop()

        asyncio.run(lifespan())

    monkeypatch.setattr(uvicorn, "run", uvicorn_run)
    result = CliRunner().invoke(cli, [command], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_check_and_serve_give_the_same_verdict_and_problems_and_print_no_secret(case, tmp_path, monkeypatch):
    check_code, check_output = _run("check", case, tmp_path, monkeypatch)
    serve_code, serve_output = _run("serve", case, tmp_path, monkeypatch)

    assert (check_code == 0) is (serve_code == 0) is (not case.problems), (check_output, serve_output)
    assert _problems(check_output) == _problems(serve_output)
    reported = "\n".join(_problems(check_output))
    for fragment in case.problems:
        assert fragment in reported, f"{fragment!r} not in:\n{reported}"
    if case.problems:
        assert len(_problems(check_output)) >= len(case.problems)  # all at once, not the first one
    for secret in SECRETS:
        assert secret not in check_output and secret not in serve_output


def test_a_queue_named_by_an_environment_variable_configures_the_queue_of_the_file(tmp_path, monkeypatch):
    settings = tmp_path / "settings.toml"
    settings.write_text(GOOD + "[production.jobs.queues.audit]\nconcurrency = 1\n")
    monkeypatch.setenv("SHEEPFOLD_ENV", "production")
    monkeypatch.setenv("SHEEPFOLD_SETTINGS_FILE", str(settings))
    monkeypatch.setenv("SHEEPFOLD_JOBS__QUEUES__AUDIT__CONCURRENCY", "3")
    monkeypatch.setenv("SHEEPFOLD_RATELIMIT__POLICIES__EXAMPLE__LIMIT", "5/minute")
    from sheepfold import create_app

    platform = create_app({"ratelimit": {"policies": {"Mapped": {"limit": "1/second"}}}}).platform
    registry = JobRegistry.of(platform)
    assert "AUDIT" not in registry.queues() and registry.concurrency("audit") == 3
    assert set(platform.settings.get("ratelimit.policies")) == {"example", "mapped", "standard", "strict"}
    assert platform.settings.get("ratelimit.policies.example.limit") == "5/minute"
