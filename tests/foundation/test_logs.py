"""The request log's formatter: the default time format, computed once per second."""

from __future__ import annotations

import logging

from yitu.core.logs import Formatter


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
