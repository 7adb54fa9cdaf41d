"""Spare loopback ports for servers that tests start: the kit's :func:`sheepfold.testing.spare_port`."""

from __future__ import annotations

from sheepfold.testing import spare_port

__all__ = ["spare_port"]
