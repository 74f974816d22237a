"""GeoReport v2 wire formats: XML (required by the spec) and JSON (its Spark-convention mapping),
and the spec's error shape.

XML: no namespace, ``<?xml version="1.0" encoding="utf-8"?>``, a list is a container element
with one child per item (``services/service``, ``service_requests/request``, ``errors/error``…),
``null`` is an empty element, booleans are ``true``/``false``. JSON: the same data as arrays and
objects. Date-times are W3C/ISO 8601 with an offset (China Standard Time, +08:00).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from fastapi.responses import Response

# A list-valued field is written as <container><item/>…</container>.
LIST_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}
FORMATS = ("xml", "json")
XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
CST = timezone(timedelta(hours=8), "CST")  # 北京时间: what a client in the county expects to read


class Open311Error(Exception):
    """An error in the spec's format: HTTP status plus ``[{code, description}]``."""

    def __init__(self, status: int, description: str, code: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.errors = [{"code": code or status, "description": description}]


def w3(value: datetime | None) -> str | None:
    """A W3C date-time with its offset (the spec requires the zone)."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    return aware.astimezone(CST).isoformat(timespec="seconds")


def parse_w3(field: str, raw: str) -> datetime:
    """Parse a W3C date or date-time; a date-time without a zone is refused (spec: must carry
    one). A bare date is midnight China time."""
    text = raw.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), CST)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(
            400, f"{field} is not a W3C date-time (e.g. 2026-11-01T00:00:00+08:00)"
        ) from None
    if value.tzinfo is None:
        raise Open311Error(400, f"{field} needs a time zone (Z or an offset such as +08:00)")
    return value


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _append(parent: ET.Element, tag: str, value: Any) -> None:
    element = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, item in value.items():
            _append(element, key, item)
    elif isinstance(value, list | tuple):
        item_tag = LIST_ITEMS[tag]
        for item in value:
            _append(element, item_tag, item)
    else:
        element.text = _scalar(value)


def to_xml(root: str, data: Any) -> bytes:
    """``data`` (a list for list roots, a dict otherwise) as a spec XML document."""
    element = ET.Element(root)
    if isinstance(data, list):
        for item in data:
            _append(element, LIST_ITEMS[root], item)
    else:
        for key, item in data.items():
            _append(element, key, item)
    body = ET.tostring(element, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode()


def render(fmt: str, root: str, data: Any, status: int = 200) -> Response:
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        return Response(body, status_code=status, media_type=JSON_TYPE)
    return Response(to_xml(root, data), status_code=status, media_type=XML_TYPE)


def error_response(fmt: str, error: Open311Error) -> Response:
    # An unknown format still gets an answer: in XML, the format every client must read.
    return render(fmt if fmt in FORMATS else "xml", "errors", error.errors, error.status)
