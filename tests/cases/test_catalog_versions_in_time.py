"""A category version is chosen by the instant asked about, whatever offset that instant is
written with (a county's clerks think in +08:00; the database stores UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from foundation.world import START

from yitu.cases import catalog

CST = timezone(timedelta(hours=8))


def test_the_version_in_force_at_a_local_time(fresh_cases) -> None:  # type: ignore[no-untyped-def]
    revised_at = START.astimezone(UTC) + timedelta(days=10)
    with fresh_cases.session() as s:
        first = catalog.list_categories(s)[0]
        catalog.revise_category(s, first.code, {"name_en": "renamed"}, at=revised_at, user_id=None)
        code = first.code
    before = (revised_at - timedelta(minutes=1)).astimezone(CST)
    after = (revised_at + timedelta(minutes=1)).astimezone(CST)
    with fresh_cases.session() as s:
        assert catalog.current_category(s, code, at=before).version == 1
        assert catalog.current_category(s, code, at=after).version == 2
        versions_before = {c.code: c.version for c in catalog.list_categories(s, at=before)}
        versions_after = {c.code: c.version for c in catalog.list_categories(s, at=after)}
        stored = catalog.category_versions(s, code)
    assert versions_before[code] == 1
    assert versions_after[code] == 2
    # Read back in UTC, the same instant as written.
    assert stored[0].valid_to == revised_at
    assert stored[1].valid_from.utcoffset() == timedelta(0)
    assert isinstance(stored[1].valid_from, datetime)
