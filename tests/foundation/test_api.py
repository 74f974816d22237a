"""HTTP conventions: problem+json, limits, request ids, pagination, local docs."""

from __future__ import annotations

import re

from foundation.world import World
from yitu.access.roles import Role

PROBLEM = "application/problem+json"


def test_unknown_route_is_problem_json(world: World) -> None:
    r = world.client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["detail"] == "no endpoint at /api/v1/nothing-here"
    assert body["status"] == 404 and body["instance"] == "/api/v1/nothing-here"


def test_wrong_method_names_method_and_path(world: World) -> None:
    r = world.client.delete("/api/v1/people/count", headers=world.headers(Role.OPERATOR))
    assert r.status_code == 405 and "DELETE" in r.json()["detail"]


def test_validation_error_names_the_field(world: World) -> None:
    r = world.client.get("/api/v1/people?gender=X", headers=world.headers(Role.OPERATOR))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert r.json()["errors"][0]["field"] == "query.gender"
    assert r.json()["detail"].startswith("query.gender:")


def test_page_size_limit(world: World) -> None:
    h = world.headers(Role.OPERATOR)
    r = world.client.get("/api/v1/people?limit=201", headers=h)
    assert r.status_code == 422 and r.json()["detail"] == "limit must be between 1 and 200"
    assert world.client.get("/api/v1/people?limit=0", headers=h).status_code == 422
    assert len(world.client.get("/api/v1/people?limit=2", headers=h).json()["items"]) == 2


def test_unknown_sort_is_explained(world: World) -> None:
    r = world.client.get("/api/v1/people?sort=name", headers=world.headers(Role.OPERATOR))
    assert r.status_code == 422 and "sort must be one of: id, -id" in r.json()["detail"]


def test_body_size_limit(world: World) -> None:
    big = "x" * (1_048_576 + 10)
    r = world.client.post(
        "/api/v1/auth/login", content=big, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
    assert "larger than 1048576 bytes" in r.json()["detail"]


def test_request_id_is_echoed_and_logged(world: World, caplog) -> None:  # type: ignore[no-untyped-def]
    r = world.client.get("/api/v1/health", headers={"X-Request-ID": "trace-abc.123"})
    assert r.headers["x-request-id"] == "trace-abc.123"
    assert any("GET /api/v1/health 200" in m for m in caplog.messages)
    generated = world.client.get("/api/v1/health").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    # An unsafe incoming id is replaced, not echoed into logs.
    odd = world.client.get("/api/v1/health", headers={"X-Request-ID": "bad id\nwith newline"})
    assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["x-request-id"])


def test_error_carries_the_request_id(world: World) -> None:
    r = world.client.get("/api/v1/people", headers={"X-Request-ID": "req-42"})
    assert r.json()["request_id"] == "req-42"


def test_request_log_has_no_query_string(world: World, caplog) -> None:  # type: ignore[no-untyped-def]
    world.client.get("/api/v1/people?gender=F&age_min=70", headers=world.headers(Role.OPERATOR))
    lines = [r.getMessage() for r in caplog.records if r.name == "yitu.request"]
    assert "GET /api/v1/people 200" in lines[-1] and "age_min" not in lines[-1]


def test_cursor_pagination_visits_everyone_once(world: World) -> None:
    h = world.headers(Role.OPERATOR)
    for sort in ("id", "-created_at", "-node"):
        seen: list[int] = []
        url = f"/api/v1/people?limit=4&sort={sort}"
        while url:
            body = world.client.get(url, headers=h).json()
            seen += [i["id"] for i in body["items"]]
            url = (
                f"/api/v1/people?limit=4&sort={sort}&cursor={body['next_cursor']}"
                if body["next_cursor"]
                else ""
            )
        assert sorted(seen) == sorted(p.id for p in world.people) and len(seen) == len(set(seen))


def test_docs_are_served_locally(world: World) -> None:
    html = world.client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/static/swagger-ui/") for a in assets)
    assert "http://" not in html and "https://" not in html
    for asset in assets:
        assert world.client.get(asset).status_code == 200
    spec = world.client.get("/openapi.json").json()
    assert "/api/v1/people" in spec["paths"] and "/api/v1/audit/events" in spec["paths"]


def test_root_is_the_map(world: World) -> None:
    # The front page is the map UI (yitu.web); its own tests live in tests/web.
    r = world.client.get("/", follow_redirects=False)
    assert r.status_code == 200 and "/static/web/vendor/maplibre-gl.js" in r.text


def test_jurisdiction_tree_browse(world: World) -> None:
    h = world.headers(Role.SYS_ADMIN)
    roots = world.client.get("/api/v1/jurisdictions", headers=h).json()
    assert [(n["code"], n["name"]) for n in roots] == [("420682000000", "老河口市")]
    towns = world.client.get("/api/v1/jurisdictions?parent=420682", headers=h).json()
    assert len(towns) == 13 and all(n["level"] == "town" for n in towns)
    r = world.client.get("/api/v1/jurisdictions?parent=12ab", headers=h)
    assert r.status_code == 422 and "must be 6, 9, 12 or 15 digits" in r.json()["detail"]
