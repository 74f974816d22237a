"""Logging with request ids, plus a last-line redaction of anything shaped like an ID or phone.

The code never logs personal values on purpose (tests assert that on every test's captured logs);
the redacting filter is defence in depth on the handler ``yitu serve`` installs.
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
import time
from collections import deque
from contextvars import ContextVar
from pathlib import Path

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


class BatchWriter(logging.Handler):
    """Format each record on the caller's thread (with its request id, redacted) and write the
    lines from a background thread, all that have gathered every ``interval`` seconds in one
    write.

    Every request logs a line: a ``write()`` on the event loop blocks when the disk is busy,
    and a queue whose writer thread wakes per line (``QueueListener``) costs a thread wake-up
    and a GIL hand-off per request. Appending to a deque wakes nobody."""

    def __init__(self, target: logging.StreamHandler, interval: float = 0.05) -> None:  # type: ignore[type-arg]
        super().__init__()
        self.target = target
        self.interval = interval
        self._lines: deque[str] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="yitu-log-writer", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._write_out()
        self._write_out()

    def _write_out(self) -> None:
        lines = []
        try:
            while True:
                lines.append(self._lines.popleft())
        except IndexError:
            pass
        if lines:
            with self.target.lock or threading.Lock():
                self.target.stream.write("\n".join(lines) + "\n")
                self.target.flush()

    def close(self) -> None:
        """Write out what is queued and stop the writer thread."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self._write_out()
        self.target.close()
        super().close()


_writer: BatchWriter | None = None


def configure_logging(level: str = "INFO", path: Path | None = None) -> None:
    """Log to stderr (or append to ``path``) with request ids and redaction.

    Lines are formatted and redacted by the caller (so each carries the request id of the
    request that logged it) and written by a background thread (``BatchWriter``), so that a
    write that blocks on a busy disk or a slow terminal does not stop the event loop.
    ``stop_logging`` (also run at exit) writes out what is queued."""
    global _writer
    stop_logging()
    target: logging.StreamHandler = (  # type: ignore[type-arg]
        logging.FileHandler(path, encoding="utf-8") if path else logging.StreamHandler()
    )
    handler = BatchWriter(target)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(
        Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    _writer = handler
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_sql()


def stop_logging() -> None:
    """Write out the queued lines and stop the writer thread of ``configure_logging``."""
    global _writer
    if _writer is not None:
        root = logging.getLogger()
        if _writer in root.handlers:
            root.removeHandler(_writer)
        _writer.close()
        _writer = None


atexit.register(stop_logging)


def quiet_sql() -> None:
    """SQLAlchemy logs every statement when the root logger is at INFO: costly, and not wanted."""
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
