"""Logging with request ids, plus a last-line redaction of anything shaped like an ID or phone.

The code never logs personal values on purpose (tests assert that on every test's captured logs);
the redacting filter is defence in depth on the handler ``yitu serve`` installs.
"""

from __future__ import annotations

import logging
import re
import time
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

ID_NUMBER_RE = re.compile(r"(?<![0-9])[1-9]\d{16}[0-9Xx](?![0-9])")
MOBILE_RE = re.compile(r"(?<![0-9])1[3-9]\d{9}(?![0-9])")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = MOBILE_RE.sub("<phone>", ID_NUMBER_RE.sub("<id-number>", message))
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class Formatter(logging.Formatter):
    """``logging.Formatter`` with the default time format, the date and time part formatted
    once per second instead of once per record (every request writes a line)."""

    _second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if datefmt:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached = self._second
        if cached[0] != second:
            cached = (second, time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second)))
            self._second = cached  # one tuple: a racing thread sees the old or the new pair
        return f"{cached[1]},{int(record.msecs):03d}"


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(
        Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_sql()


def quiet_sql() -> None:
    """SQLAlchemy logs every statement when the root logger is at INFO: costly, and not wanted."""
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
