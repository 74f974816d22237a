"""Logging with request ids, plus a last-line redaction of anything shaped like an ID or phone.

The code never logs personal values on purpose (tests assert that on every test's captured logs);
the redacting filter is defence in depth on the handler ``yitu serve`` installs.
"""

from __future__ import annotations

import atexit
import logging
import re
import time
from contextvars import ContextVar
from logging.handlers import QueueHandler, QueueListener
from pathlib import Path
from queue import SimpleQueue

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


_listener: QueueListener | None = None


def configure_logging(level: str = "INFO", path: Path | None = None) -> None:
    """Log to stderr (or append to ``path``) with request ids and redaction.

    Lines are formatted and redacted by the caller (so each carries the request id of the
    request that logged it) and written by a background thread (``QueueListener``): every
    request logs a line, and a write that blocks on a busy disk or a slow terminal must not stop
    the event loop. ``stop_logging`` (also run at exit) writes out what is queued."""
    global _listener
    stop_logging()
    target: logging.Handler = (
        logging.FileHandler(path, encoding="utf-8") if path else logging.StreamHandler()
    )
    target.setFormatter(logging.Formatter("%(message)s"))  # formatted already, by the caller
    records: SimpleQueue[logging.LogRecord] = SimpleQueue()
    handler = QueueHandler(records)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(
        Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    _listener = QueueListener(records, target)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_sql()


def stop_logging() -> None:
    """Write out the queued lines and stop the writer thread of ``configure_logging``."""
    global _listener
    if _listener is not None:
        _listener.stop()
        for h in _listener.handlers:
            h.close()
        _listener = None


atexit.register(stop_logging)


def quiet_sql() -> None:
    """SQLAlchemy logs every statement when the root logger is at INFO: costly, and not wanted."""
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
