"""The HTTP API: multipart report with a photo, masking by purpose, audit of reads, scope and
department visibility, transitions, errors naming the field, versioned categories."""

from __future__ import annotations

from sqlalchemy import select

from cases.conftest import IN_A, IN_B, CasesWorld
from cases.test_report import jpeg
from yitu.access.roles import Role
from yitu.audit.models import AuditEvent
from yitu.cases.models import Case

PHONE = "13912345678"


def _post(cw: CasesWorld, role: Role, where: tuple[float, float] = IN_A, **extra: str):  # type: ignore[no-untyped-def]
    form = {"category_code": "E0102", "lon": str(where[0]), "lat": str(where[1]),
            "description": "小区门口暴露垃圾", "reporter_name": "李四",
            "reporter_phone": PHONE, **extra}
    return cw.world.client.post("/api/v1/cases", data=form,
                                files=[("photos", ("a.jpg", jpeg(), "image/jpeg"))],
                                headers=cw.world.headers(role))


def test_report_detail_list_masked_and_audited(cases_world: CasesWorld) -> None:
    cw = cases_world
    r = _post(cw, Role.GRID_WORKER)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["state"] == "reported" and body["source"] == "grid_worker"
    assert body["reporter_phone"] == "139****5678" and PHONE not in r.text
    assert len(body["evidence"]) == 1 and body["events"][0]["action"] == "report"
    cid = body["id"]
    page = cw.world.client.get("/api/v1/cases", headers=cw.world.headers(Role.OPERATOR)).json()
    item = next(i for i in page["items"] if i["id"] == cid)
    assert item["tier"] == "L1" and item["reporter_name"] == "李*" and item["description"] is None
    photo = cw.world.client.get(f"/api/v1/cases/{cid}/evidence/{body['evidence'][0]['id']}",
                                headers=cw.world.headers(Role.OPERATOR))
    assert photo.status_code == 200 and photo.content[:3] == b"\xff\xd8\xff"
    with cw.session() as s:
        reads = list(s.scalars(select(AuditEvent).where(AuditEvent.object_type == "case")))
        assert any(str(cid) in str(a.object_ids) and a.purpose == "list" for a in reads)


def test_scope_and_department_visibility(cases_world: CasesWorld) -> None:
    cw = cases_world
    b = _post(cw, Role.OPERATOR, where=IN_B).json()  # 孟楼镇, outside TOWN_A
    for role in (Role.GRID_WORKER, Role.TOWNSHIP_OFFICER):
        r = cw.world.client.get(f"/api/v1/cases/{b['id']}", headers=cw.world.headers(role))
        assert r.status_code == 404
    # the department handler is a member of hw (环卫): sees the case only once it is hw's
    a = _post(cw, Role.OPERATOR, category_code="E0599").json()  # 街面秩序/其他 → 城管 (cgj)
    r = cw.world.client.get(f"/api/v1/cases/{a['id']}", headers=cw.world.headers(Role.DEPT_HANDLER))
    assert r.status_code == 200
    c = _post(cw, Role.OPERATOR, category_code="E0505").json()  # 机动车乱停放 → 交警 (jj)
    r = cw.world.client.get(f"/api/v1/cases/{c['id']}", headers=cw.world.headers(Role.DEPT_HANDLER))
    assert r.status_code == 404
    assert cw.world.client.get("/api/v1/cases", headers=cw.world.headers(Role.MEDIATOR)
                               ).status_code == 403
    r = _post(cw, Role.GRID_WORKER, where=IN_B)
    assert r.status_code == 403


