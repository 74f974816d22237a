"""The public citizen report is limited per client IP: a token bucket per address (burst, then
a rate an hour), configured by ``YITU_CITIZEN_REPORT_BURST`` / ``YITU_CITIZEN_REPORT_PER_HOUR``;
over the limit a 429 problem+json with ``Retry-After`` and nothing stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from foundation.world import World
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.api.app import create_app
from yitu.cases.models import Case, Category
from yitu.registry.models import Building
from yitu.web.ratelimit import TokenBuckets
from yitu.web.settings import web_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_the_rate_and_keys_apart() -> None:
    clock = FakeClock()
    b = TokenBuckets(per_hour=60, burst=3, clock=clock)  # one a minute
    assert [b.take("a") for _ in range(3)] == [0, 0, 0]
    assert b.take("a") == 60
    assert b.take("b") == 0  # another address has its own bucket
    clock.now += 30
    assert b.take("a") == 30  # half a token back: 30 s to the next
    clock.now += 30
    assert b.take("a") == 0
    clock.now += 10 * 3600  # a long pause refills to the burst, not beyond
    assert [b.take("a") for _ in range(4)] == [0, 0, 0, 60]


def test_the_least_recently_used_keys_are_dropped_beyond_max_keys() -> None:
    b = TokenBuckets(per_hour=1, burst=1, max_keys=2, clock=FakeClock())
    assert b.take("a") == 0 and b.take("b") == 0 and b.take("c") == 0
    assert b.take("c") > 0 and b.take("b") > 0  # still held
    assert b.take("a") == 0  # dropped: starts again with a full bucket


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="per_hour"):
        TokenBuckets(per_hour=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        TokenBuckets(per_hour=1, burst=0)


@settings(max_examples=200, deadline=None)
@given(
    per_hour=st.floats(min_value=1, max_value=7200),
    burst=st.integers(min_value=1, max_value=10),
    steps=st.lists(st.tuples(st.floats(min_value=0, max_value=600), st.sampled_from("xy")),
                   max_size=60),
)
def test_granted_never_exceed_burst_plus_rate_and_waiting_is_enough(
    per_hour: float, burst: int, steps: list[tuple[float, str]]
) -> None:
    clock = FakeClock()
    b = TokenBuckets(per_hour=per_hour, burst=burst, clock=clock)
    start = clock.now
    granted = {"x": 0, "y": 0}
    for dt, key in steps:
        clock.now += dt
        wait = b.take(key)
        if wait == 0:
            granted[key] += 1
        else:
            clock.now += wait  # the promised wait is always enough
            assert b.take(key) == 0
            granted[key] += 1
    elapsed = clock.now - start
    for n in granted.values():
        assert n <= burst + per_hour * elapsed / 3600 + 1e-6


@pytest.fixture
def limited_client(
    case_map_world: World, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("YITU_CITIZEN_REPORT_BURST", "2")
    monkeypatch.setenv("YITU_CITIZEN_REPORT_PER_HOUR", "1")
    web_settings.cache_clear()
    try:
        with TestClient(create_app(case_map_world.platform), client=("203.0.113.7", 5000)) as c:
            yield c
    finally:
        web_settings.cache_clear()


def _report(w: World, category: str) -> dict[str, str]:
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        first = select(Building.lon, Building.lat).order_by(Building.id).limit(1)
        lon, lat = s.execute(first).one()
    return {"category_code": category, "lon": str(lon), "lat": str(lat),
            "description": "井盖缺失"}


def _cases(w: World) -> int:
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        return int(s.scalar(select(func.count()).select_from(Case)) or 0)


def test_citizen_reports_over_the_limit_get_429_and_store_nothing(
    case_map_world: World, limited_client: TestClient
) -> None:
    w = case_map_world
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        public = s.scalar(select(Category.code).where(Category.kind == "event").limit(1))
    assert public is not None
    r = limited_client.post("/api/v1/citizen/reports", data=_report(w, public))
    assert r.status_code == 201
    # a refused report (bad category) uses a token too: a flood of junk is still a flood
    r = limited_client.post("/api/v1/citizen/reports", data=_report(w, "NOPE"))
    assert r.status_code == 422
    before = _cases(w)
    r = limited_client.post("/api/v1/citizen/reports", data=_report(w, public))
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("application/problem+json")
    wait = int(r.headers["Retry-After"])
    assert 3500 < wait <= 3600  # one report an hour, the bucket empty
    body = r.json()
    assert body["status"] == 429 and body["retry_after"] == wait and "try again" in body["detail"]
    assert _cases(w) == before, "a refused report stores nothing"
    # another address is not affected; following a case is not limited
    with TestClient(limited_client.app, client=("203.0.113.8", 5000)) as other:
        r = other.post("/api/v1/citizen/reports", data=_report(w, public))
        assert r.status_code == 201
        number = r.json()["number"]
    assert limited_client.get(f"/api/v1/citizen/reports/{number}").status_code == 200


def test_zero_per_hour_means_no_limit(
    case_map_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YITU_CITIZEN_REPORT_BURST", "1")
    monkeypatch.setenv("YITU_CITIZEN_REPORT_PER_HOUR", "0")
    web_settings.cache_clear()
    try:
        with TestClient(create_app(case_map_world.platform)) as c:
            for _ in range(3):
                r = c.post("/api/v1/citizen/reports", data=_report(case_map_world, "NOPE"))
                assert r.status_code == 422
    finally:
        web_settings.cache_clear()
