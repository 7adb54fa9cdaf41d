"""What a loop that retries Redis logs about an outage: one warning when it starts, one info line when it ends."""

from __future__ import annotations

import logging


class OutageLog:
    """The log lines of one retrying loop (a queue's polls, the wake-up subscription) about a Redis outage.

    An outage is expected (the fallback and ``/health`` report it), so it is
    one warning when Redis first fails, a debug line with the traceback for
    each failed attempt (for whoever needs to see why), and one info line
    when Redis answers again. Every line starts with ``subject``
    (``"queue default"``); ``attempt`` names one try (``"poll"``), and
    ``retrying`` says what the loop does meanwhile (``"polling every 1 s"``).
    """

    def __init__(self, logger: logging.Logger, subject: str, *, attempt: str, retrying: str) -> None:
        self.logger = logger
        self.subject = subject
        self.attempt = attempt
        self.retrying = retrying
        #: Attempts failed since Redis last answered.
        self.failures = 0

    def failed(self, error: BaseException) -> None:
        """An attempt failed because Redis is unavailable."""
        self.failures += 1
        if self.failures == 1:
            self.logger.warning("%s: Redis is unavailable (%s: %s); %s until it answers",
                                self.subject, type(error).__name__, error, self.retrying)  # fmt: skip
        self.logger.debug("%s: %s %d failed: Redis is unavailable",
                          self.subject, self.attempt, self.failures, exc_info=error)  # fmt: skip

    def answered(self) -> None:
        """An attempt succeeded: the end of the outage, if there was one."""
        if self.failures:
            self.logger.info("%s: Redis answers again, after %d failed %ss", self.subject, self.failures, self.attempt)
        self.failures = 0
