"""The demo county generator at `small` scale, on SQLite and PostgreSQL (YITU_TEST_DATABASE_URL):
counts, identities, codes, geometry, households, age structure, determinism, bad input."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date

import numpy as np
import pytest
import shapely
from foundation.conftest import (  # noqa: F401 - fixtures used by this module
    DatabaseFactory,
    databases,
    no_personal_data_in_logs,
)
from shapely.geometry import shape
from sqlalchemy import text

from yitu.core.db import Database
from yitu.core.errors import InvalidInputError
from yitu.demo.foreign import NATIONALITIES
from yitu.demo.generate import TABLE_ORDER, TODAY, generate
from yitu.demo.load import load
from yitu.grid import decode3d, vector
from yitu.people.idnumber import parse_id_number
from yitu.registry.codes import validate_credit_code

SEED = 7


@pytest.fixture(scope="module")
def loaded(databases: DatabaseFactory) -> Database:  # noqa: F811
    db = Database(databases.fresh())
    load(db, generate("small", SEED))
    yield db
    db.dispose()


def q(db: Database, sql: str) -> list:
    with db.engine.connect() as conn:
        return list(conn.execute(text(sql)))


def test_counts_in_expected_ranges(loaded: Database) -> None:
    check_counts(loaded, 1)


def check_counts(db: Database, factor: int) -> None:
    """Row counts of a county at ``factor`` × the small scale (1 small, 10 town)."""
    counts = {t: q(db, f"SELECT count(*) FROM {t}")[0][0] for t in TABLE_ORDER}
    assert 1_500 * factor <= counts["buildings"] <= 4_000 * factor
    assert 2_000 * factor <= counts["houses"] <= 6_000 * factor
    assert 3_000 * factor <= counts["people"] <= 8_000 * factor
    assert counts["people"] <= counts["person_houses"] <= 2 * counts["people"]
    assert counts["addresses"] == counts["buildings"] + counts["houses"]
    assert 100 * factor**0.5 <= counts["organisations"] <= 600 * factor
    assert counts["roads"] > 100
    assert counts["map_features"] == 1
    levels = dict(q(db, "SELECT level, count(*) FROM jurisdiction_nodes GROUP BY level"))
    assert levels["town"] == 13 and levels["village"] == 259 and levels["grid"] >= 259
    # every town, village and grid has a boundary
    assert q(db, "SELECT count(*) FROM node_boundaries")[0][0] == 13 + 259 + levels["grid"]
    # every village has at least one grid, grid codes extend their village's code
    bad = q(
        db,
        """SELECT g.code, v.code FROM jurisdiction_nodes g
                       JOIN jurisdiction_nodes v ON v.id = g.parent_id WHERE g.level = 'grid'""",
    )
    assert all(g[:12] == v and len(g) == 15 for g, v in bad)


def test_id_numbers_valid_and_match_birth_and_gender(loaded: Database) -> None:
    check_identities(loaded)


PASSPORT = re.compile(r"^[A-Z0-9]{7,10}$")
NUMERIC = {n.numeric for n in NATIONALITIES.values()}


def _date(v: date | str) -> date:
    return v if isinstance(v, date) else date.fromisoformat(v)


def check_identities(db: Database) -> None:
    """Citizens: GB 11643 numbers matching birth date and sex, county code iff 户籍. Foreign
    residents: a 2023-edition permanent residence number (9 + 42 + GB/T 2659 nationality +
    birth date + order + MOD 11-2 check: parsed by the same rule, matching birth date and sex)
    or a passport number (letters and digits, never 18 characters)."""
    rows = q(db, "SELECT id_number, birth_date, gender, registration_type FROM people")
    seen = set()
    for number, birth, gender, reg in rows:
        seen.add(number)
        if reg == "foreign" and not number.startswith("9"):
            assert PASSPORT.match(number)
            assert not number.isdigit() or len(number) == 9
            continue
        normalised, born, sex = parse_id_number(number)
        assert normalised == number and born == _date(birth) and sex == gender
        assert (number[:6] == "420682") == (reg == "hukou")
        assert number.startswith("9") == (reg == "foreign")
        if reg == "foreign":
            assert number[1:3] == "42" and int(number[3:6]) in NUMERIC
    assert len(seen) == len(rows)


def test_phones_plausible_and_unique(loaded: Database) -> None:
    check_phones(loaded)


def check_phones(db: Database) -> None:
    phones = [p for (p,) in q(db, "SELECT phone FROM people WHERE phone <> ''")]
    assert phones and len(set(phones)) == len(phones)
    assert all(len(p) == 11 and p[0] == "1" and p[1] in "3456789" and p.isdigit() for p in phones)


def test_credit_codes_valid_and_unique(loaded: Database) -> None:
    codes = [c for (c,) in q(loaded, "SELECT credit_code FROM organisations")]
    assert len(set(codes)) == len(codes)
    for c in codes:
        assert validate_credit_code(c) == c
    kinds = {k for (k,) in q(loaded, "SELECT DISTINCT kind FROM organisations")}
    assert {"enterprise", "individual_business", "government", "public_institution"} <= kinds


def test_buildings_inside_their_grid_and_codes_exact(loaded: Database) -> None:
    check_buildings(loaded)


def check_buildings(db: Database) -> None:
    polys = {
        nid: shape(json.loads(g))
        for nid, g in q(db, "SELECT node_id, geometry FROM node_boundaries")
    }
    rows = q(db, "SELECT node_id, lon, lat, code, footprint FROM buildings")
    grids = {nid for (nid,) in q(db, "SELECT id FROM jurisdiction_nodes WHERE level='grid'")}
    node = np.array([r[0] for r in rows])
    lon, lat = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    assert set(node.tolist()) <= grids
    for nid in set(node.tolist()):
        m = node == nid
        assert shapely.contains_xy(polys[nid], lon[m], lat[m]).all()
    assert (vector.encode_int(lon, lat, 10) == np.array([r[3] for r in rows])).all()
    # the point lies in its own footprint, and footprints never overlap
    feet = [shape(json.loads(r[4])) for r in rows]
    assert shapely.contains_xy(np.array(feet, dtype=object), lon, lat).all()
    tree = shapely.STRtree(feet)
    a, b = tree.query(feet, predicate="intersects")
    assert (a == b).all()


def test_rooms_codes_heights_and_floors(loaded: Database) -> None:
    check_rooms(loaded)


def check_rooms(db: Database) -> None:
    rows = q(
        db,
        """SELECT h.lon, h.lat, h.height_m, h.code, h.code3d, h.layer, h.floor,
                               b.floors, b.ground_m, h.node_id, b.node_id
                        FROM houses h JOIN buildings b ON b.id = h.building_id""",
    )
    lon = np.array([r[0] for r in rows])
    lat = np.array([r[1] for r in rows])
    height = np.array([r[2] for r in rows])
    assert (vector.encode_int(lon, lat, 10) == np.array([r[3] for r in rows])).all()
    assert (vector.layer_indices(height) == np.array([r[5] for r in rows])).all()
    codes3d = vector.encode3d_str(lon, lat, height, 10).astype("U32")
    assert (codes3d == np.array([r[4] for r in rows])).all()
    for _lo, _la, h, _c, c3, _l, floor, floors, ground, hn, bn in rows[::37]:
        cell = decode3d(c3)
        assert cell.bottom <= h < cell.top
        assert 1 <= floor <= floors
        assert h >= ground and hn == bn
    # addresses and person-house records carry their room's codes
    assert (
        q(
            db,
            """SELECT count(*) FROM addresses a JOIN houses h ON h.id = a.house_id
                        WHERE a.code <> h.code OR a.code3d <> h.code3d""",
        )[0][0]
        == 0
    )
    assert (
        q(
            db,
            """SELECT count(*) FROM person_houses p JOIN houses h ON h.id = p.house_id
                        WHERE p.code <> h.code OR p.code3d <> h.code3d
                           OR p.node_id <> h.node_id""",
        )[0][0]
        == 0
    )
    assert (
        q(
            db,
            """SELECT count(*) FROM addresses a JOIN buildings b ON b.id = a.building_id
                        WHERE a.house_id IS NULL AND (a.code <> b.code OR a.code3d <> b.code3d)
                     """,
        )[0][0]
        == 0
    )


def test_households_and_care_tags(loaded: Database) -> None:
    check_households(loaded)


def check_households(db: Database) -> None:
    """Current relations: one home each, one 户主 (or main tenant) per occupied room, no one
    in a vacant room, 独居老人 alone; the age pyramid."""
    rels = q(
        db,
        """SELECT house_id, person_id, relation FROM person_houses
            WHERE relation IN ('householder', 'family_member', 'tenant', 'lodger')
              AND valid_to IS NULL""",
    )
    heads: Counter[int] = Counter()
    residents: dict[int, set[int]] = defaultdict(set)
    per_person: Counter[int] = Counter()
    for house, person, relation in rels:
        residents[house].add(person)
        per_person[person] += 1
        if relation in ("householder", "tenant"):
            heads[house] += 1
    assert all(heads[h] == 1 for h in residents)  # exactly one 户主 (or main tenant) per home
    people = q(db, "SELECT id, care_tags, birth_date FROM people")
    assert all(per_person[pid] == 1 for pid, _t, _b in people)  # one current home each
    uses = dict(q(db, "SELECT id, use FROM houses"))
    assert all(uses[h] != "vacant" for h in residents)
    home = {p: h for h, ps in residents.items() for p in ps}
    alone = [pid for pid, tags, _b in people if "elderly_alone" in tags.split(",")]
    assert alone
    for pid in alone:
        assert len(residents[home[pid]]) == 1
    ages = np.array([(TODAY - _date(b)).days / 365.2425 for _p, _t, b in people])
    assert 0.12 <= (ages >= 60).mean() <= 0.18
    assert (ages < 15).mean() > 0.1


def _digest(db: Database) -> str:
    h = hashlib.sha256()
    for table in ("jurisdiction_nodes", "node_boundaries", *TABLE_ORDER):  # incl. map_features
        for row in q(db, f"SELECT * FROM {table} ORDER BY 1"):
            h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def test_same_seed_same_rows(databases: DatabaseFactory, tmp_path) -> None:  # noqa: F811
    digests = []
    for _ in range(2):
        db = Database(databases.fresh())
        load(db, generate("small", 3))
        digests.append(_digest(db))
        db.dispose()
    assert digests[0] == digests[1]
    other = Database(databases.fresh())
    load(other, generate("small", 4))
    assert _digest(other) != digests[0]
    other.dispose()


def test_refuses_second_county_unless_replace(loaded: Database) -> None:
    before = q(loaded, "SELECT count(*) FROM people")[0][0]
    with pytest.raises(InvalidInputError, match="--replace"):
        load(loaded, generate("small", SEED + 1))
    assert q(loaded, "SELECT count(*) FROM people")[0][0] == before


def test_replace_swaps_the_county(databases: DatabaseFactory) -> None:  # noqa: F811
    db = Database(databases.fresh())
    load(db, generate("small", 11))
    second = generate("small", 12)
    load(db, second, replace=True)
    assert q(db, "SELECT count(*) FROM people")[0][0] == second.count("people")
    assert q(db, "SELECT count(*) FROM buildings")[0][0] == second.count("buildings")
    db.dispose()


@pytest.mark.parametrize(
    ("scale", "seed", "message"),
    [
        ("huge", 1, "unknown scale"),
        ("small", -1, "non-negative"),
    ],
)
def test_bad_arguments(scale: str, seed: int, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        generate(scale, seed)
