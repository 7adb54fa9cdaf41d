"""A client's malformed frame that the ASGI server logs as an error of its own: said at INFO instead.

uvicorn closes a text frame that is not UTF-8 with 1007 (as RFC 6455 asks), but logs it on
``uvicorn.error`` at ERROR with a traceback, as if the server had failed. It is the client's
mistake, like every other malformed message of the ``/ws`` protocol (see
:mod:`sheepfold_realtime.protocol`): this filter lowers that record to INFO without the traceback,
so a client cannot fill the error log (or page an operator) by sending bad frames.
"""

from __future__ import annotations

import logging

#: Messages of the ASGI server that describe a client's malformed frame, never a fault of the server.
CLIENT_FAULTS = frozenset({"Invalid UTF-8 sequence received from client."})
SERVER_LOGGER = "uvicorn.error"


class ClientFaultsAtInfo(logging.Filter):
    """Lowers the records in :data:`CLIENT_FAULTS` to INFO and drops their traceback; passes everything."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in CLIENT_FAULTS:
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            record.exc_info = record.exc_text = None
        return True


def lower_client_faults() -> None:
    """Install :class:`ClientFaultsAtInfo` on the server's logger once per process (idempotent)."""
    logger = logging.getLogger(SERVER_LOGGER)
    if not any(isinstance(installed, ClientFaultsAtInfo) for installed in logger.filters):
        logger.addFilter(ClientFaultsAtInfo())
