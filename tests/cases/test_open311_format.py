"""The Open311 wire codec: any request list written as XML reads back (xml.etree) to the same
values as its JSON, whatever the text holds (markup characters, CJK, quotes); W3C times."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yitu.cases.open311_format import Open311Error, parse_w3, render, to_xml, w3

# XML 1.0 cannot carry most control characters; the façade never emits them (descriptions are
# checked for HTML, not for control characters, so keep to what XML can hold).
xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=60,
)
scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), xml_text)
request = st.fixed_dictionaries({
    "service_request_id": st.from_regex(r"\A20261126\d{5}\Z"),
    "status": st.sampled_from(["open", "closed"]),
    "status_notes": scalar,
    "description": xml_text,
    "lat": st.floats(-90, 90, allow_nan=False),
    "long": st.floats(-180, 180, allow_nan=False),
    "media_url": scalar,
})


def _as_xml_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@settings(max_examples=150, deadline=None)
@given(st.lists(request, max_size=5))
def test_xml_and_json_carry_the_same_values(requests: list[dict[str, object]]) -> None:
    as_json = json.loads(render("json", "service_requests", requests).body)
    assert as_json == requests
    xml = to_xml("service_requests", requests)
    assert xml.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<service_requests')
    root = ET.fromstring(xml)
    assert [child.tag for child in root] == ["request"] * len(requests)
    for element, original in zip(root, requests, strict=True):
        assert [c.tag for c in element] == list(original)
        for child in element:
            text = child.text or ""
            want = _as_xml_value(original[child.tag])
            # XML normalises a lone CR to LF on reading; the value is otherwise exact.
            assert text == want.replace("\r\n", "\n").replace("\r", "\n")


def test_nested_lists_use_the_spec_item_names() -> None:
    definition = {"service_code": "C0101", "attributes": [
        {"code": "component_code", "values": [{"key": "1", "name": "一"}]},
    ]}
    root = ET.fromstring(to_xml("service_definition", definition))
    assert root.find("./attributes/attribute/values/value/name").text == "一"  # type: ignore[union-attr]
    discovery = ET.fromstring(to_xml("discovery", {"endpoints": [{"formats": ["text/xml"]}]}))
    assert discovery.find("./endpoints/endpoint/formats/format").text == "text/xml"  # type: ignore[union-attr]


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
                    timezones=st.just(UTC)))
def test_w3_round_trip(moment: datetime) -> None:
    text = w3(moment)
    assert text is not None and text.endswith("+08:00")
    assert parse_w3("start_date", text) == moment.replace(microsecond=0)


def test_parse_w3_forms() -> None:
    assert parse_w3("start_date", "2026-11-01") == datetime(
        2026, 11, 1, tzinfo=timezone(timedelta(hours=8)))
    assert parse_w3("end_date", "2010-01-01T00:00:00Z") == datetime(2010, 1, 1, tzinfo=UTC)
    for bad, says in (("2026-11-01T00:00:00", "time zone"), ("soon", "W3C")):
        with pytest.raises(Open311Error, match=says):
            parse_w3("start_date", bad)
