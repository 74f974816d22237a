"""Demo county people beyond households (寄住, 境外), relation history, and 人户分离 derived
from it — at `small` scale, on SQLite and PostgreSQL. The ``check_*`` functions are reused by
the `town` test."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import date

import pytest
from foundation.conftest import (  # noqa: F401 - fixtures used by this module
    DatabaseFactory,
    databases,
    no_personal_data_in_logs,
)

from registry.test_demo import _date, q
from yitu.core.db import Database
from yitu.demo.foreign import NATIONALITIES
from yitu.demo.generate import TODAY, generate
from yitu.demo.load import load
from yitu.registry.models import RESIDENT_RELATIONS, HouseRelation, PersonHouse
from yitu.registry.services import separation

SEED = 5
RESIDENT = {r.value for r in RESIDENT_RELATIONS}
COUNTRIES = {n.name for n in NATIONALITIES.values()}


@pytest.fixture(scope="module")
def loaded(databases: DatabaseFactory) -> Database:  # noqa: F811
    db = Database(databases.fresh())
    load(db, generate("small", SEED))
    yield db
    db.dispose()


def _relations(db: Database) -> dict[int, list[tuple]]:
    rows = q(
        db,
        "SELECT person_id, house_id, relation, valid_from, valid_to FROM person_houses ORDER BY id",
    )
    out: dict[int, list[tuple]] = defaultdict(list)
    for pid, house, rel, start, end in rows:
        out[pid].append((house, rel, _date(start), None if end is None else _date(end)))
    return out


def check_lodgers_and_foreigners(db: Database) -> None:
    people = q(db, "SELECT id, registration_type, hukou_place, ethnicity, name, gender FROM people")
    rels = _relations(db)
    kinds = Counter(r[1] for r in people)
    n = len(people)
    assert 0.005 <= kinds["lodging"] / n <= 0.03
    assert kinds["foreign"] >= 6 and kinds["foreign"] / n <= 0.002
    assert set(kinds) == {"hukou", "floating", "lodging", "foreign"}
    current_by_house: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for pid, links in rels.items():
        for house, rel, _s, end in links:
            if end is None and rel in RESIDENT:
                current_by_house[house].append((pid, rel))
    uses = dict(q(db, "SELECT id, use FROM houses"))
    relation_kinds = Counter()
    for pid, reg, place, ethnicity, name, _g in people:
        now = [(h, rel) for h, rel, _s, end in rels[pid] if end is None]
        assert all(rel != "registered" for _h, rel in now) or reg == "hukou"
        if reg == "lodging":
            ((house, rel),) = [x for x in now if x[1] in RESIDENT]
            assert rel == "lodger"
            host = [p for p, r in current_by_house[house] if r in ("householder", "tenant")]
            assert len(host) == 1 and host[0] != pid
            assert place and not place.startswith("湖北省老河口市")
        elif reg == "foreign":
            ((house, rel),) = [x for x in now if x[1] in RESIDENT]
            relation_kinds[rel] += 1
            assert place in COUNTRIES and ethnicity == "" and name.isascii()
            if rel == "tenant":  # a professional renting alone
                assert current_by_house[house] == [(pid, "tenant")]
                assert uses[house] == "rented"
            else:  # a marriage migrant in her husband's household
                assert rel == "family_member"
                members = dict(current_by_house[house])
                assert "householder" in members.values() and len(members) >= 2
        else:
            assert all(rel != "lodger" for _h, rel in now)
    assert relation_kinds["tenant"] >= 1 and relation_kinds["family_member"] >= 1


def check_history(db: Database) -> None:
    """Ended relations are well formed, never overlap a person's other homes in time, and are
    either former tenancies of rooms vacant today or a grown-up child's parental home."""
    rels = _relations(db)
    uses = dict(q(db, "SELECT id, use FROM houses"))
    owned = {h for (h,) in q(db, "SELECT house_id FROM person_houses WHERE relation='owner'")}
    names = dict(q(db, "SELECT id, name FROM people"))
    births = {pid: _date(b) for pid, b in q(db, "SELECT id, birth_date FROM people")}
    heads = {
        h: pid
        for pid, h in q(
            db,
            """SELECT person_id, house_id FROM person_houses
                WHERE relation IN ('householder', 'tenant') AND valid_to IS NULL""",
        )
    }
    ended = 0
    total = sum(len(v) for v in rels.values())
    kinds = Counter()
    for pid, links in rels.items():
        homes = sorted((s, e or date.max) for _h, rel, s, e in links if rel in RESIDENT)
        for (_s1, e1), (s2, _e2) in itertools.pairwise(homes):
            assert e1 <= s2  # one home at a time
        for house, rel, start, end in links:
            assert start >= births[pid] or rel == "owner"
            if end is None:
                continue
            ended += 1
            assert start < end <= TODAY
            if uses[house] == "vacant":  # a former tenancy (the room has an owner)
                assert rel in ("tenant", "family_member") and house in owned
                kinds["former tenancy"] += 1
            else:  # moved out of the parents' home: same surname as today's 户主 there
                assert rel == "family_member"
                assert names[heads[house]][0] == names[pid][0]
                kinds["moved out"] += 1
    assert ended >= 0.03 * total
    assert kinds["former tenancy"] and kinds["moved out"]


def check_separation(db: Database) -> None:
    """人户分离 derived by the registry service is the same with and without the ended rows;
    lodgers are 人在户不在, foreigners never flagged, a 户籍 person registered in another room
    is both 户在人不在 and 人在户不在."""
    rels = _relations(db)
    regs = dict(q(db, "SELECT id, registration_type FROM people"))
    flagged = Counter()
    for pid, links in rels.items():
        objs = [
            PersonHouse(house_id=h, relation=r, valid_from=s, valid_to=e) for h, r, s, e in links
        ]
        every = separation([(o, None, "") for o in objs], TODAY, regs[pid])  # type: ignore[misc]
        now = separation(
            [(o, None, "") for o in objs if o.valid_to is None],  # type: ignore[misc]
            TODAY,
            regs[pid],
        )
        assert every == now
        registered = {h for h, r, _s, e in links if r == HouseRelation.REGISTERED and e is None}
        lives = {h for h, r, _s, e in links if r in RESIDENT and e is None}
        if regs[pid] == "lodging":
            assert every == ["人在户不在"]
        elif regs[pid] == "foreign":
            assert every == []
        elif registered and registered != lives:
            assert every == ["户在人不在", "人在户不在"]
        flagged[tuple(every)] += 1
    assert flagged[("户在人不在", "人在户不在")] > 0 and flagged[()] > 0


def test_lodgers_and_foreign_residents(loaded: Database) -> None:
    check_lodgers_and_foreigners(loaded)


def test_relation_history(loaded: Database) -> None:
    check_history(loaded)


def test_separation_derived_from_current_relations(loaded: Database) -> None:
    check_separation(loaded)
