"""Cases on the map and the citizen endpoints: figures against the rows, scope and department
filters, no personal data in map answers, public report validation and follow, public tiles."""

from __future__ import annotations

import io
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import mapbox_vector_tile
import numpy as np
import pytest
from foundation.world import START, World
from PIL import Image
from sqlalchemy import func, select

from yitu.access.jurisdiction import get_node
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, resolve_scope
from yitu.cases import services
from yitu.cases.models import Case, Category
from yitu.cases.workflow import OPEN
from yitu.grid import from_int, vector
from yitu.registry.models import Building

LOCAL = ZoneInfo("Asia/Shanghai")
PERSONAL = {"reporter_name", "reporter_phone", "reporter_email", "description"}


def _cases(world: World) -> list[Case]:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        rows = list(s.scalars(select(Case)))
        s.expunge_all()
    return rows


def test_points_are_open_and_recent_cases_without_personal_data(case_map_world: World) -> None:
    h = case_map_world.headers(Role.OPERATOR)
    r = case_map_world.client.get("/api/v1/map/cases", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    got = {f["properties"]["id"]: f for f in r.json()["features"]}
    now = START
    expected = {c.id for c in _cases(case_map_world)
                if c.state in {s.value for s in OPEN}
                or (c.closed_at is not None
                    and c.closed_at.replace(tzinfo=now.tzinfo) >= now - timedelta(days=7))}
    assert expected and set(got) == expected
    for f in got.values():
        assert not PERSONAL & set(f["properties"])


def test_heat_cells_count_the_cases_of_each_cell(case_map_world: World) -> None:
    h = case_map_world.headers(Role.OPERATOR)
    r = case_map_world.client.get("/api/v1/map/cases/cells?level=5&days=30", headers=h).json()
    counts = {f["properties"]["code"]: f["properties"]["count"] for f in r["features"]}
    since = START - timedelta(days=30)
    recent = [c for c in _cases(case_map_world)
              if c.created_at.replace(tzinfo=START.tzinfo) >= since]
    parents = vector.int_parent(np.array([c.code for c in recent], dtype=np.int64), 5)
    expected: dict[str, int] = {}
    for p in parents.tolist():
        expected[from_int(p)] = expected.get(from_int(p), 0) + 1
    assert counts == expected and sum(counts.values()) == len(recent) > 0
    bad = case_map_world.client.get("/api/v1/map/cases/cells?level=9", headers=h)
    assert bad.status_code == 422 and "level" in bad.text


def test_summary_matches_the_rows(case_map_world: World) -> None:
    s = case_map_world.client.get("/api/v1/map/cases/summary",
                                  headers=case_map_world.headers(Role.OPERATOR)).json()
    rows = _cases(case_map_world)
    open_states = {x.value for x in OPEN}
    assert s["open"] == sum(c.state in open_states for c in rows)
    assert s["overdue"] == sum(
        c.state in open_states and c.due_at is not None
        and c.due_at.replace(tzinfo=START.tzinfo) < START for c in rows)
    assert len(s["trend"]["days"]) == 30 and s["trend"]["days"][-1] == s["today"]

    def local_day(t: datetime) -> str:
        return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(LOCAL).date().isoformat()

    new = Counter(local_day(c.created_at) for c in rows)
    closed = Counter(local_day(c.closed_at) for c in rows if c.closed_at is not None)
    assert s["trend"]["new"] == [new.get(d, 0) for d in s["trend"]["days"]]
    assert s["trend"]["closed"] == [closed.get(d, 0) for d in s["trend"]["days"]]
    assert sum(s["trend"]["new"]) > 0 and sum(s["trend"]["closed"]) > 0
    assert s["new_today"] == s["trend"]["new"][-1]
    assert s["closed_today"] == s["trend"]["closed"][-1]


def test_scope_and_department_filters(case_map_world: World) -> None:
    c = case_map_world.client
    op = {f["properties"]["id"] for f in c.get(
        "/api/v1/map/cases", headers=case_map_world.headers(Role.OPERATOR)).json()["features"]}
    officer = {f["properties"]["id"] for f in c.get(
        "/api/v1/map/cases", headers=case_map_world.headers(Role.TOWNSHIP_OFFICER)).json()[
        "features"]}
    handler = {f["properties"]["id"] for f in c.get(
        "/api/v1/map/cases", headers=case_map_world.headers(Role.DEPT_HANDLER)).json()[
        "features"]}
    rows = {x.id: x for x in _cases(case_map_world)}
    with case_map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        depts = set(services.handler_departments(s, case_map_world.user_ids[Role.DEPT_HANDLER]))
        town = resolve_scope(s, [get_node(s, "420682001000").id])
    assert officer < op and all(town.contains(rows[i].node_id) for i in officer)
    assert handler <= op and all(rows[i].department_id in depts for i in handler)
    for role in (Role.SYS_ADMIN, Role.AUDIT_ADMIN):
        assert c.get("/api/v1/map/cases", headers=case_map_world.headers(role)).status_code == 403


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def _public_category(world: World) -> str:
    return world.client.get("/api/v1/citizen/categories").json()[0]["code"]


def _point(world: World) -> tuple[float, float]:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        lon, lat = s.execute(select(Building.lon, Building.lat).order_by(Building.id)).first()
    return float(lon), float(lat)


def test_citizen_categories_are_public_kinds_only(case_map_world: World) -> None:
    cats = case_map_world.client.get("/api/v1/citizen/categories").json()
    with case_map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        kinds = dict(s.execute(select(Category.code, Category.kind).where(
            Category.valid_to.is_(None))).all())
    assert cats and all(kinds[c["code"]] in ("component", "event") for c in cats)
    assert any(k == "social" for k in kinds.values())  # offered to staff, not to citizens


def test_citizen_report_and_follow(case_map_world: World) -> None:
    w = case_map_world
    lon, lat = _point(w)
    r = w.client.post("/api/v1/citizen/reports", data={
        "category_code": _public_category(w), "lon": str(lon), "lat": str(lat),
        "description": "路灯不亮", "reporter_name": "王小明", "reporter_phone": "13907150000",
    }, files=[("photos", ("a.png", _png(), "image/png"))])
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["state"] == "reported" and out["grid_code"] == from_int(
        int(vector.encode_int([lon], [lat], 10)[0]))
    assert "13907150000" not in r.text and "王小明" not in r.text
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        case = s.scalar(select(Case).where(Case.number == out["number"]))
        assert case is not None and case.source == "citizen" and case.reporter_phone
    followed = w.client.get(f"/api/v1/citizen/reports/{out['number']}")
    assert followed.status_code == 200 and followed.json()["number"] == out["number"]
    assert "13907150000" not in followed.text and "王小明" not in followed.text
    assert [e["action"] for e in followed.json()["timeline"]] == ["report"]


@pytest.mark.parametrize(("change", "field"), [
    ({"lon": "200"}, "lon"),
    ({"description": ""}, "description"),
    ({"category_code": "NOPE"}, "category_code"),
])
def test_bad_citizen_report_names_the_field_and_stores_nothing(
    case_map_world: World, change: dict[str, str], field: str
) -> None:
    w = case_map_world
    lon, lat = _point(w)
    data = {"category_code": _public_category(w), "lon": str(lon), "lat": str(lat),
            "description": "井盖缺失", **change}
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        before = s.scalar(select(func.count()).select_from(Case))
    r = w.client.post("/api/v1/citizen/reports", data=data)
    assert r.status_code == 422 and field in r.text
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == before


def test_a_bad_photo_is_refused_and_nothing_stored(case_map_world: World) -> None:
    w = case_map_world
    lon, lat = _point(w)
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        before = s.scalar(select(func.count()).select_from(Case))
    r = w.client.post("/api/v1/citizen/reports", data={
        "category_code": _public_category(w), "lon": str(lon), "lat": str(lat),
        "description": "垃圾满溢"}, files=[("photos", ("x.png", b"not an image", "image/png"))])
    assert r.status_code == 422 and "photos[0]" in r.text
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == before


def test_a_social_category_is_not_open_to_citizens(case_map_world: World) -> None:
    with case_map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        social = s.scalar(select(Category.code).where(Category.kind == "social").limit(1))
    lon, lat = _point(case_map_world)
    r = case_map_world.client.post("/api/v1/citizen/reports", data={
        "category_code": social, "lon": str(lon), "lat": str(lat), "description": "邻里纠纷"})
    assert r.status_code == 422 and "category_code" in r.text


def test_follow_unknown_or_malformed_number(case_map_world: World) -> None:
    assert case_map_world.client.get("/api/v1/citizen/reports/2099010199999").status_code == 404
    r = case_map_world.client.get("/api/v1/citizen/reports/abc")
    assert r.status_code == 422 and "number" in r.text


def test_public_tiles_show_the_physical_map_to_anyone(case_map_world: World) -> None:
    lon, lat = _point(case_map_world)
    z = 16
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    r = case_map_world.client.get(f"/api/v1/tiles/public/{z}/{x}/{y}.mvt")
    assert r.status_code == 200 and r.headers["cache-control"].startswith("public")
    decoded = mapbox_vector_tile.decode(r.content)
    assert decoded["buildings"]["features"]
    assert set(decoded) <= {"water", "towns", "villages", "grids", "roads", "buildings", "cells"}
    again = case_map_world.client.get(f"/api/v1/tiles/public/{z}/{x}/{y}.mvt",
                                      headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
