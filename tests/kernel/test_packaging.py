"""The kernel alone is a working platform and pulls in no Redis, arq or SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

HEAVY = ("redis", "arq", "sqlalchemy", "asyncpg", "alembic")


def test_the_kernel_distribution_depends_on_no_backend_library():
    requirements = [r.split(";")[0].lower() for r in metadata.requires("sheepfold") or []]
    assert not [r for r in requirements if r.startswith(HEAVY)]


def test_building_and_starting_a_kernel_only_app_imports_no_backend_library():
    script = (
        "import asyncio, sys\n"
        "from sheepfold import create_app\n"
        "app = create_app(load_entry_points=False)\n"
        "asyncio.run(app.start()); asyncio.run(app.stop())\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
