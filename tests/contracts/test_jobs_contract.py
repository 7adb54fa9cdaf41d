"""The kit's contract on every adapter of tests/contracts/adapters.py (conftest.py's fixture)."""

from __future__ import annotations

from sheepfold.testing.contracts import JobsContract


class TestJobsContract(JobsContract):
    pass
