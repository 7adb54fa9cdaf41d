"""sheepfold's test kit: apps built for a test, served apps, sign-in, service isolation, strict backends, contracts.

Install it with ``pip install 'sheepfold[testing]'``; pytest then loads its
plugin (:mod:`sheepfold.testing.plugin`, entry point ``pytest11``) by itself,
which provides the fixtures ``sheepfold_app``, ``sheepfold_served``,
``redis_url``, ``redis_prefix``, ``redis_settings``, ``postgres_url``,
``pg_schema`` and ``postgres_settings``. The port contract suites are in
:mod:`sheepfold.testing.contracts`. See docs/testing.md.
"""

from sheepfold.testing.apps import TestApp, backend_settings, merge_settings, started_app
from sheepfold.testing.identity import IDENTITY_HEADER, identity_header
from sheepfold.testing.isolation import asyncpg_dsn, fresh_prefix, postgres_schema, remove_redis_prefix
from sheepfold.testing.services import POSTGRES_URL, REDIS_URL, in_ci, require_service, spare_port, unavailable
from sheepfold.testing.strict import BackendMismatch, assert_backends, backend_problems

__all__ = [
    "IDENTITY_HEADER",
    "POSTGRES_URL",
    "REDIS_URL",
    "BackendMismatch",
    "TestApp",
    "assert_backends",
    "asyncpg_dsn",
    "backend_problems",
    "backend_settings",
    "fresh_prefix",
    "identity_header",
    "in_ci",
    "merge_settings",
    "postgres_schema",
    "remove_redis_prefix",
    "require_service",
    "spare_port",
    "started_app",
    "unavailable",
]
