"""The intake API: review queue (list, merge, reject), files, provenance — permissions,
jurisdiction scope, masking, audit. On the foundation world (users of every role) with the
small demo county loaded and two noisy people sources imported and linked."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from foundation.conftest import DatabaseFactory
from foundation.world import World, build_world
from sqlalchemy import func, select, text

from yitu.access.roles import Role
from yitu.demo.generate import Demo
from yitu.demo.load import load
from yitu.intake.linkage import LinkSettings
from yitu.intake.mapping import load_mapping
from yitu.intake.models import ReviewItem, SourceRecord
from yitu.intake.service import run_import
from yitu.intake.synth import read_county, write_sources
from yitu.people.models import Person

ID_RE = re.compile(r"\d{17}[\dXx]")
MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
# A low merge threshold's opposite: a strict one, so that this small import has a queue to
# work (the default thresholds leave only a handful of items on the small county).
STRICT = LinkSettings(merge_probability=0.999999, review_probability=0.5)


@pytest.fixture(scope="module")
def world(
    databases: DatabaseFactory,
    small_demo: Demo,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    w = build_world(databases.fresh(), tmp_path_factory.mktemp("world"))
    db = w.platform.db
    load(db, small_demo)
    out = tmp_path_factory.mktemp("sources")
    write_sources(read_county(db), out, 1, only=("police", "health"))
    with db.engine.begin() as conn:
        for table in ("person_orgs", "person_houses", "people"):
            conn.execute(text(f"DELETE FROM {table}"))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))

    def now() -> datetime:
        return datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    for s in manifest["sources"]:
        run_import(
            db,
            s["source"],
            load_mapping(out / s["mapping"]),
            [out / s["file"]],
            now=now,
            batch_size=2000,
            link_settings=STRICT,
        )
    yield w
    w.close()


def _pending(w: World) -> list[dict]:
    r = w.client.get("/api/v1/intake/reviews?limit=200", headers=w.headers(Role.OPERATOR))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _audit(w: World, detail_like: str) -> int:
    with w.platform.db.engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM audit_events WHERE detail LIKE :d"), {"d": detail_like}
        ).scalar_one()


def test_queue_is_masked_scoped_and_audited(world: World) -> None:
    w = world
    items = _pending(w)
    assert len(items) >= 3
    body = json.dumps(items, ensure_ascii=False)
    assert not ID_RE.search(body) and not MOBILE_RE.search(body)
    for item in items:
        for side in ("a", "b"):
            rec = item[side]
            assert rec["id_number"] is None or "*" in rec["id_number"]
            assert rec["person_id"] is not None
        assert 0.5 <= item["probability"] < 0.999999
        assert item["a"]["person_id"] != item["b"]["person_id"]
    assert _audit(w, "intake review queue") >= 1
    # A township officer sees only items in their town; never more than the county operator.
    r = w.client.get("/api/v1/intake/reviews?limit=200", headers=w.headers(Role.TOWNSHIP_OFFICER))
    assert r.status_code == 200
    assert len(r.json()["items"]) <= len(items)
    with w.platform.db.engine.connect() as conn:
        outside = conn.execute(
            text(
                "SELECT count(*) FROM intake_reviews r "
                "JOIN jurisdiction_nodes n ON n.id = r.node_id "
                "WHERE n.path NOT LIKE '%420682001000/%'"
            )
        ).scalar_one()
    if outside:
        assert len(r.json()["items"]) < len(items)
    # Keyset pages cover the queue once.
    seen, cursor = [], None
    while True:
        url = "/api/v1/intake/reviews?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = w.client.get(url, headers=w.headers(Role.OPERATOR)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [i["id"] for i in items]


@pytest.mark.parametrize(
    "role",
    [Role.GRID_WORKER, Role.DEPT_HANDLER, Role.SYS_ADMIN, Role.AUDIT_ADMIN, Role.COURT_LIAISON],
)
def test_roles_without_intake_review_are_refused(world: World, role: Role) -> None:
    for method, url in (
        ("get", "/api/v1/intake/reviews"),
        ("post", "/api/v1/intake/reviews/1/merge"),
        ("post", "/api/v1/intake/reviews/1/reject"),
        ("get", "/api/v1/intake/files"),
    ):
        r = getattr(world.client, method)(url, headers=world.headers(role))
        assert r.status_code == 403, (role, url)


def test_reject_then_decided_items_conflict(world: World) -> None:
    w = world
    item = _pending(w)[-1]
    r = w.client.post(
        f"/api/v1/intake/reviews/{item['id']}/reject", headers=w.headers(Role.OPERATOR)
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected" and r.json()["decided_by"] == "u_operator"
    again = w.client.post(
        f"/api/v1/intake/reviews/{item['id']}/reject", headers=w.headers(Role.OPERATOR)
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    missing = w.client.post("/api/v1/intake/reviews/999999/merge", headers=w.headers(Role.OPERATOR))
    assert missing.status_code == 404
    assert _audit(w, f"intake review {item['id']}: not the same person") == 1


def test_merge_moves_everything_to_one_person(world: World) -> None:
    w = world
    item = _pending(w)[0]
    pa, pb = item["a"]["person_id"], item["b"]["person_id"]
    keep, gone = min(pa, pb), max(pa, pb)
    with w.platform.db.engine.connect() as conn:
        n_records = conn.execute(
            select(func.count()).where(SourceRecord.person_id.in_([pa, pb]))
        ).scalar_one()
        people_before = conn.execute(select(func.count()).select_from(Person)).scalar_one()
    r = w.client.post(
        f"/api/v1/intake/reviews/{item['id']}/merge", headers=w.headers(Role.OPERATOR)
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": item["id"],
        "status": "merged",
        "kept_person_id": keep,
        "removed_person_id": gone,
    }
    with w.platform.db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Person)).scalar_one() == (
            people_before - 1
        )
        assert conn.execute(select(Person.id).where(Person.id == gone)).first() is None
        assert (
            conn.execute(select(func.count()).where(SourceRecord.person_id == keep)).scalar_one()
            == n_records
        )
        status = conn.execute(
            select(ReviewItem.status, ReviewItem.merged_into).where(ReviewItem.id == item["id"])
        ).one()
        assert tuple(status) == ("merged", keep)
        prov = conn.execute(
            text(
                "SELECT r.person_id FROM intake_person_sources ps JOIN intake_records r "
                "ON r.id = ps.name_record_id WHERE ps.person_id = :p"
            ),
            {"p": keep},
        ).scalar_one()
        assert prov == keep
    assert _audit(w, f"intake review {item['id']}: merged person {gone} into {keep}") == 1
    gone_r = w.client.get(f"/api/v1/people/{gone}", headers=w.headers(Role.OPERATOR))
    assert gone_r.status_code == 404
    # The merged person's provenance lists both records' sources, the chosen value marked.
    p = w.client.get(f"/api/v1/intake/people/{keep}/provenance", headers=w.headers(Role.OPERATOR))
    assert p.status_code == 200, p.text
    fields = p.json()["fields"]
    names = [f for f in fields if f["field"] == "name"]
    assert len(names) == n_records and sum(f["chosen"] for f in names) == 1
    ids = [f for f in fields if f["field"] == "id_number"]
    assert all(v["value"] is None or "*" in v["value"] for v in ids)  # L2: 6 + 4 shown
    assert not ID_RE.search(p.text) and not MOBILE_RE.search(p.text)
    assert {f["source"] for f in fields} <= {"police", "health"}


def test_files_endpoint_counts_add_up(world: World) -> None:
    r = world.client.get("/api/v1/intake/files", headers=world.headers(Role.OPERATOR))
    assert r.status_code == 200
    files = r.json()
    assert {f["source"] for f in files} == {"police", "health"}
    for f in files:
        assert f["complete"] and f["pending"] == 0
        assert f["accepted"] + f["merged"] + f["rejected"] == f["rows_total"]


def test_provenance_needs_detail_permission_and_scope(world: World) -> None:
    w = world
    with w.platform.db.engine.connect() as conn:
        pid = conn.execute(select(Person.id).order_by(Person.id)).scalars().first()
    assert (
        w.client.get(
            f"/api/v1/intake/people/{pid}/provenance", headers=w.headers(Role.COURT_LIAISON)
        ).status_code
        == 403
    )
    assert (
        w.client.get(
            "/api/v1/intake/people/999999/provenance", headers=w.headers(Role.OPERATOR)
        ).status_code
        == 404
    )
