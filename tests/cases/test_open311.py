"""Open311 GeoReport v2 façade over real HTTP (httpx through the ASGI app), JSON and XML,
checked field by field against the spec's element lists and example shapes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from foundation.world import START
from sqlalchemy import func, insert, select

from cases.conftest import IN_A, IN_B, IN_NEIGHBOUR, OUTSIDE, CasesWorld, make_cases_world
from yitu.access.roles import Role
from yitu.audit.models import AuditEvent
from yitu.cases import services
from yitu.cases.models import Case, CaseEvent, Category
from yitu.cases.open311 import issue_key, revoke_key
from yitu.cases.open311_models import Open311Key, Open311Request
from yitu.registry.models import Address, Building

BASE = "/open311/v2"
SERVICE_FIELDS = [
    "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
]
REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long",
    "media_url",
]
ATTRIBUTE_FIELDS = [
    "variable", "code", "datatype", "required", "datatype_description", "order",
    "description", "values",
]
PHONE = "13987654321"


@dataclass
class O311:
    cw: CasesWorld
    key: str
    batch_key: str
    address_id: int
    address_text: str

    @property
    def client(self) -> Any:
        return self.cw.world.client

    def post(self, fmt: str = "json", **form: Any) -> Any:
        return self.client.post(f"{BASE}/requests.{fmt}", data=form)

    def report(self, **form: Any) -> Any:
        defaults = {"api_key": self.key, "service_code": "E0102", "lat": IN_A[1],
                    "long": IN_A[0], "description": "路边有暴露垃圾"}
        return self.post(**{**defaults, **form})

    def case_count(self) -> int:
        with self.cw.session() as s:
            return int(s.scalar(select(func.count()).select_from(Case)) or 0)


@pytest.fixture(scope="module")
def o311(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[O311]:
    cw = make_cases_world(databases.fresh(), tmp_path_factory.mktemp("o311"))
    with cw.session() as s:
        key = issue_key(s, "市民通小程序", "test", START)
        batch_key = issue_key(s, "batch client", "test", START, batch=True)
        building = s.scalars(select(Building).order_by(Building.id)).first()
        assert building is not None
        address = Address(
            kind="building", full_name="湖北省老河口市光化街道测试路1号", road="测试路",
            door_number="1", building_name=building.name, building_id=building.id,
            code=building.code, node_id=building.node_id,
        )
        s.add(address)
        s.flush()
        ids = (address.id, address.full_name)
    yield O311(cw, key, batch_key, *ids)
    cw.world.close()


def xml_root(response: Any) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def children(element: ET.Element) -> list[str]:
    return [c.tag for c in element]


# --- discovery, services, definitions -----------------------------------------------------------


def test_discovery_json_and_xml(o311: O311) -> None:
    body = o311.client.get(f"{BASE}/discovery.json").json()
    assert list(body) == ["changeset", "contact", "key_service", "endpoints"]
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = xml_root(o311.client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("./endpoints/endpoint/formats/format")] == [
        "text/xml", "application/json",
    ]
    assert root.findtext("./endpoints/endpoint/specification") == endpoint["specification"]


def test_service_list_is_the_public_categories(o311: O311) -> None:
    services_json = o311.client.get(f"{BASE}/services.json").json()
    with o311.cw.session() as s:
        public = s.scalars(
            select(Category.code).where(Category.kind.in_(["component", "event"]),
                                        Category.valid_to.is_(None)).order_by(Category.code)
        ).all()
    assert [x["service_code"] for x in services_json] == list(public)
    assert not any(x["service_code"].startswith("S") for x in services_json)  # social: not offered
    for service in services_json:
        assert list(service) == SERVICE_FIELDS
        assert service["type"] == "realtime"
        assert service["metadata"] is service["service_code"].startswith("C")
    cover = next(x for x in services_json if x["service_code"] == "C0101")
    assert cover["service_name"] == "上水井盖" and cover["group"] == "公用设施"
    root = xml_root(o311.client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    assert len(root) == len(services_json)
    first = root[0]
    assert first.tag == "service" and children(first) == SERVICE_FIELDS
    assert first.findtext("metadata") in ("true", "false")


def test_service_definition(o311: O311) -> None:
    body = o311.client.get(f"{BASE}/services/C0101.json").json()
    assert body["service_code"] == "C0101"
    (attribute,) = body["attributes"]
    assert list(attribute) == ATTRIBUTE_FIELDS
    assert attribute["code"] == "component_code" and attribute["datatype"] == "string"
    assert attribute["variable"] is True and attribute["required"] is False
    root = xml_root(o311.client.get(f"{BASE}/services/C0101.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "C0101"
    assert children(root.find("./attributes/attribute")) == ATTRIBUTE_FIELDS  # type: ignore[arg-type]
    event = o311.client.get(f"{BASE}/services/E0102.json").json()
    assert event == {"service_code": "E0102", "attributes": []}


@pytest.mark.parametrize("code", ["X9999", "S0101"])
def test_unknown_or_social_service_is_404_in_spec_error_format(o311: O311, code: str) -> None:
    r = o311.client.get(f"{BASE}/services/{code}.json")
    assert r.status_code == 404
    (error,) = r.json()
    assert error["code"] == 404 and code in error["description"]
    r = o311.client.get(f"{BASE}/services/{code}.xml")
    assert r.status_code == 404
    root = xml_root(r)
    assert root.tag == "errors" and children(root) == ["error"]
    assert children(root[0]) == ["code", "description"]


def test_unknown_format_and_jurisdiction(o311: O311) -> None:
    r = o311.client.get(f"{BASE}/services.csv")
    assert r.status_code == 404 and xml_root(r).tag == "errors"
    r = o311.client.get(f"{BASE}/services.json", params={"jurisdiction_id": "sfgov.org"})
    assert r.status_code == 404 and "jurisdiction_id" in r.json()[0]["description"]
    ok = o311.client.get(f"{BASE}/services.json", params={"jurisdiction_id": "laohekou.gov.cn"})
    empty = o311.client.get(f"{BASE}/services.json", params={"jurisdiction_id": ""})
    assert ok.status_code == empty.status_code == 200  # empty optional argument = absent


# --- POST ----------------------------------------------------------------------------------------


def test_post_spec_example_shape_creates_a_case(o311: O311) -> None:
    # The spec's example request, with our codes and a place inside the county.
    form = {
        "api_key": o311.key, "jurisdiction_id": "laohekou.gov.cn", "service_code": "C0101",
        "lat": str(IN_A[1]), "long": str(IN_A[0]), "address_string": "",
        "email": "zhang@example.cn", "device_id": "tt222111", "account_id": "123456",
        "first_name": "三", "last_name": "张", "phone": PHONE,
        "description": f"上水井盖缺失，很危险，联系 {PHONE}",
        "media_url": "https://img.example.cn/2212426634_5ed477a060.jpg",
    }
    r = o311.post("json", **form)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    (answer,) = r.json()
    assert list(answer) == ["service_request_id", "service_notice", "account_id"]
    number = answer["service_request_id"]
    assert len(number) == 13 and number.startswith("20261126")
    assert "处置时限 2 小时" in answer["service_notice"]
    with o311.cw.session() as s:
        case = services.get_case(s, number)
        assert (case.source, case.state, case.category_code) == ("open311", "reported", "C0101")
        assert (case.reporter_name, case.reporter_phone) == ("张三", PHONE)
        assert case.reporter_email == "zhang@example.cn"
        extra = s.scalar(select(Open311Request).where(Open311Request.case_id == case.id))
        assert extra is not None and extra.media_url == form["media_url"]
        assert case.external_ref == f"open311:{extra.token}"
        (event,) = services.case_events(s, case.id)
        assert (event.action, event.actor_external) == ("report", "open311:市民通小程序")
        audit = s.scalars(select(AuditEvent).where(AuditEvent.object_type == "case")).all()
        assert any(
            a.actor_username == "open311:市民通小程序" and a.action == "create"
            and json.loads(a.object_ids) == [case.id]
            for a in audit
        )
    # Reading it back: the reporter's contact never leaves, the phone in the text is masked.
    r = o311.client.get(f"{BASE}/requests/{number}.json")
    (req,) = r.json()
    assert list(req) == REQUEST_FIELDS
    assert req["status"] == "open" and "待受理" in req["status_notes"]
    assert (req["service_code"], req["service_name"]) == ("C0101", "上水井盖")
    assert (req["lat"], req["long"]) == (IN_A[1], IN_A[0])
    assert req["media_url"] == form["media_url"]
    assert req["requested_datetime"] == "2026-11-26T17:00:00+08:00"
    assert req["expected_datetime"] is None  # no disposal deadline before dispatch
    assert "139****4321" in req["description"]
    for secret in (PHONE, "zhang@example.cn", "张三"):
        assert secret not in r.text
    root = xml_root(o311.client.get(f"{BASE}/requests/{number}.xml"))
    assert root.tag == "service_requests"
    assert children(root[0]) == REQUEST_FIELDS
    assert root[0].findtext("service_request_id") == number
    assert PHONE not in ET.tostring(root, encoding="unicode")


def test_post_xml_with_attribute(o311: O311) -> None:
    r = o311.post("xml", api_key=o311.key, service_code="C0117", lat=IN_B[1], long=IN_B[0],
                  description="路灯不亮", **{"attribute[component_code]": "4206820117000001"})
    # The code is well-formed but names no component in the inventory: a 400 naming it.
    assert r.status_code == 400
    root = xml_root(r)
    assert "attribute[component_code]" in root.findtext("./error/description", "")
    r = o311.post("xml", api_key=o311.key, service_code="C0117", lat=IN_B[1], long=IN_B[0],
                  description="路灯不亮")
    assert r.status_code == 200
    root = xml_root(r)
    assert root.tag == "service_requests"
    assert children(root[0]) == ["service_request_id", "service_notice", "account_id"]


@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        ({"api_key": None}, 403, "api_key is required"),
        ({"api_key": "not-a-key"}, 403, "invalid api_key"),
        ({"service_code": None}, 400, "service_code is required"),
        ({"service_code": "X0000"}, 404, "service_code X0000 not found"),
        ({"service_code": "S0101"}, 404, "service_code S0101 not found"),
        ({"lat": None, "long": None}, 400, "a location is required"),
        ({"long": None}, 400, "lat and long must be sent together"),
        ({"lat": "north"}, 400, "lat must be a number"),
        ({"lat": OUTSIDE[1], "long": OUTSIDE[0]}, 400, "outside the county"),
        ({"description": "<b>垃圾</b>"}, 400, "must not contain HTML"),
        ({"description": "垃" * 4001}, 400, "longer than 4000"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
        ({"phone": "call me"}, 400, "phone"),
        ({"email": "not-an-address"}, 400, "email"),
        ({"attribute[colour]": "red"}, 400, "attribute[colour] is not defined"),
        ({"address_id": "999999", "lat": None, "long": None}, 400, "address_id"),
        ({"address_string": "月球1号", "lat": None, "long": None}, 400, "address_string"),
        ({"jurisdiction_id": "sfgov.org"}, 404, "jurisdiction_id"),
    ],
)
def test_post_bad_input_stores_nothing(
    o311: O311, form: dict[str, Any], status: int, says: str
) -> None:
    before = o311.case_count()
    defaults = {"api_key": o311.key, "service_code": "E0102", "lat": IN_A[1], "long": IN_A[0],
                "description": "暴露垃圾"}
    sent = {k: v for k, v in {**defaults, **form}.items() if v is not None}
    for fmt in ("json", "xml"):
        r = o311.post(fmt, **sent)
        assert r.status_code == status, r.text
        if fmt == "json":
            (error,) = r.json()
            assert error["code"] == status and says in error["description"]
        else:
            assert says in xml_root(r).findtext("./error/description", "")
    assert o311.case_count() == before


def test_post_by_standard_address(o311: O311) -> None:
    for form in ({"address_id": str(o311.address_id)}, {"address_string": o311.address_text}):
        r = o311.report(lat="", long="", **form)  # empty optional arguments count as absent
        assert r.status_code == 200, r.text
        number = r.json()[0]["service_request_id"]
        (req,) = o311.client.get(f"{BASE}/requests/{number}.json").json()
        with o311.cw.session() as s:
            building = s.scalar(
                select(Building).join(Address, Address.building_id == Building.id)
                .where(Address.id == o311.address_id)
            )
            assert building is not None
            assert (req["lat"], req["long"]) == (round(building.lat, 7), round(building.lon, 7))
        if "address_id" in form:
            assert req["address_id"] == o311.address_id
        else:
            assert req["address"].startswith(o311.address_text)


def test_batch_key_gets_a_token(o311: O311) -> None:
    r = o311.report(api_key=o311.batch_key)
    assert r.status_code == 200
    (answer,) = r.json()
    assert list(answer) == ["token", "service_notice", "account_id"]
    token = answer["token"]
    (resolved,) = o311.client.get(f"{BASE}/tokens/{token}.json").json()
    assert resolved["token"] == token
    number = resolved["service_request_id"]
    root = xml_root(o311.client.get(f"{BASE}/tokens/{token}.xml"))
    assert root.findtext("./request/service_request_id") == number
    assert children(root[0]) == ["service_request_id", "token"]
    missing = o311.client.get(f"{BASE}/tokens/ffffffffffffffff.json")
    assert missing.status_code == 404


def test_revoked_key_is_refused(o311: O311) -> None:
    with o311.cw.session() as s:
        key = issue_key(s, "short-lived", "test", START)
    assert o311.report(api_key=key).status_code == 200
    with o311.cw.session() as s:
        revoke_key(s, "short-lived", START)
        row = s.scalar(select(Open311Key).where(Open311Key.key_hash.is_not(None),
                                                Open311Key.client.like("short-lived (revoked%")))
        assert row is not None and row.revoked_at is not None
    r = o311.report(api_key=key)
    assert r.status_code == 403 and "invalid api_key" in r.json()[0]["description"]


# --- GET requests with the spec's filters -------------------------------------------------------


def _close(cw: CasesWorld, number: str, at: datetime) -> None:
    steps = [
        ("accept", Role.OPERATOR, {}), ("verify", Role.GRID_WORKER, {}),
        ("register", Role.OPERATOR, {}), ("dispatch", Role.OPERATOR, {}),
        ("handle", Role.DEPT_HANDLER, {}), ("feedback", Role.DEPT_HANDLER, {}),
        ("check", Role.GRID_WORKER, {}), ("close", Role.OPERATOR, {}),
    ]
    with cw.session() as s:
        for i, (action, role, data) in enumerate(steps):
            services.transition(s, number, action, actor=cw.principal(role), data=data,
                                at=at + timedelta(minutes=5 * (i + 1)))


def test_get_requests_filters(o311: O311) -> None:
    cw = o311.cw
    numbers = {}
    with cw.session() as s:
        for label, code, where, days in (
            ("old", "E0102", IN_A, 100), ("a", "E0102", IN_A, 10), ("b", "C0101", IN_A, 5),
            ("c", "E0104", IN_A, 2),
        ):
            case = services.submit_report(
                s, category_code=code, lon=where[0], lat=where[1], description=f"filter {label}",
                source="citizen", at=START - timedelta(days=days),
            )
            numbers[label] = case.number
    _close(cw, numbers["a"], START - timedelta(days=10))

    def ids(**params: str) -> list[str]:
        r = o311.client.get(f"{BASE}/requests.json", params=params)
        assert r.status_code == 200, r.text
        return [x["service_request_id"] for x in r.json()]

    default = ids()
    assert numbers["old"] not in default  # default window: the last 90 days
    assert {numbers["a"], numbers["b"], numbers["c"]} <= set(default)
    closed = ids(status="closed")
    assert numbers["a"] in closed and numbers["b"] not in closed
    assert numbers["a"] not in ids(status="open")
    assert set(ids(status="open,closed")) == set(default)
    assert set(ids(service_code="C0101,E0104")) & set(numbers.values()) == {
        numbers["b"], numbers["c"],
    }
    window = ids(start_date=(START - timedelta(days=6)).isoformat(),
                 end_date=(START - timedelta(days=1)).isoformat())
    assert numbers["b"] in window and numbers["a"] not in window and numbers["c"] in window
    # service_request_id overrides every other argument (even the date window).
    assert set(ids(service_request_id=f"{numbers['old']},{numbers['a']}",
                   service_code="C0101", status="open")) == {numbers["old"], numbers["a"]}
    old = o311.client.get(f"{BASE}/requests/{numbers['old']}.json").json()[0]
    assert old["status"] == "open"
    done = o311.client.get(f"{BASE}/requests/{numbers['a']}.json").json()[0]
    assert done["status"] == "closed" and "已结案" in done["status_notes"]
    assert done["agency_responsible"] == "市环境卫生管理处"
    assert done["expected_datetime"] is not None
    with cw.session() as s:
        case = services.get_case(s, numbers["a"])
        assert done["updated_datetime"] == (
            case.closed_at.replace(tzinfo=START.tzinfo).astimezone(
                datetime.fromisoformat(done["requested_datetime"]).tzinfo
            ).isoformat(timespec="seconds")
        )
    newest_first = [x for x in default if x in numbers.values()]
    assert newest_first == [numbers["c"], numbers["b"], numbers["a"]]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2026-11-20T00:00:00"}, "time zone"),
        ({"end_date": "yesterday"}, "end_date is not a W3C date-time"),
        ({"start_date": "2026-11-20T00:00:00Z", "end_date": "2026-11-10T00:00:00Z"}, "before"),
        ({"status": "pending"}, "status must be open or closed"),
    ],
)
def test_get_requests_bad_arguments(o311: O311, params: dict[str, str], says: str) -> None:
    for fmt in ("json", "xml"):
        r = o311.client.get(f"{BASE}/requests.{fmt}", params=params)
        assert r.status_code == 400
        text = r.json()[0]["description"] if fmt == "json" else xml_root(r).findtext(
            "./error/description", "")
        assert says in text


def test_unknown_request_is_404(o311: O311) -> None:
    r = o311.client.get(f"{BASE}/requests/2026010100001.xml")
    assert r.status_code == 404
    assert xml_root(r).findtext("./error/code") == "404"


def test_social_cases_never_appear(o311: O311) -> None:
    with o311.cw.session() as s:
        social = services.submit_report(
            s, category_code="S0101", lon=IN_NEIGHBOUR[0], lat=IN_NEIGHBOUR[1],
            description="邻里纠纷", source="hotline", at=START - timedelta(hours=1),
        )
        number = social.number
    assert o311.client.get(f"{BASE}/requests/{number}.json").status_code == 404
    listed = o311.client.get(f"{BASE}/requests.json", params={"service_request_id": number})
    assert listed.json() == []


def test_at_most_1000_requests(o311: O311) -> None:
    with o311.cw.session() as s:
        template = s.scalars(select(Case).where(Case.kind == "event")).first()
        assert template is not None
        skip = {"id", "number", "row_version", "created_at", "updated_at"}
        columns = {c.key: getattr(template, c.key) for c in Case.__table__.columns
                   if c.key not in skip}
        rows = [
            {**columns, "number": f"2026090{i:06d}", "created_at": START - timedelta(minutes=i),
             "updated_at": START, "row_version": 1}
            for i in range(1005)
        ]
        s.execute(insert(Case), rows)
        total = s.scalar(select(func.count()).select_from(Case))
        assert total is not None and total > 1000
        assert s.scalar(select(func.count()).select_from(CaseEvent)) is not None
    body = o311.client.get(f"{BASE}/requests.json").json()
    assert len(body) == 1000
    root = xml_root(o311.client.get(f"{BASE}/requests.xml"))
    assert len(root) == 1000
