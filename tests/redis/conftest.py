from __future__ import annotations

import pytest

from tests.support.ports import spare_port


@pytest.fixture
def unused_port() -> int:
    """A loopback TCP port nothing listens on."""
    return spare_port()
