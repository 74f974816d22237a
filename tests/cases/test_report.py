"""Reports: routing, duplicates and repeats, bad input naming the field, photo evidence (magic
bytes, size, EXIF geotag and time), and nothing half-stored when the transaction fails."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from cases.conftest import IN_A, IN_B, IN_NEIGHBOUR, OUTSIDE, CasesWorld
from yitu.access.roles import Role
from yitu.cases import services
from yitu.cases.models import Case, CaseEvent, Component, Department, Evidence
from yitu.core.errors import ForbiddenError, InvalidInputError


def jpeg(gps: tuple[float, float] | None = None, size: tuple[int, int] = (64, 48)) -> bytes:
    img = Image.new("RGB", size, (200, 80, 40))
    exif = Image.Exif()
    exif[0x0132] = "2026:11:26 16:30:00"  # DateTime (Beijing)
    if gps:
        lon, lat = gps

        def dms(v: float) -> tuple[float, float, float]:
            d = int(v)
            m = int((v - d) * 60)
            return (float(d), float(m), round(((v - d) * 60 - m) * 60, 4))

        exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lon)}
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def report(cw: CasesWorld, **kw: Any) -> Case:
    args: dict[str, Any] = {"category_code": "E0102", "lon": IN_A[0], "lat": IN_A[1],
                            "description": "暴露垃圾", "source": "citizen",
                            "at": cw.world.clock.now(), "evidence_dir": cw.evidence_dir}
    args.update(kw)
    with cw.session() as s:
        return services.submit_report(s, **args)


def test_routing_grid_township_and_department(cases_world: CasesWorld) -> None:
    cw = cases_world
    with cw.session() as s:
        depts = dict(s.execute(select(Department.id, Department.code)).all())
    a = report(cw, category_code="E0104", lon=IN_A[0], lat=IN_A[1])
    n = report(cw, category_code="E0104", lon=IN_NEIGHBOUR[0], lat=IN_NEIGHBOUR[1])
    b = report(cw, category_code="S0101", lon=IN_B[0], lat=IN_B[1], description="邻里纠纷")
    with cw.session() as s:
        from yitu.access.models import JurisdictionNode as N

        code = dict(s.execute(select(N.id, N.code)).all())
    assert code[a.node_id] == "420682001001001" and code[a.township_id] == "420682001000"
    assert code[n.node_id] == "420682001001002"
    assert code[b.node_id] == "420682100001001" and code[b.township_id] == "420682100000"
    assert depts[a.department_id] == "hw"  # 道路不洁 → 环卫
    assert depts[b.department_id] == "town-420682100"  # social type → the township itself
    assert a.code > 0 and a.number.startswith("20261126")


def test_component_routes_to_its_maintainer(cases_world: CasesWorld) -> None:
    cw = cases_world
    with cw.session() as s:
        ids = dict(s.execute(select(Department.code, Department.id)).all())
        s.add(Component(object_code="4206820101000001", category_code="C0101", name="上水井盖",
                        owner_department_id=ids["swgs"], maintainer_department_id=ids["cgj"],
                        lon=IN_A[0], lat=IN_A[1], code=0))
    c = report(cw, category_code="C0101", component_code="4206820101000001",
               description="井盖缺失")
    assert c.department_id == ids["cgj"] and c.component_id is not None
    with pytest.raises(InvalidInputError, match="component_code"):
        report(cw, category_code="C0102", component_code="4206820101000001")


def test_duplicates_and_repeats(cases_world: CasesWorld) -> None:
    cw = cases_world
    here = (111.6631, 32.3712)
    first = report(cw, category_code="E0108", lon=here[0], lat=here[1])
    near = report(cw, category_code="E0108", lon=here[0] + 0.0002, lat=here[1])  # ≈ 19 m
    far = report(cw, category_code="E0108", lon=here[0] + 0.002, lat=here[1])  # ≈ 190 m
    other = report(cw, category_code="E0113", lon=here[0], lat=here[1])
    assert near.duplicate_of == first.id and near.repeat_count == 1
    assert far.duplicate_of is None and other.duplicate_of is None
    third = report(cw, category_code="E0108", lon=here[0], lat=here[1] + 0.0001)
    assert third.repeat_count == 2  # repeated cases at one place are counted


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"lon": OUTSIDE[0], "lat": OUTSIDE[1]}, "lon"),
        ({"category_code": "X9999"}, "category_code"),
        ({"description": "  "}, "description"),
        ({"source": "pigeon"}, "source"),
        ({"lon": float("nan")}, "lon"),
        ({"photos": [b"%PDF-1.4 not an image"]}, "photos[0]"),
        ({"reporter": {"phone": "call me"}}, "reporter.phone"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    cases_world: CasesWorld, kw: dict[str, Any], field: str
) -> None:
    cw = cases_world
    with cw.session() as s:
        before = s.scalar(select(func.count()).select_from(Case))
    with pytest.raises(InvalidInputError) as err:
        report(cw, **kw)
    assert field in [e["field"] for e in err.value.extra["errors"]]
    with cw.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == before


def test_oversized_and_renamed_photos_are_refused(
    cases_world: CasesWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    cw = cases_world
    monkeypatch.setenv("YITU_CASES_MAX_PHOTO_BYTES", "2048")
    from yitu.cases.config import get_case_settings

    get_case_settings.cache_clear()
    try:
        big = jpeg(size=(400, 400))
        assert len(big) > 2048
        with pytest.raises(InvalidInputError, match=r"photos\[1\].*larger"):
            report(cw, photos=[jpeg(), big])
    finally:
        monkeypatch.delenv("YITU_CASES_MAX_PHOTO_BYTES")
        get_case_settings.cache_clear()
    # a GIF named .jpg: the content decides, and GIF is not accepted
    gif = io.BytesIO()
    Image.new("P", (4, 4)).save(gif, "GIF")
    with pytest.raises(InvalidInputError, match="JPEG, PNG"):
        report(cw, photos=[gif.getvalue()])
    truncated = jpeg()[:200]
    with pytest.raises(InvalidInputError, match=r"photos\[0\]"):
        report(cw, photos=[truncated])


def test_photo_evidence_keeps_hash_geotag_and_time(cases_world: CasesWorld) -> None:
    cw = cases_world
    data = jpeg(gps=(111.6651, 32.3752))
    c = report(cw, photos=[data])
    with cw.session() as s:
        (ev,) = s.scalars(select(Evidence).where(Evidence.case_id == c.id))
        event = s.get(CaseEvent, ev.event_id)
    import hashlib

    assert ev.sha256 == hashlib.sha256(data).hexdigest() and ev.size == len(data)
    assert ev.mime == "image/jpeg" and (ev.width, ev.height) == (64, 48)
    assert abs(ev.lon - 111.6651) < 1e-4 and abs(ev.lat - 32.3752) < 1e-4
    assert ev.taken_at is not None and ev.taken_at.hour == 8  # 16:30 Beijing = 08:30 UTC
    assert (cw.evidence_dir / ev.path).read_bytes() == data
    assert event is not None and event.action == "report"


def test_failed_transaction_removes_the_photos_it_wrote(cases_world: CasesWorld) -> None:
    cw = cases_world
    data = jpeg(size=(70, 50))
    with cw.session() as s:
        before = s.scalar(select(func.count()).select_from(Case))
    with pytest.raises(RuntimeError, match="crash"), cw.session() as s:
        services.submit_report(s, category_code="E0102", lon=IN_A[0], lat=IN_A[1],
                               description="x", source="citizen", photos=[data],
                               at=cw.world.clock.now(), evidence_dir=cw.evidence_dir)
        written = list(Path(cw.evidence_dir).rglob("*.jpg"))
        assert any(p.read_bytes() == data for p in written)  # on disk before commit
        raise RuntimeError("crash before commit")
    assert not any(p.read_bytes() == data for p in Path(cw.evidence_dir).rglob("*.jpg"))
    with cw.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == before


def test_grid_worker_reports_only_in_their_grid(cases_world: CasesWorld) -> None:
    cw = cases_world
    gw = cw.principal(Role.GRID_WORKER)
    c = report(cw, source="grid_worker", actor=gw)
    assert c.reporter_user_id == gw.user_id
    with pytest.raises(ForbiddenError):
        report(cw, source="grid_worker", actor=gw, lon=IN_B[0], lat=IN_B[1])


def test_case_numbers_are_per_local_day(cases_world: CasesWorld) -> None:
    cw = cases_world
    t = cw.world.clock.now() + timedelta(days=3)
    a = report(cw, at=t, category_code="E0599")
    b = report(cw, at=t, category_code="E0599", lon=IN_A[0] + 0.005)
    assert a.number[:8] == "20261129" and int(b.number[8:]) == int(a.number[8:]) + 1
