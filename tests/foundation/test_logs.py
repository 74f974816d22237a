"""The request log: the default time format computed once per second; lines formatted (with
their request id, redacted) by the caller and written by a background thread."""

from __future__ import annotations

import logging
from pathlib import Path

from yitu.core.logs import Formatter, configure_logging, request_id_var, stop_logging


def test_time_matches_the_standard_formatter_across_seconds() -> None:
    ours, standard = (
        Formatter("%(asctime)s %(message)s"),
        logging.Formatter("%(asctime)s %(message)s"),
    )
    record = logging.LogRecord("yitu.request", logging.INFO, "", 0, "GET /x 200", None, None)
    for created in (1_764_000_000.001, 1_764_000_000.999, 1_764_000_001.5, 1_764_000_000.25):
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == standard.format(record)
    assert ours.formatTime(record, "%H") == standard.formatTime(record, "%H")


def test_lines_reach_the_file_with_their_request_id_and_redacted(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    path = tmp_path / "serve.log"
    try:
        configure_logging("INFO", path)
        for rid in ("req-1", "req-2"):
            token = request_id_var.set(rid)
            logging.getLogger("yitu.request").info("GET /x %d phone %s", 200, "13812345678")
            request_id_var.reset(token)
        stop_logging()  # the writer thread writes out what is queued
        lines = path.read_text(encoding="utf-8").splitlines()
    finally:
        stop_logging()
        root.handlers[:], level = saved
        root.setLevel(level)
    assert [line.split(" ", 3)[3] for line in lines] == [
        "[req-1] yitu.request: GET /x 200 phone <phone>",
        "[req-2] yitu.request: GET /x 200 phone <phone>",
    ]
