"""The admin token of the testing environment (``settings.toml``, ``[testing]``), ready to send.

The testing environment closes the admin surface as production does, so a
test reading ``/-/*``, ``/metrics`` or the ``/health`` details sends this.
"""

from __future__ import annotations

ADMIN_TOKEN = "testing-only-admin-token-0123456789abcdef"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
#: For a subprocess whose settings file is its own: the same token, as an environment variable.
ADMIN_ENV = {"SHEEPFOLD_ADMIN__TOKEN": ADMIN_TOKEN}