def test_transitions_and_errors(cases_world: CasesWorld) -> None:
    cw = cases_world
    cid = _post(cw, Role.OPERATOR, category_code="E0104").json()["id"]
    h = cw.world.headers(Role.OPERATOR)
    url = f"/api/v1/cases/{cid}/transitions"
    r = cw.world.client.post(url, json={"action": "close"}, headers=h)
    assert r.status_code == 409 and "allowed: accept" in r.json()["detail"]
    r = cw.world.client.post(url, json={"action": "reject"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "note"
    r = cw.world.client.post(url, json={"action": "accept"}, headers=h)
    assert r.status_code == 200 and r.json()["state"] == "accepted"
    assert "verify" in r.json()["allowed_actions"]
    r = cw.world.client.post(url, json={"action": "verify"},
                             headers=cw.world.headers(Role.DEPT_HANDLER))
    assert r.status_code == 403
    r = cw.world.client.post(
        f"/api/v1/cases/{cid}/transitions/with-photos", data={"action": "verify"},
        files=[("photos", ("x.jpg", b"GIF89a not really", "image/jpeg"))],
        headers=cw.world.headers(Role.GRID_WORKER))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "photos[0]"
    r = cw.world.client.post(
        f"/api/v1/cases/{cid}/transitions/with-photos",
        data={"action": "verify", "note": "现场核实属实"},
        files=[("photos", ("v.jpg", jpeg(size=(30, 20)), "image/jpeg"))],
        headers=cw.world.headers(Role.GRID_WORKER))
    assert r.status_code == 200, r.text
    verified = r.json()
    assert verified["state"] == "verified" and len(verified["evidence"]) == 2
    assert verified["evidence"][1]["event_id"] is not None
    r = _post(cw, Role.OPERATOR, category_code="Z0000")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "category_code"
    r = _post(cw, Role.OPERATOR, where=(113.0, 30.0))
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"lon", "lat"}
    r = cw.world.client.post("/api/v1/cases", data={"lon": "1"}, headers=h)
    assert r.status_code == 422 and "category_code" in r.json()["detail"]


def test_category_edit_is_a_new_version_and_cases_keep_theirs(cases_world: CasesWorld) -> None:
    cw = cases_world
    h = cw.world.headers(Role.OPERATOR)
    before = _post(cw, Role.OPERATOR, category_code="E0106").json()
    r = cw.world.client.patch("/api/v1/cases/categories/E0106",
                              json={"time_limits": {"normal": {"handle": [2, "working_hours"]}},
                                    "department": "cgj"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["department"] == "cgj"
    after = _post(cw, Role.OPERATOR, category_code="E0106").json()
    assert after["category_id"] != before["category_id"]
    versions = cw.world.client.get("/api/v1/cases/categories/E0106/versions", headers=h).json()
    assert [v["version"] for v in versions] == [1, 2] and versions[0]["valid_to"] is not None
    with cw.session() as s:
        old = s.get(Case, before["id"])
        assert old is not None and old.category_id == versions[0]["id"]
    r = cw.world.client.patch("/api/v1/cases/categories/E0106",
                              json={"time_limits": {"normal": {"handle": [2, "fortnights"]}}},
                              headers=h)
    assert r.status_code == 422 and "time_limits" in r.json()["detail"]
    r = cw.world.client.patch("/api/v1/cases/categories/E0106", json={"name_zh": "x"},
                              headers=cw.world.headers(Role.GRID_WORKER))
    assert r.status_code == 403
    cats = cw.world.client.get("/api/v1/cases/categories", headers=h).json()
    assert len(cats) > 100 and {c["kind"] for c in cats} == {"component", "event", "social"}


def test_photo_uploads_may_exceed_the_general_body_limit(cases_world: CasesWorld) -> None:
    import io

    import numpy as np
    from PIL import Image

    cw = cases_world
    general = cw.platform.settings.max_body_bytes
    noise = np.random.default_rng(3).integers(0, 255, (1200, 1200, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "JPEG", quality=95)
    big = buf.getvalue()
    assert general < len(big) < 4 * 1024 * 1024  # a phone-sized photo
    r = cw.world.client.post(
        "/api/v1/cases",
        data={"category_code": "E0102", "lon": str(IN_A[0]), "lat": str(IN_A[1]),
              "description": "大图"},
        files=[("photos", ("big.jpg", big, "image/jpeg"))],
        headers=cw.world.headers(Role.OPERATOR))
    assert r.status_code == 201, r.text
    assert r.json()["evidence"][0]["size"] == len(big)
    # every other endpoint keeps the general limit
    r = cw.world.client.post("/api/v1/cases/categories", content=b"{" + b" " * general + b"}",
                             headers={**cw.world.headers(Role.OPERATOR),
                                      "Content-Type": "application/json"})
    assert r.status_code == 413
